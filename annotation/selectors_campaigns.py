"""Reads of the curator workspace's campaign part: settings, guidelines versions and diffs, and
whether a member has unread guidelines. Scoped by ``core.access`` like every selector."""

import difflib
from dataclasses import dataclass
from typing import Any

import tiktoken
from django.db.models import Count, Max, QuerySet

from core import access
from core.errors import NotFound

from .models import Campaign, GuidelinesRead, GuidelinesVersion, Rewrite


def campaign_settings(campaign: Campaign) -> dict[str, Any]:
    """The campaign's settings, taxonomy sizes, newest guidelines version and which settings
    are locked and why (three queries)."""
    counts = Campaign.objects.filter(pk=campaign.pk).aggregate(
        categories=Count("categories", distinct=True),
        subcategories=Count("subcategories", distinct=True),
        programming_languages=Count("programming_languages", distinct=True),
    )
    return {
        "slug": campaign.slug,
        "name": campaign.name,
        "tokenizer": campaign.tokenizer,
        "panel_size": campaign.panel_size,
        "accept_threshold": campaign.accept_threshold,
        "target_release_size": campaign.target_release_size,
        "lease_minutes": campaign.lease_minutes,
        "max_active_assignments": campaign.max_active_assignments,
        "early_decision": campaign.early_decision,
        "curator_may_accept": campaign.curator_may_accept,
        "contamination_ngram": campaign.contamination_ngram,
        "guidelines_version": guidelines_newest_number(campaign),
        "created_at": campaign.created_at,
        **counts,
        "locked": settings_locks(campaign),
    }


def settings_locks(campaign: Campaign) -> list[dict[str, str]]:
    """The settings that cannot change now, each with the reason (one query)."""
    submitted = Rewrite.objects.filter(campaign=campaign).exclude(status=Rewrite.Status.DRAFT)
    if submitted.exists():
        return [
            {
                "field": "tokenizer",
                "reason": "Rewrites have been submitted and their question tokens were counted "
                f"with {campaign.tokenizer}; a release must measure every question the same way.",
            }
        ]
    return []


def tokenizer_names() -> list[str]:
    """The encodings tiktoken knows by name (whether each loads offline is checked on save)."""
    return sorted(tiktoken.list_encoding_names())


def guidelines_newest_number(campaign: Campaign) -> int:
    number = GuidelinesVersion.objects.filter(campaign=campaign).aggregate(n=Max("number"))["n"]
    return int(number or 0)


def guidelines_unread(*, campaign: Campaign, user: Any) -> bool:
    """Whether the campaign's guidelines changed since ``user`` last opened them (a version
    newer than their read marker; never for a campaign without versions)."""
    newest = guidelines_newest_number(campaign)
    if newest == 0:
        return False
    read = (
        GuidelinesRead.objects.filter(campaign=campaign, user_id=user.pk)
        .values_list("version", flat=True)
        .first()
    )
    return (read or 0) < newest


def guidelines_unread_campaign_ids(*, user: Any) -> set[int]:
    """The ids of ``user``'s campaigns whose guidelines changed since they last read them (two
    queries, whatever the number of campaigns)."""
    campaign_ids = list(access.roles_by_campaign(user))
    if not campaign_ids:
        return set()
    newest = dict(
        GuidelinesVersion.objects.filter(campaign_id__in=campaign_ids)
        .values("campaign_id")
        .annotate(n=Max("number"))
        .values_list("campaign_id", "n")
    )
    if not newest:
        return set()
    read = dict(
        GuidelinesRead.objects.filter(user_id=user.pk, campaign_id__in=list(newest)).values_list(
            "campaign_id", "version"
        )
    )
    return {cid for cid, n in newest.items() if read.get(cid, 0) < n}


def guidelines_versions(campaign: Campaign) -> QuerySet[GuidelinesVersion]:
    """The campaign's guidelines versions, newest first, with their authors."""
    return (
        GuidelinesVersion.objects.filter(campaign=campaign)
        .select_related("author")
        .order_by("-number")
    )


@dataclass
class VersionWithDiff:
    version: GuidelinesVersion
    previous: GuidelinesVersion | None
    diff: str  # unified diff from the previous version ("" for the first)
    lines: list[tuple[str, str]]  # (kind: add | del | hunk | head | same, text) for the page
    added: int
    removed: int


def guidelines_version(*, campaign: Campaign, number: int) -> VersionWithDiff:
    """Version ``number`` of the campaign's guidelines with its diff to the version before.
    Raises NotFound when there is no such version."""
    pair = list(guidelines_versions(campaign).filter(number__lte=number)[:2])
    if not pair or pair[0].number != number:
        raise NotFound(f"The guidelines have no version {number}.")
    version = pair[0]
    previous = pair[1] if len(pair) > 1 else None
    diff = list(
        difflib.unified_diff(
            (previous.text if previous else "").splitlines(),
            version.text.splitlines(),
            fromfile=f"version {previous.number}" if previous else "(empty)",
            tofile=f"version {version.number}",
            lineterm="",
        )
    )
    lines: list[tuple[str, str]] = []
    for i, line in enumerate(diff):
        if i < 2:
            kind = "head"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        lines.append((kind, line))
    return VersionWithDiff(
        version=version,
        previous=previous,
        diff="\n".join(diff),
        lines=lines,
        added=sum(1 for kind, _ in lines if kind == "add"),
        removed=sum(1 for kind, _ in lines if kind == "del"),
    )
