"""Commands that act on one campaign, named by its slug."""

from core.errors import NotFound
from core.management import CurationCommand

from ..models import Campaign


class CampaignCommand(CurationCommand):
    def campaign(self, slug: str) -> Campaign:
        campaign = Campaign.objects.filter(slug=slug).first()
        if campaign is None:
            raise NotFound(f"No campaign {slug!r}. Create it with create_campaign.")
        return campaign
