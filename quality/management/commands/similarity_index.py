from typing import Any

from tqdm import tqdm

from annotation.management.base import CampaignCommand
from annotation.models import Campaign
from quality.services import similarity_index_build


class Command(CampaignCommand):
    help = (
        "Build or bring up to date the near-duplicate index of campaigns (MinHash signatures "
        "and LSH bands of their current rewrites): rewrites submitted before it existed are "
        "signed, bands of another duplicate threshold are recomputed. Safe to rerun and to run "
        "while annotators submit (each submit's check indexes its own rewrite). Without SLUG: "
        "every campaign."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slugs", nargs="*", metavar="SLUG")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["slugs"]:
            campaigns = [self.campaign(slug) for slug in opts["slugs"]]
        else:
            campaigns = list(Campaign.objects.order_by("slug"))
        for campaign in campaigns:
            bar = {"unit": "rewrite", "disable": opts["no_progress"], "file": self.stderr._out}
            with tqdm(desc=f"index {campaign.slug}", **bar) as progress:
                indexed = similarity_index_build(campaign=campaign, progress=progress.update)
            self.stdout.write(
                self.style.SUCCESS(f"{campaign.slug}: {indexed} rewrite(s) (re)indexed.")
            )
