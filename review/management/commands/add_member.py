import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db.models import Field

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
        username = opts["username"].strip()
        user_model = get_user_model()
        # The same rules as the admin and the sign-up forms: a valid username, and a password
        # that passes AUTH_PASSWORD_VALIDATORS (length, common, numeric, like the username).
        username_field = user_model._meta.get_field(user_model.USERNAME_FIELD)
        assert isinstance(username_field, Field)  # a concrete column, never a relation
        try:
            username_field.run_validators(username)
        except ValidationError as exc:
            raise CommandError(f"Bad username {username!r}: {' '.join(exc.messages)}") from None
        password = None
        if opts["password_stdin"]:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("--password-stdin was given but standard input had no password.")
            try:
                validate_password(password, user=user_model(username=username, email=opts["email"]))
            except ValidationError as exc:
                raise CommandError(f"Password refused: {' '.join(exc.messages)}") from None
        user = user_ensure(username=username, email=opts["email"], password=password)
        before = pending_ballots(user=user, campaign=campaign)
        membership_add(campaign=campaign, user=user, role=opts["role"])
        opened = pending_ballots(user=user, campaign=campaign) - before
        roles = sorted(user.memberships.filter(campaign=campaign).values_list("role", flat=True))
        msg = f"{user.get_username()} is now {', '.join(roles)} in {campaign.slug!r}."
        if opened:
            msg += f" Opened {opened} ballot(s) for rewrites that were waiting for reviewers."
        self.stdout.write(self.style.SUCCESS(msg))
