import sys
from typing import Any

from django.core.management.base import CommandError

from annotation.management.base import CampaignCommand
from annotation.models import Role
from annotation.services import user_ensure
from review.selectors import pending_ballots
from review.services import membership_add


class Command(CampaignCommand):
    help = (
        "Add a user (created if new) to a campaign with a role. A new reviewer immediately "
        "fills review panels that were waiting for reviewers."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from the first line of standard input.",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        campaign = self.campaign(opts["slug"])
        password = None
        if opts["password_stdin"]:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("--password-stdin was given but standard input had no password.")
        user = user_ensure(username=opts["username"], email=opts["email"], password=password)
        before = pending_ballots(user=user, campaign=campaign)
        membership_add(campaign=campaign, user=user, role=opts["role"])
        opened = pending_ballots(user=user, campaign=campaign) - before
        roles = sorted(user.memberships.filter(campaign=campaign).values_list("role", flat=True))
        msg = f"{user.get_username()} is now {', '.join(roles)} in {campaign.slug!r}."
        if opened:
            msg += f" Opened {opened} ballot(s) for rewrites that were waiting for reviewers."
        self.stdout.write(self.style.SUCCESS(msg))
