from pathlib import Path
from typing import Any

from annotation.management.base import CampaignCommand
from exports.services import STRATIFY, ReleaseParameters, release_build


class Command(CampaignCommand):
    help = (
        "Write a release of the campaign's accepted, uncontaminated rewrites: benchmark.jsonl, "
        "questions.jsonl, stats.json, README.md (dataset card), figures/ and manifest.json."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument("--out", type=Path, required=True, help="Output folder")
        parser.add_argument("--name", default="dev", help="Release name, e.g. v1.0")
        parser.add_argument("--size", type=int, default=None, help="Stratified subset size")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--stratify", choices=STRATIFY, default="subcategory")
        parser.add_argument("--allow-smaller", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        result = release_build(
            campaign=self.campaign(opts["slug"]),
            out_dir=opts["out"],
            parameters=ReleaseParameters(
                name=opts["name"],
                size=opts["size"],
                seed=opts["seed"],
                stratify=opts["stratify"],
                allow_smaller=opts["allow_smaller"],
            ),
            progress=lambda pct, msg: self.stderr.write(f"[{pct:3d}%] {msg}"),
        )
        for name, meta in result.files.items():
            self.stdout.write(f"  {result.out_dir / name}  {meta['bytes']} bytes  {meta['sha256']}")
        funnel = result.stats["funnel"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Exported {result.total} samples ({funnel['accepted']} accepted, "
                f"{funnel['contaminated']} contaminated, "
                f"{result.stats['parameters']['eligible']} eligible) to {result.out_dir}."
            )
        )
