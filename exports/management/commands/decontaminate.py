from typing import Any

from tqdm import tqdm

from annotation.management.base import CurationCommand
from annotation.models import Rewrite
from exports.models import ReferenceSet
from exports.services import campaign_similarity_check, rewrites_decontaminate
from exports.services.quality import CHECKED, CURRENT


class Command(CurationCommand):
    help = (
        "Check every submitted rewrite of a campaign against all loaded reference sets (word "
        "n-gram overlap), and recompute copied-seed and near-duplicate flags."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--ngram", type=int, default=None, help="n-gram size (default: the campaign's, 10)"
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        campaign = self.campaign(opts["slug"])
        if opts["ngram"] is not None and opts["ngram"] < 3:
            self.stderr.write("--ngram below 3 would flag common phrases; use 3 or more.")
            raise SystemExit(2)
        sets = list(ReferenceSet.objects.all())
        if not sets:
            self.stderr.write(
                self.style.WARNING("No reference sets are loaded (see load_references).")
            )
        total = Rewrite.objects.filter(campaign=campaign, status__in=CHECKED).count()
        with tqdm(
            total=total,
            unit="rewrite",
            desc="decontaminate",
            disable=opts["no_progress"],
            file=self.stderr._out,
        ) as bar:
            result = rewrites_decontaminate(
                campaign=campaign, n=opts["ngram"], reference_sets=sets, progress=bar.update
            )
        current = Rewrite.objects.filter(campaign=campaign, status__in=CURRENT).count()
        with tqdm(
            total=current,
            unit="rewrite",
            desc="similarity",
            disable=opts["no_progress"],
            file=self.stderr._out,
        ) as bar:
            similarity = campaign_similarity_check(campaign=campaign, progress=bar.update)
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.checked} rewrites checked against {len(sets)} reference set(s) "
                f"({', '.join(result.reference_sets) or 'none'}) with {result.n}-grams: "
                f"{result.contaminated} contaminated ({result.hits} hits). "
                f"{similarity.copied_seed} copy their seed; "
                f"{similarity.near_duplicate_pairs} near-duplicate pair(s)."
            )
        )
