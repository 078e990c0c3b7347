"""Reads of the data browser's lists: the four kinds of rows of a campaign (seeds, assignments,
rewrites with every revision, released samples), their full-text search, sorting with keyset
(cursor) pagination and capped counts. Every entry point is scoped by ``core.access``: the
curator's role in the campaign (operators hold it everywhere).

Search: seeds and assignments search the seed's title and body, rewrites and released samples the
rewrite's text. On PostgreSQL a ``SearchVector(..., config="simple")`` matched by a
``websearch`` query, which compiles to the expressions of the GIN indexes of annotation
migration 0008; elsewhere every word of the query must appear (case-insensitive substring), and
a word written ``-word`` must not."""

import base64
import binascii
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Substr
from django.utils.dateparse import parse_datetime

from annotation.models import (
    Assignment,
    Campaign,
    Category,
    Membership,
    ProgrammingLanguage,
    Rewrite,
    RewriteLanguage,
    Role,
    Seed,
    Subcategory,
)
from annotation.selectors import campaign_for_member
from annotation.vocabulary import natural_language_code
from core.errors import ValidationFailed
from exports.models import Release, ReleaseSample
from quality.models import SimilarityFlag
from quality.selectors import is_contaminated
from review.models import Ballot

KINDS = ("seeds", "assignments", "rewrites", "samples")
FLAGS = ("contaminated", "copied_seed", "near_duplicate")
SNIPPET_CHARS = 200
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Counting every row a filter matches is a scan of all of them: past this many the lists say
# "10,000+" (``count_capped``). Measured on 1,000,000 seeds in bench/browser.py.
COUNT_CAP = 10_000
# A full-text search with a common word is counted only this far (each row counted past the
# index costs a text-vector computation; see ``counted``).
SEARCH_COUNT_CAP = 1_000


@dataclass(frozen=True)
class Sort:
    """A column the rows of a kind can be sorted by; ``nullable`` ones put empty values last."""

    field: str
    kind: str = "int"  # how a cursor stores its value: int, str or datetime
    nullable: bool = False


SORTS: dict[str, dict[str, Sort]] = {
    "seeds": {
        "id": Sort("id"),
        "external_id": Sort("external_id", "str"),
        "created": Sort("created_at", "datetime"),
        "status": Sort("status", "str"),
    },
    "assignments": {
        "id": Sort("id"),
        "created": Sort("created_at", "datetime"),
        "updated": Sort("updated_at", "datetime"),
        "status": Sort("status", "str"),
        "lease": Sort("lease_expires_at", "datetime", nullable=True),
    },
    "rewrites": {
        "id": Sort("id"),
        "created": Sort("created_at", "datetime"),
        "submitted": Sort("submitted_at", "datetime", nullable=True),
        "decided": Sort("decided_at", "datetime", nullable=True),
        "status": Sort("status", "str"),
        "revision": Sort("revision"),
    },
    "samples": {
        "id": Sort("id"),
        "position": Sort("position"),
        "sample_id": Sort("sample_id", "str"),
        "submitted": Sort("rewrite__submitted_at", "datetime", nullable=True),
        "decided": Sort("rewrite__decided_at", "datetime", nullable=True),
    },
}


def sort_choices(kind: str) -> list[str]:
    """The accepted values of ``sort`` for ``kind``: each column, and ``-column`` descending."""
    return [v for name in SORTS[kind] for v in (name, f"-{name}")]


# --- access and vocabulary ------------------------------------------------------------------


def browse_campaign(*, user: Any, slug: str) -> Campaign:
    """The campaign ``slug`` for its curators (and operators). NotFound for non-members,
    NotAllowed for members without the curator role."""
    return campaign_for_member(user=user, slug=slug, role=Role.CURATOR)


def _unknown(field_name: str, value: str, known: Sequence[str]) -> ValidationFailed:
    sample = ", ".join(repr(k) for k in list(known)[:12])
    more = " ..." if len(known) > 12 else ""
    return ValidationFailed(
        f"No {field_name.replace('_', ' ')} {value!r} in this campaign.",
        details={"errors": {field_name: [f"choose one of {sample}{more}" if known else "none"]}},
    )


def subcategory_ids(*, campaign: Campaign, name: str) -> list[int]:
    """The subcategory called ``name`` (full or short name, any case). ValidationFailed naming
    the field ``subcategory`` if there is none."""
    wanted = name.strip()
    rows = list(
        Subcategory.objects.filter(campaign=campaign)
        .filter(Q(name__iexact=wanted) | Q(short_name__iexact=wanted))
        .values_list("id", "name")
    )
    exact = [pk for pk, full in rows if full.casefold() == wanted.casefold()]
    if exact or rows:
        return exact or [rows[0][0]]
    known = Subcategory.objects.filter(campaign=campaign).order_by("position", "name")
    raise _unknown("subcategory", name, list(known.values_list("name", flat=True)))


def category_ids(*, campaign: Campaign, name: str) -> list[int]:
    """The category called ``name`` (full or short name, any case); ValidationFailed if none."""
    wanted = name.strip()
    ids = list(
        Category.objects.filter(campaign=campaign)
        .filter(Q(name__iexact=wanted) | Q(short_name__iexact=wanted))
        .values_list("id", flat=True)
    )
    if ids:
        return ids
    known = Category.objects.filter(campaign=campaign).order_by("position", "name")
    raise _unknown("category", name, list(known.values_list("name", flat=True)))


def language_id(*, campaign: Campaign, name: str) -> int:
    """The programming language called ``name`` (name or alias, any case); ValidationFailed if
    none."""
    wanted = name.strip().casefold()
    languages = list(ProgrammingLanguage.objects.filter(campaign=campaign).order_by("position"))
    for lang in languages:
        if lang.name.casefold() == wanted:
            return lang.pk
    for lang in languages:
        if any(str(alias).casefold() == wanted for alias in lang.aliases):
            return lang.pk
    raise _unknown("programming_language", name, [lang.name for lang in languages])


def natural_language(value: str) -> str:
    """The code of a natural language (``en``, ``English``, ``zh-CN`` -> ``zh``)."""
    code = natural_language_code(value)
    if code is None:
        raise ValidationFailed(
            f"{value!r} is not a language.",
            details={"errors": {"natural_language": ["give a code such as en or zh"]}},
        )
    return code


def member_id(*, campaign: Campaign, username: str, role: str) -> int:
    """The user called ``username`` holding ``role`` in ``campaign``, or who did (their work
    stays browsable after they leave: a user with assignments or ballots here is accepted).
    Anyone else, existing elsewhere or not, gets the same ValidationFailed, so the filter tells
    nothing about other campaigns' people."""
    user_id = OuterRef("pk")
    in_campaign = (
        Exists(Membership.objects.filter(campaign=campaign, user_id=user_id, role=role))
        | Exists(Assignment.objects.filter(campaign=campaign, annotator_id=user_id))
        | Exists(Ballot.objects.filter(campaign=campaign, reviewer_id=user_id))
    )
    user = (
        get_user_model().objects.filter(in_campaign, username=username.strip()).only("pk").first()
    )
    if user is None:
        raise ValidationFailed(
            f"{username!r} is not a {role} of this campaign.",
            details={"errors": {role: [f"{username!r} is not a {role} of this campaign"]}},
        )
    return int(user.pk)


def release_id(*, campaign: Campaign, name: str) -> int:
    """The release of ``campaign`` called ``name``; ValidationFailed if none."""
    found = Release.objects.filter(campaign=campaign, name=name.strip()).values_list(
        "pk", flat=True
    )
    if found:
        return int(found[0])
    known = Release.objects.filter(campaign=campaign).order_by("-created_at")
    raise _unknown("release", name, list(known.values_list("name", flat=True)))


@dataclass
class FilterChoices:
    """What the page's filter form offers (five small queries)."""

    categories: list[str]
    subcategories: list[tuple[str, str]]  # (category, subcategory)
    annotators: list[str]
    reviewers: list[str]
    languages: list[str]
    releases: list[str]


def filter_choices(*, campaign: Campaign) -> FilterChoices:
    people: dict[str, list[str]] = {Role.ANNOTATOR: [], Role.REVIEWER: []}
    for username, role in (
        Membership.objects.filter(campaign=campaign, role__in=[Role.ANNOTATOR, Role.REVIEWER])
        .order_by("user__username")
        .values_list("user__username", "role")
    ):
        people[role].append(username)
    return FilterChoices(
        categories=list(
            Category.objects.filter(campaign=campaign)
            .order_by("position", "name")
            .values_list("name", flat=True)
        ),
        subcategories=list(
            Subcategory.objects.filter(campaign=campaign)
            .order_by("category__position", "position", "name")
            .values_list("category__name", "name")
        ),
        annotators=people[Role.ANNOTATOR],
        reviewers=people[Role.REVIEWER],
        languages=list(
            ProgrammingLanguage.objects.filter(campaign=campaign)
            .order_by("position", "name")
            .values_list("name", flat=True)
        ),
        releases=list(
            Release.objects.filter(campaign=campaign, status=Release.Status.DONE)
            .order_by("-created_at")
            .values_list("name", flat=True)
        ),
    )


# --- the rows of each kind --------------------------------------------------------------------


def _copied(rewrite_ref: str) -> Exists:
    return Exists(
        SimilarityFlag.objects.filter(
            rewrite_id=OuterRef(rewrite_ref), kind=SimilarityFlag.Kind.COPIED_SEED
        )
    )


def _near_duplicate(rewrite_ref: str) -> Exists:
    return Exists(
        SimilarityFlag.objects.filter(
            rewrite_id=OuterRef(rewrite_ref), kind=SimilarityFlag.Kind.NEAR_DUPLICATE
        )
    )


def flag_condition(flag: str, *, via: str) -> Exists:
    """A filter expression: the row has ``flag``. ``via`` says where its rewrites are: ``""``
    (the row is a rewrite), ``"rewrite__"`` (a released sample), ``"assignment"`` or ``"seed"``
    (any revision of the assignment or seed has the flag)."""
    if via in ("", "rewrite__"):
        ref = f"{via}pk" if via else "pk"
        if flag == "contaminated":
            return is_contaminated(via)
        return _copied(ref) if flag == "copied_seed" else _near_duplicate(ref)
    if flag == "contaminated":
        revisions = Rewrite.objects.filter(**{f"{via}_id": OuterRef("pk")})
        return Exists(revisions.filter(is_contaminated()))
    kind = (
        SimilarityFlag.Kind.COPIED_SEED
        if flag == "copied_seed"
        else SimilarityFlag.Kind.NEAR_DUPLICATE
    )
    return Exists(
        SimilarityFlag.objects.filter(kind=kind, **{f"rewrite__{via}_id": OuterRef("pk")})
    )


def _latest_revision(ref: str) -> QuerySet[Rewrite]:
    return Rewrite.objects.filter(**{ref: OuterRef("pk")}).order_by("-revision", "-id")


def _votes(decision: str, ref: str = "pk") -> Subquery:
    return Subquery(
        Ballot.objects.filter(rewrite_id=OuterRef(ref), decision=decision)
        .order_by()
        .values("rewrite_id")
        .annotate(n=Count("pk"))
        .values("n")[:1],
        output_field=IntegerField(),
    )


def _suggestion_columns(rev: str) -> dict[str, F]:
    """The model and prompt version of the suggestion inserted into the revision (``rev``:
    ``""`` for a rewrite, ``"rewrite__"`` for a released sample), joined into the row's query;
    None for a revision written by a person."""
    return {
        "suggestion_model": F(f"{rev}suggestion__model"),
        "suggestion_prompt_version": F(f"{rev}suggestion__prompt_version"),
    }


def rows(*, campaign: Campaign, kind: str) -> QuerySet[Any]:
    """Every row of ``kind`` in ``campaign``, with what a list shows (related names joined, a
    text snippet instead of the whole text, the flags and per-row figures as subqueries that
    run for the rows of one page only). Long texts are deferred; ``export_rows`` loads them."""
    if kind == "seeds":
        latest = _latest_revision("seed_id")
        return (
            Seed.objects.filter(campaign=campaign)
            .select_related("subcategory__category")
            .defer("body", "answer", "metadata", "content_hash")
            .annotate(
                snippet=Substr("body", 1, SNIPPET_CHARS),
                revisions=Coalesce(
                    Subquery(
                        Rewrite.objects.filter(seed_id=OuterRef("pk"))
                        .order_by()
                        .values("seed_id")
                        .annotate(n=Count("pk"))
                        .values("n")[:1],
                        output_field=IntegerField(),
                    ),
                    Value(0),
                ),
                rewrite_status=Subquery(latest.values("status")[:1]),
                annotator_name=Subquery(
                    Assignment.objects.filter(seed_id=OuterRef("pk"))
                    .order_by("-id")
                    .values("annotator__username")[:1]
                ),
                **{f"flag_{flag}": flag_condition(flag, via="seed") for flag in FLAGS},
            )
        )
    if kind == "assignments":
        latest = _latest_revision("assignment_id")
        return (
            Assignment.objects.filter(campaign=campaign)
            .select_related("annotator", "seed__subcategory__category")
            .defer("seed__body", "seed__answer", "seed__metadata", "reject_note")
            .annotate(
                revision=Subquery(latest.values("revision")[:1]),
                rewrite_status=Subquery(latest.values("status")[:1]),
                **{f"flag_{flag}": flag_condition(flag, via="assignment") for flag in FLAGS},
            )
        )
    if kind == "rewrites":
        return (
            Rewrite.objects.filter(campaign=campaign)
            .select_related("author", "seed", "subcategory__category")
            .defer("text", "feedback", "seed__body", "seed__answer", "seed__metadata")
            .prefetch_related(_languages_prefetch())
            .annotate(
                snippet=Substr("text", 1, SNIPPET_CHARS),
                votes_valid=Coalesce(_votes("valid"), Value(0)),
                votes_invalid=Coalesce(_votes("invalid"), Value(0)),
                **{f"flag_{flag}": flag_condition(flag, via="") for flag in FLAGS},
                **_suggestion_columns(""),
            )
        )
    if kind == "samples":
        return (
            ReleaseSample.objects.filter(campaign=campaign)
            .select_related(
                "release",
                "rewrite__author",
                "rewrite__seed",
                "rewrite__subcategory__category",
            )
            .defer(
                "rewrite__text",
                "rewrite__feedback",
                "rewrite__seed__body",
                "rewrite__seed__answer",
                "rewrite__seed__metadata",
                "release__parameters",
                "release__files",
                "release__stats",
            )
            .prefetch_related(_languages_prefetch("rewrite__"))
            .annotate(
                snippet=Substr("rewrite__text", 1, SNIPPET_CHARS),
                votes_valid=Coalesce(_votes("valid", "rewrite_id"), Value(0)),
                votes_invalid=Coalesce(_votes("invalid", "rewrite_id"), Value(0)),
                **{f"flag_{flag}": flag_condition(flag, via="rewrite__") for flag in FLAGS},
                **_suggestion_columns("rewrite__"),
            )
        )
    raise ValueError(f"unknown kind {kind!r}")


def _languages_prefetch(prefix: str = "") -> "Prefetch[Any]":
    return Prefetch(
        f"{prefix}language_links",
        queryset=RewriteLanguage.objects.select_related("language").order_by("position"),
    )


def export_rows(*, campaign: Campaign, kind: str) -> QuerySet[Any]:
    """``rows`` with the whole texts (seed title and body, rewrite text) for an export."""
    qs = rows(campaign=campaign, kind=kind)
    # ``defer`` adds up; resetting it and deferring the rest again loads the texts wanted.
    deferred = {
        "seeds": ("answer", "metadata", "content_hash"),
        "assignments": ("seed__answer", "seed__metadata"),
        "rewrites": ("feedback", "seed__body", "seed__answer", "seed__metadata"),
        "samples": (
            "rewrite__feedback",
            "rewrite__seed__body",
            "rewrite__seed__answer",
            "rewrite__seed__metadata",
            "release__parameters",
            "release__files",
            "release__stats",
        ),
    }[kind]
    return qs.defer(None).defer(*deferred)


# --- full-text search -------------------------------------------------------------------------

SEARCH_FIELDS = {
    "seeds": ("title", "body"),
    "assignments": ("seed__title", "seed__body"),
    "rewrites": ("text",),
    "samples": ("rewrite__text",),
}

_WORD = re.compile(r'-?"[^"]+"|\S+')
# The SQLite fallback adds a condition per word (SQLite refuses ~1,000 of them); no real search
# needs more, on either database. The filter also caps ``q`` at SEARCH_MAX_CHARS characters.
SEARCH_MAX_WORDS = 64
SEARCH_MAX_CHARS = 1000


def search(qs: QuerySet[Any], *, kind: str, q: str) -> QuerySet[Any]:
    """Rows of ``qs`` whose text matches ``q`` (see the module's docstring)."""
    q = q.strip()
    if not q:
        return qs
    words = _WORD.findall(q)
    if len(words) > SEARCH_MAX_WORDS:
        raise ValidationFailed(
            f"Search for at most {SEARCH_MAX_WORDS} words at a time.",
            details={"errors": {"q": [f"at most {SEARCH_MAX_WORDS} words"]}},
        )
    if connection.vendor == "postgresql":
        query = SearchQuery(q, config="simple", search_type="websearch")
        seed_vector = SearchVector("title", "body", config="simple")
        rewrite_vector = SearchVector("text", config="simple")
        if kind == "seeds":
            found: QuerySet[Any] = qs.alias(search=seed_vector).filter(search=query)
            return found
        if kind == "rewrites":
            found = qs.alias(search=rewrite_vector).filter(search=query)
            return found
        # Through the join, the vector is still the indexed expression of the seed or
        # rewrite table, so the planner may start from the GIN index or from the rows.
        if kind == "assignments":
            vector = SearchVector("seed__title", "seed__body", config="simple")
        else:
            vector = SearchVector("rewrite__text", config="simple")
        found = qs.alias(search=vector).filter(search=query)
        return found
    fields = SEARCH_FIELDS[kind]
    for raw in words:
        negate = raw.startswith("-") and len(raw) > 1
        word = raw.lstrip("-").strip('"').strip()
        if not word or word.upper() == "OR":
            continue
        cond = Q()
        for name in fields:
            cond |= Q(**{f"{name}__icontains": word})
        qs = qs.exclude(cond) if negate else qs.filter(cond)
    return qs


# --- sorting, keyset pagination and counts ----------------------------------------------------


class BadCursor(ValidationFailed):
    pass


@dataclass(frozen=True)
class Cursor:
    """A position in a sorted list: the sort key and id of a row, and which way to read."""

    sort: str
    value: Any
    id: int
    backwards: bool = False

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        raw = json.dumps([self.sort, value, self.id, int(self.backwards)], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(token: str, *, kind: str, sort: str) -> Cursor:
    """Read a cursor made by ``Cursor.encode`` for this ``sort``; BadCursor (400) otherwise."""
    column = SORTS[kind][sort.lstrip("-")]
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        sort_of, value, pk, backwards = json.loads(raw)
        if not isinstance(pk, int) or not 0 < pk < 2**63 or sort_of != sort:
            raise ValueError
        if value is not None:
            if column.kind == "int" and not (isinstance(value, int) and -(2**63) <= value < 2**63):
                raise ValueError
            # A NUL byte can be in no stored text (PostgreSQL refuses it in a query).
            if column.kind == "str" and not (isinstance(value, str) and "\x00" not in value):
                raise ValueError
            if column.kind == "datetime":
                value = parse_datetime(value)
                if value is None:
                    raise ValueError
        elif not column.nullable:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError, UnicodeDecodeError):
        raise BadCursor(
            "This page link is not valid for the current sort order; start from the first page.",
            details={"errors": {"cursor": ["not a cursor of this list and sort order"]}},
        ) from None
    return Cursor(sort=sort, value=value, id=pk, backwards=bool(backwards))


def _after(
    name: str, value: Any, pk: int, *, descending: bool, nulls_last: bool, nullable: bool
) -> Q:
    """Rows strictly after (value, pk) in the order ``name`` (asc or desc, nulls last or first),
    id as the tiebreak in the same direction. Written so that an index on (name, id) serves it:
    ``name >= value AND (name > value OR id > pk)`` rather than a bare OR."""
    beyond = "lt" if descending else "gt"
    reach = "lte" if descending else "gte"
    if name == "pk":
        return Q(**{f"pk__{beyond}": pk})
    if value is None:
        tail = Q(**{f"{name}__isnull": True, f"pk__{beyond}": pk})
        return tail if nulls_last else tail | Q(**{f"{name}__isnull": False})
    cond = Q(**{f"{name}__{reach}": value}) & (
        Q(**{f"{name}__{beyond}": value}) | Q(**{f"pk__{beyond}": pk})
    )
    return cond | Q(**{f"{name}__isnull": True}) if nullable and nulls_last else cond


@dataclass
class Page:
    rows: list[Any]
    next: str | None
    previous: str | None
    page_size: int
    sort: str = "id"
    extra: dict[str, Any] = field(default_factory=dict)


def _order(name: str, *, descending: bool, nulls_last: bool, nullable: bool) -> list[Any]:
    pk = F("pk").desc() if descending else F("pk").asc()
    if name == "pk":
        return [pk]
    if not nullable:  # plain ASC / DESC, which an index on (name, id) serves either way
        return [F(name).desc() if descending else F(name).asc(), pk]
    expr = F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
    if not nulls_last:
        expr = F(name).desc(nulls_first=True) if descending else F(name).asc(nulls_first=True)
    return [expr, pk]


def keyset_page(
    qs: QuerySet[Any], *, kind: str, sort: str, cursor: Cursor | None, page_size: int
) -> Page:
    """One page of ``qs`` sorted by ``sort`` (``-`` for descending; the id breaks ties and
    empty values come last), read forwards from ``cursor`` (or backwards when it says so), and
    the cursors of the pages around it. One query."""
    descending = sort.startswith("-")
    column = SORTS[kind][sort.lstrip("-")]
    name = "pk" if column.field == "id" else column.field
    backwards = bool(cursor and cursor.backwards)
    # Reading backwards walks the reversed order (direction and null placement both flip).
    walk_desc = descending != backwards
    walk_nulls_last = not backwards
    page_qs = qs.order_by(
        *_order(name, descending=walk_desc, nulls_last=walk_nulls_last, nullable=column.nullable)
    )
    if cursor is not None:
        page_qs = page_qs.filter(
            _after(
                name,
                cursor.value,
                cursor.id,
                descending=walk_desc,
                nulls_last=walk_nulls_last,
                nullable=column.nullable,
            )
        )
    found = list(page_qs[: page_size + 1])
    more = len(found) > page_size
    found = found[:page_size]
    if backwards:
        found.reverse()

    def key(row: Any) -> Any:
        value: Any = row
        for part in column.field.split("__"):
            value = getattr(value, part, None) if value is not None else None
        return value

    def make(row: Any, back: bool) -> str:
        return Cursor(sort=sort, value=key(row), id=row.pk, backwards=back).encode()

    has_next = more if not backwards else cursor is not None
    has_previous = more if backwards else cursor is not None
    return Page(
        rows=found,
        next=make(found[-1], False) if found and has_next else None,
        previous=make(found[0], True) if found and has_previous else None,
        page_size=page_size,
        sort=sort,
    )


def counted(qs: QuerySet[Any], *, searching: bool) -> tuple[QuerySet[Any], int, bool]:
    """``qs``, how many rows it has and whether that count is capped; one query.

    A full-text search counts to SEARCH_COUNT_CAP only, reading the matching ids: when they
    are fewer, the page is read by those ids (PostgreSQL's estimate for a rare word can be far
    too high, and it would then walk the whole table in id order looking for matches); when
    there are more, the word is common and walking in sort order finds a page quickly."""
    if not searching:
        count, capped = count_capped(qs)
        return qs, count, capped
    ids = list(qs.order_by().values_list("pk", flat=True)[: SEARCH_COUNT_CAP + 1])
    if len(ids) > SEARCH_COUNT_CAP:
        return qs, SEARCH_COUNT_CAP, True
    return qs.filter(pk__in=ids), len(ids), False


def count_capped(qs: QuerySet[Any], *, cap: int | None = None) -> tuple[int, bool]:
    """How many rows ``qs`` has, counting no further than ``cap`` (COUNT_CAP): (count,
    capped). One query (``SELECT COUNT(*) FROM (... LIMIT cap + 1)``)."""
    cap = COUNT_CAP if cap is None else cap
    n = qs.order_by().values("pk")[: cap + 1].count()
    return (cap, True) if n > cap else (n, False)


def iterate_keyset(qs: QuerySet[Any], *, chunk: int = 500) -> Iterator[Any]:
    """Every row of ``qs`` in id order, read ``chunk`` rows at a time by keyset, so memory stays
    flat however many rows there are (one query, plus prefetches, per chunk)."""
    last: int | None = None
    while True:
        page = qs.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        found = list(page[:chunk])
        yield from found
        if len(found) < chunk:
            return
        last = found[-1].pk


def selection_ids(qs: QuerySet[Any], *, limit: int) -> list[int]:
    """The ids of ``qs`` (at most ``limit + 1``: more means too many), in id order."""
    return [int(pk) for pk in qs.order_by("pk").values_list("pk", flat=True)[: limit + 1]]


def model_of(kind: str) -> type[Model]:
    return {
        "seeds": Seed,
        "assignments": Assignment,
        "rewrites": Rewrite,
        "samples": ReleaseSample,
    }[kind]
