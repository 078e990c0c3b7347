"""A campaign's guidelines: every save is a new numbered version (author, time), and each member's
newest read version tells whether the guidelines changed since they last read them."""

from typing import Any

from django.db import transaction
from django.db.models import Max

from core import access
from core.errors import ValidationFailed
from core.transitions import EventKind, event_record

from ..models import Campaign, GuidelinesRead, GuidelinesVersion, Role

GUIDELINES_MAX_CHARS = 100_000  # what the preview API renders


def _normalize(text: str) -> str:
    """Browsers send textareas with CRLF line ends: store LF only, so the same text saved from
    a browser and from the API is the same text."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _newest_number(campaign: Campaign) -> int:
    number = GuidelinesVersion.objects.filter(campaign=campaign).aggregate(n=Max("number"))["n"]
    return int(number or 0)


@transaction.atomic
def guidelines_save(*, campaign: Campaign, actor: Any, text: str) -> GuidelinesVersion | None:
    """Save ``text`` as the campaign's guidelines (curators only): a new version numbered after
    the newest, ``Campaign.guidelines`` updated, a GUIDELINES_SAVED event, and the author's own
    read marker moved to it. Saving the current text again is a no-op. Guidelines a campaign
    had before versions existed are kept as version 1 first, so the diff shows the change.
    Locks the campaign row (two saves at once number their versions one after the other).

    Returns the new version, or None when nothing changed. Raises NotFound / NotAllowed (not a
    curator), ValidationFailed (too long)."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    text = _normalize(text)
    if len(text) > GUIDELINES_MAX_CHARS:
        raise ValidationFailed(
            "The guidelines are too long.",
            details={"errors": {"text": [f"at most {GUIDELINES_MAX_CHARS:,} characters"]}},
        )
    locked = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
    if text == locked.guidelines:
        return None
    newest = _newest_number(locked)
    if newest == 0 and locked.guidelines:
        GuidelinesVersion.objects.create(campaign=locked, number=1, text=locked.guidelines)
        newest = 1
    version = GuidelinesVersion.objects.create(
        campaign=locked, number=newest + 1, text=text, author=actor
    )
    previous = locked.guidelines
    locked.guidelines = text
    locked.save(update_fields=["guidelines"])
    campaign.guidelines = text
    event_record(
        campaign=locked,
        actor=actor,
        kind=EventKind.GUIDELINES_SAVED,
        obj=version,
        from_state=str(newest) if newest else "",
        to_state=str(version.number),
        data={"version": version.number, "chars": len(text), "previous_chars": len(previous)},
    )
    _mark_read(campaign=locked, user=actor, number=version.number)
    return version


def _mark_read(*, campaign: Campaign, user: Any, number: int) -> GuidelinesRead:
    read, created = GuidelinesRead.objects.select_for_update(no_key=True).get_or_create(
        campaign=campaign, user=user, defaults={"version": number}
    )
    if not created and read.version < number:
        read.version = number
        read.save(update_fields=["version", "read_at"])
    return read


@transaction.atomic
def guidelines_mark_read(*, campaign: Campaign, actor: Any) -> GuidelinesRead:
    """Record that ``actor`` (any member) has read the newest guidelines version (an upsert of
    their read marker; it never moves back). Not an audit event: reading changes nothing of the
    campaign; the marker's ``read_at`` keeps the time.

    Raises NotFound for a non-member."""
    access.require(actor, campaign, missing="No such campaign.")
    return _mark_read(campaign=campaign, user=actor, number=_newest_number(campaign))
