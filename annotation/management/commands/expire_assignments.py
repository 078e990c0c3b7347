from typing import Any

from annotation.management.base import CampaignCommand
from annotation.services import assignments_expire


class Command(CampaignCommand):
    help = "Return expired, untouched assignments to the pool (drafts are never released)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug", nargs="?")

    def handle(self, *args: Any, **opts: Any) -> None:
        campaign = self.campaign(opts["slug"]) if opts["slug"] else None
        released = assignments_expire(campaign=campaign)
        self.stdout.write(self.style.SUCCESS(f"Released {released} expired assignment(s)."))
