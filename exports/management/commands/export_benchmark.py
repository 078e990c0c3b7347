from pathlib import Path
from typing import Any

from annotation.management.base import CampaignCommand
from exports.services import (
    CODEARENA_META,
    MISSING_RESPONSES,
    STRATIFY,
    ReleaseParameters,
    release_build,
)


class Command(CampaignCommand):
    help = (
        "Write a release of the campaign's accepted, uncontaminated rewrites: benchmark.jsonl "
        "(a drop-in CodeArena.jsonl), benchmark.parquet, questions.jsonl, arena-hard-auto/ "
        "(question and model-answer files), stats.json, README.md (dataset card), figures/, "
        "manifest.json and <campaign>-<name>.zip (all of them)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument("--out", type=Path, required=True, help="Output folder")
        parser.add_argument("--name", default="dev", help="Release name, e.g. v1.0")
        parser.add_argument("--size", type=int, default=None, help="Stratified subset size")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--stratify", choices=STRATIFY, default="subcategory")
        parser.add_argument("--allow-smaller", action="store_true")
        parser.add_argument(
            "--missing-responses",
            choices=MISSING_RESPONSES,
            default="refuse",
            help="A model without an answer for some samples: refuse (default; the samples are "
            "named), drop_model (leave the model out) or drop_key (leave its key out of them)",
        )
        parser.add_argument(
            "--baseline-model",
            default="",
            help="The judges' baseline: each sample's `baseline` and arena-hard-auto's settings "
            "entry (must have answered every sample)",
        )
        parser.add_argument(
            "--arena-hard-category",
            default="coding",
            help="The questions' category for arena-hard-auto (its JUDGE_SETTINGS key)",
        )
        parser.add_argument(
            "--codearena-meta",
            choices=CODEARENA_META,
            default="require",
            help="require (default): every sample gets CodeArena's meta.parsed.task_type; "
            "omit: none does (a taxonomy CodeArena's map does not know)",
        )
        parser.add_argument("--license", default="unknown", help="Hugging Face license id")
        parser.add_argument("--license-name", default="", help="With --license other")
        parser.add_argument("--license-link", default="", help="With --license other")

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
                missing_responses=opts["missing_responses"],
                baseline_model=opts["baseline_model"],
                arena_hard_category=opts["arena_hard_category"],
                codearena_meta=opts["codearena_meta"],
                license=opts["license"],
                license_name=opts["license_name"],
                license_link=opts["license_link"],
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
