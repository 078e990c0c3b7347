"""Reads of the curator workspace's references page: the campaign a curator (or an operator)
manages, the loaded reference sets with what they flag in that campaign, and the sets a
deployment offers in ``settings.REFERENCES_DIR``."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.validators import slug_re
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from annotation.models import Campaign, Rewrite, Role
from core import access
from core.access import is_operator
from core.errors import NotFound

from .models import ContaminationHit, ReferenceSet
from .selectors import applicable_reference_sets

REFERENCE_SUFFIXES = (".jsonl", ".jsonl.gz")


def reference_set_may_reload(user: Any, reference_set: ReferenceSet) -> bool:
    """Whether ``user`` may reload (replace) or delete ``reference_set``: operators always,
    curators of the campaign it was loaded for; a set an operator or a command loaded
    (``loaded_for`` empty) only operators."""
    if is_operator(user):
        return True
    owner = reference_set.loaded_for_id
    if owner is None:
        return False
    return Role.CURATOR in access.roles_by_campaign(user).get(owner, frozenset())


def _hits_of_set(campaign: Campaign, *, accepted: bool) -> Subquery:
    hits = ContaminationHit.objects.filter(
        campaign=campaign, document__reference_set=OuterRef("pk")
    )
    if accepted:
        hits = hits.filter(rewrite__status=Rewrite.Status.ACCEPTED)
    return Subquery(
        hits.order_by()
        .values("document__reference_set")
        .annotate(rewrites=Count("rewrite", distinct=True))
        .values("rewrites"),
        output_field=IntegerField(),
    )


def reference_sets_for_campaign(*, campaign: Campaign) -> QuerySet[ReferenceSet]:
    """The reference sets this campaign is checked against (``applicable_reference_sets``: the
    operators' sets and the campaign's own; another campaign's are never shown), by name, with
    who loaded each and for which campaign, annotated with ``contaminated`` (this campaign's
    rewrites, any revision, that share an n-gram with it) and ``contaminated_accepted`` (of
    those, the accepted ones). One query, whatever the number of sets."""
    return (
        ReferenceSet.objects.select_related("loaded_by", "loaded_for")
        .filter(applicable_reference_sets(campaign))
        .annotate(
            contaminated=Coalesce(_hits_of_set(campaign, accepted=False), Value(0)),
            contaminated_accepted=Coalesce(_hits_of_set(campaign, accepted=True), Value(0)),
        )
        .order_by("name")
    )


def reference_set_for_campaign(*, campaign: Campaign, name: str) -> ReferenceSet:
    """One set as ``reference_sets_for_campaign`` reads it. NotFound if there is none."""
    found = reference_sets_for_campaign(campaign=campaign).filter(name=name).first()
    if found is None:
        raise NotFound(f"No reference set named {name!r}.")
    return found


@dataclass
class AvailableFile:
    name: str
    bytes: int


@dataclass
class AvailableReferenceSet:
    """A folder of ``settings.REFERENCES_DIR``: a set that can be enabled under its name."""

    name: str
    path: Path
    files: list[AvailableFile] = field(default_factory=list)
    loaded: ReferenceSet | None = None

    @property
    def paths(self) -> list[Path]:
        return [self.path / f.name for f in self.files]


def references_dir() -> Path | None:
    """The configured folder of reference sets, or None when none is configured or it is
    missing."""
    configured = str(getattr(settings, "REFERENCES_DIR", "") or "")
    if not configured:
        return None
    root = Path(configured)
    return root if root.is_dir() else None


def _available(root: Path, folder: Path) -> AvailableReferenceSet | None:
    if not folder.is_dir() or folder.name.startswith(".") or not slug_re.match(folder.name):
        return None
    files = [
        AvailableFile(name=p.name, bytes=p.stat().st_size)
        for p in sorted(folder.iterdir(), key=lambda p: p.name)
        if p.is_file() and p.name.endswith(REFERENCE_SUFFIXES)
    ]
    if not files:
        return None
    return AvailableReferenceSet(name=folder.name, path=folder, files=files)


def references_available() -> list[AvailableReferenceSet]:
    """The sets ``settings.REFERENCES_DIR`` offers (one sub-folder per set, named as a slug,
    holding jsonl / jsonl.gz files), by name, each with the loaded set of that name if there
    is one. Reads the folder and one query."""
    root = references_dir()
    if root is None:
        return []
    found = [a for a in (_available(root, p) for p in sorted(root.iterdir())) if a is not None]
    loaded = {s.name: s for s in ReferenceSet.objects.filter(name__in=[a.name for a in found])}
    for available in found:
        available.loaded = loaded.get(available.name)
    return found


def reference_available(*, name: str) -> AvailableReferenceSet:
    """The set ``name`` of ``settings.REFERENCES_DIR``. NotFound when no folder is configured
    or it holds no such set (a name is never a path: no separators, no ``..``)."""
    root = references_dir()
    if root is None:
        raise NotFound("This deployment offers no reference sets (REFERENCES_DIR is not set).")
    available = _available(root, root / name) if slug_re.match(name) else None
    if available is None:
        raise NotFound(f"No reference set {name!r} is available in this deployment.")
    available.loaded = ReferenceSet.objects.filter(name=name).first()
    return available
