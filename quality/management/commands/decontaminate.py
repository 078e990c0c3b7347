from typing import Any

from tqdm import tqdm

from annotation.management.base import CampaignCommand
from quality import selectors
from quality.services import campaign_ngram_set, campaign_similarity_check, rewrites_decontaminate


class Command(CampaignCommand):
    help = (
        "Check every submitted rewrite of a campaign against all loaded reference sets (word "
        "n-gram overlap), and recompute copied-seed and near-duplicate flags. --ngram changes "
        "the campaign's n-gram size for this and every later check and release."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--ngram", type=int, default=None, help="n-gram size (default: the campaign's, 10)"
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        campaign = self.campaign(opts["slug"])
        if opts["ngram"] is not None and opts["ngram"] != campaign.contamination_ngram:
            old = campaign.contamination_ngram
            campaign_ngram_set(campaign=campaign, n=opts["ngram"])
            self.stderr.write(f"n-gram size of {campaign.slug}: {old} -> {opts['ngram']}")
        sets = list(selectors.reference_sets())
        if not sets:
            self.stderr.write(
                self.style.WARNING("No reference sets are loaded (see load_references).")
            )
        checked, current = selectors.quality_check_sizes(campaign=campaign)
        bar = {"unit": "rewrite", "disable": opts["no_progress"], "file": self.stderr._out}
        with tqdm(total=checked, desc="decontaminate", **bar) as progress:
            result = rewrites_decontaminate(campaign=campaign, progress=progress.update)
        with tqdm(total=current, desc="similarity", **bar) as progress:
            similarity = campaign_similarity_check(campaign=campaign, progress=progress.update)
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.checked} rewrites checked against {len(sets)} reference set(s) "
                f"({', '.join(result.reference_sets) or 'none'}) with {result.n}-grams: "
                f"{result.contaminated} contaminated ({result.hits} hits). "
                f"{similarity.copied_seed} copy their seed; "
                f"{similarity.near_duplicate_pairs} near-duplicate pair(s)."
            )
        )
