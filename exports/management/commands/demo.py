from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from annotation.models import Campaign, Role
from annotation.services import (
    campaign_create,
    seeds_import,
    seeds_sample,
    user_ensure,
)
from core.management import CurationCommand
from quality.models import ReferenceSet
from quality.services import reference_set_load
from review.services import membership_add

# Public benchmarks the demo checks rewrites against, when the shared data folder is beside the
# repository (they are never copied into it).
SHARED_REFERENCES = Path(settings.BASE_DIR).parent / "shared" / "data" / "references"
DEMO_REFERENCES = {
    "humaneval": ["humaneval/HumanEval.jsonl.gz"],
    "mbpp": ["mbpp/mbpp.jsonl"],
    "naturalcodebench": [
        "naturalcodebench/ncb_python_en.jsonl",
        "naturalcodebench/ncb_java_en.jsonl",
        "naturalcodebench/ncb_python_zh.jsonl",
        "naturalcodebench/ncb_java_zh.jsonl",
    ],
}
DEMO_SEEDS = Path(__file__).resolve().parents[3] / "annotation" / "data" / "demo_seeds.jsonl"
GUIDELINES = """\
# Rewriting guidelines

Turn each seed into a **new, self-contained** question a developer could ask a coding assistant.

1. Keep the intent of the seed, but write the question yourself; do not copy it.
2. Include every piece of code, data or error message the question needs. No "see above".
3. Tag the difficulty, the programming language(s) and the natural language.
4. Confirm the checklist: the question is **clear**, raises **no ethical issue**, and is
   **solvable** from what it contains.
5. If the seed cannot become such a question, reject it with the reason that fits.
"""
PEOPLE = [
    ("curator", Role.CURATOR),
    ("annotator1", Role.ANNOTATOR),
    ("annotator2", Role.ANNOTATOR),
    ("annotator3", Role.ANNOTATOR),
    ("annotator4", Role.ANNOTATOR),
    ("reviewer1", Role.REVIEWER),
    ("reviewer2", Role.REVIEWER),
    ("reviewer3", Role.REVIEWER),
    ("reviewer4", Role.REVIEWER),
]


class Command(CurationCommand):
    help = (
        "Create the demo campaign (CodeArena taxonomy, one curator, four annotators, four "
        "reviewers, the demo seeds sampled and dealt) and print the demo logins. Safe to rerun."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--slug", default="demo")
        parser.add_argument(
            "--references",
            type=Path,
            default=SHARED_REFERENCES,
            help="Folder of public benchmarks to load for decontamination (skipped if absent).",
        )

    @transaction.atomic
    def handle(self, *args: Any, **opts: Any) -> None:
        slug = opts["slug"]
        campaign = Campaign.objects.filter(slug=slug).first()
        fresh = campaign is None
        if campaign is None:
            campaign = campaign_create(
                slug=slug, name="CodeArena demo", guidelines=GUIDELINES, target_release_size=20
            )
        for username, role in PEOPLE:
            user = user_ensure(
                username=username,
                email=f"{username}@demo.invalid",
                password=_demo_password(username),
            )
            membership_add(campaign=campaign, user=user, role=role)
        if fresh:
            with DEMO_SEEDS.open(encoding="utf-8") as fh:
                imported = seeds_import(campaign=campaign, lines=fh)
            sample = seeds_sample(campaign=campaign, size=imported.created, seed=42)
            # The sample stays undealt: annotators pull seeds with claim-next ("next seed").
            self.stdout.write(
                f"Imported {imported.created} demo seeds, sampled {sample.sampled_total}; "
                "annotators claim them with 'next seed' (or deal them with assign_seeds)."
            )
        self._load_references(opts["references"])
        self.stdout.write(self.style.SUCCESS(f"Demo campaign {slug!r} is ready. Demo logins:"))
        for username, role in PEOPLE:
            self.stdout.write(f"  {username:<11} {role:<10} password: {_demo_password(username)}")
        self.stdout.write("These passwords are for the local demo only.")

    def _load_references(self, folder: Path) -> None:
        if not folder.is_dir():
            self.stdout.write(f"No reference folder at {folder}; skipping decontamination sets.")
            return
        for name, files in DEMO_REFERENCES.items():
            paths = [folder / f for f in files]
            if ReferenceSet.objects.filter(name=name).exists() or not all(
                p.is_file() for p in paths
            ):
                continue
            result = reference_set_load(name=name, paths=paths)
            self.stdout.write(
                f"Loaded reference set {name!r}: {result.reference_set.documents_count} documents."
            )


def _demo_password(username: str) -> str:
    return f"demo-{username}"
