from typing import Any

from django.contrib.auth import get_user_model

from annotation.management.base import CampaignCommand
from annotation.models import Role
from core.errors import NotFound
from core.labels import label
from review.services import membership_remove


class Command(CampaignCommand):
    help = (
        "Take a role in a campaign from a user and hand their work on: a reviewer's pending "
        "ballots are closed and the panels refilled from the other reviewers; an annotator's "
        "assignments holding a draft go to the least-loaded other annotator (or to "
        "--reassign-to), untouched ones back to the pool. The last curator cannot be removed."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument(
            "--reassign-to", metavar="USERNAME", help="Annotator who takes over all the work"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        campaign = self.campaign(opts["slug"])
        users = get_user_model().objects
        user = users.filter(username=opts["username"]).first()
        if user is None:
            raise NotFound(f"No user {opts['username']!r}.")
        target = None
        if opts["reassign_to"]:
            target = users.filter(username=opts["reassign_to"]).first()
            if target is None:
                raise NotFound(f"No user {opts['reassign_to']!r}.")
        moved = membership_remove(
            campaign=campaign, user=user, role=opts["role"], reassign_to=target
        )
        done = ", ".join(f"{label(k).lower()}: {v}" for k, v in moved.items() if v)
        role = label(opts["role"], "role").lower()
        self.stdout.write(
            self.style.SUCCESS(
                f"{user.get_username()} is no longer {role} in {campaign.slug!r}."
                + (f" {done}." if done else "")
            )
        )
