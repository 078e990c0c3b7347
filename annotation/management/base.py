"""Shared plumbing for the curation commands: domain errors become a clear message and a
non-zero exit, not a traceback."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import DomainError, NotFound
from annotation.models import Campaign


class CurationCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except DomainError as exc:
            lines = [exc.message]
            errors = exc.details.get("errors")
            if isinstance(errors, dict):
                lines += [
                    f"  {field}: {'; '.join(map(str, msgs))}" for field, msgs in errors.items()
                ]
            raise CommandError("\n".join(lines)) from exc

    def campaign(self, slug: str) -> Campaign:
        campaign = Campaign.objects.filter(slug=slug).first()
        if campaign is None:
            raise NotFound(f"No campaign {slug!r}. Create it with create_campaign.")
        return campaign
