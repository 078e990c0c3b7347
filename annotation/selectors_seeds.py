"""Reads of the curator's seed workspace (imports, counts, sampling and dealing inputs), scoped
to the actor's memberships: a non-member gets NotFound, a member who is not a curator
NotAllowed (``core.access``)."""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, QuerySet

from core import access

from .models import Campaign, Role, Seed, SeedImport, Subcategory
from .selectors import campaign_for_member


def seed_imports_for_curator(*, user: Any, slug: str) -> tuple[Campaign, QuerySet[SeedImport]]:
    """The campaign's seed imports, newest first (reports left out: lists do not show them)."""
    campaign = campaign_for_member(user=user, slug=slug, role=Role.CURATOR)
    qs = (
        SeedImport.objects.filter(campaign=campaign)
        .select_related("campaign", "created_by")
        .defer("check_report", "report")
        .order_by("-created_at", "-id")
    )
    return campaign, qs


def seed_import_for_curator(*, user: Any, import_id: int) -> SeedImport:
    """One seed import of a campaign where ``user`` is a curator; NotFound if it does not exist
    or belongs to a campaign the user is not a member of, NotAllowed for non-curators."""
    seed_import = (
        SeedImport.objects.select_related("campaign", "created_by").filter(pk=import_id).first()
    )
    return access.require_object(user, seed_import, role=Role.CURATOR, missing="No such import.")


@dataclass
class SubcategoryCounts:
    subcategory: str
    category: str
    by_status: dict[str, int]
    total: int


@dataclass
class SeedCounts:
    total: int
    by_status: dict[str, int]
    unclassified: int
    subcategories: list[SubcategoryCounts]


def seed_counts(*, campaign: Campaign) -> SeedCounts:
    """The campaign's seeds by status, overall and per subcategory (every subcategory of the
    taxonomy, empty ones too); two queries."""
    statuses = [s.value for s in Seed.Status]
    per_sub: dict[int | None, dict[str, int]] = defaultdict(lambda: dict.fromkeys(statuses, 0))
    for sub_id, status, n in (
        Seed.objects.filter(campaign=campaign)
        .values_list("subcategory_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        per_sub[sub_id][status] = n
    by_status = dict.fromkeys(statuses, 0)
    for counts in per_sub.values():
        for status, n in counts.items():
            by_status[status] += n
    rows = [
        SubcategoryCounts(
            subcategory=sub.name,
            category=sub.category.name,
            by_status=per_sub[sub.pk],
            total=sum(per_sub[sub.pk].values()),
        )
        for sub in Subcategory.objects.filter(campaign=campaign)
        .select_related("category")
        .order_by("category__position", "position", "name")
    ]
    return SeedCounts(
        total=sum(by_status.values()),
        by_status=by_status,
        unclassified=sum(per_sub[None].values()) if None in per_sub else 0,
        subcategories=rows,
    )


@dataclass
class SamplingCounts:
    names: dict[int, str] = field(default_factory=dict)  # every subcategory, by id
    available: dict[int, int] = field(default_factory=dict)  # pooled + already sampled
    already: dict[int, int] = field(default_factory=dict)  # sampled, assigned or done
    unclassified: int = 0


def sampling_counts(*, campaign: Campaign) -> SamplingCounts:
    """What the sampling policy needs, counted in the database (two queries, whatever the
    pool's size): per subcategory the seeds it has and the ones already sampled."""
    counts = SamplingCounts(
        names=dict(Subcategory.objects.filter(campaign=campaign).values_list("id", "name"))
    )
    for sub_id, status, n in (
        Seed.objects.filter(campaign=campaign)
        .values_list("subcategory_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        if sub_id is None:
            counts.unclassified += n
            continue
        counts.available[sub_id] = counts.available.get(sub_id, 0) + n
        if status != Seed.Status.POOLED:
            counts.already[sub_id] = counts.already.get(sub_id, 0) + n
    return counts
