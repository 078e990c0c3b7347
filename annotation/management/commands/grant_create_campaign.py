from typing import Any

from annotation.services.campaigns import campaign_creator_grant
from core.management import CurationCommand


class Command(CurationCommand):
    help = (
        "Let a user create campaigns from the browser or the API (the create_campaign "
        "permission); --revoke takes it away. An operator's step."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--revoke", action="store_true", help="Take the permission away.")

    def handle(self, *args: Any, **opts: Any) -> None:
        user = campaign_creator_grant(username=opts["username"], revoke=opts["revoke"])
        if opts["revoke"]:
            self.stdout.write(
                self.style.SUCCESS(f"{user.get_username()!r} can no longer create campaigns.")
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{user.get_username()!r} can now create campaigns (New campaign on the home "
                    "page, or POST /api/v1/campaigns/create/)."
                )
            )
