"""The data browser's filters (django-filter), one FilterSet per kind of row. Vocabulary values
travel as names (subcategory and category by full or short name, programming languages by name
or alias, natural languages as codes, people by username); an unknown name is a 400 that lists
the known ones. The same FilterSets serve the pages (GET form, the state in the URL), the API
(each filter documented in the OpenAPI schema), the exports and the bulk actions' "every row
matching the filter"."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import QueryDict

from annotation.models import Assignment, Campaign, Difficulty, Rewrite, RewriteLanguage, Seed
from core.errors import ValidationFailed
from exports.models import ReleaseSample
from exports.services.formats import HUMAN, MODEL_DRAFTED
from review.models import Ballot

from . import selectors, services

FLAG_CHOICES = [
    ("contaminated", "Contaminated (shares an n-gram with a public benchmark)"),
    ("copied_seed", "Copies its seed"),
    ("near_duplicate", "Near-duplicate of another rewrite"),
]
PROVENANCE_CHOICES = [
    (HUMAN, "Written by a person"),
    (MODEL_DRAFTED, "Drafted from a model suggestion"),
]
OUTCOME_CHOICES = [
    ("accepted", "Accepted"),
    ("rejected", "Rejected"),
    ("no_consensus", "No consensus"),
    ("returned", "Returned"),
    ("closed", "Closed"),
    ("curator_decided", "Decided by a curator"),
]
SORT_HELP = "Column to sort by, '-' in front for descending; the id breaks ties."


def _sort_filter(kind: str) -> django_filters.ChoiceFilter:
    return django_filters.ChoiceFilter(
        choices=[(v, v) for v in selectors.sort_choices(kind)],
        method="filter_noop",
        help_text=f"{SORT_HELP} One of: {', '.join(selectors.sort_choices(kind))}.",
    )


class BrowseFilter(django_filters.FilterSet):
    """What every kind shares. Subclasses say where each value lives (``paths``)."""

    kind = ""
    # Where each filter looks, relative to the row (``None``: this kind has no such filter).
    subcategory_path = "subcategory_id"
    flags_via = ""

    q = django_filters.CharFilter(
        method="filter_q",
        max_length=selectors.SEARCH_MAX_CHARS,
        help_text='Full-text search (PostgreSQL websearch syntax: words, "a phrase", -word, '
        "or). Seeds and assignments search the seed's title and body; rewrites and released "
        "samples the rewrite's text.",
    )
    category = django_filters.CharFilter(
        method="filter_category", help_text="Category name (full or short, any case)."
    )
    subcategory = django_filters.CharFilter(
        method="filter_subcategory", help_text="Subcategory name (full or short, any case)."
    )
    flags = django_filters.MultipleChoiceFilter(
        choices=FLAG_CHOICES,
        distinct=False,
        method="filter_flags",
        help_text="Rows with any of these quality flags (repeat the parameter for several).",
    )

    def __init__(self, *args: Any, campaign: Campaign, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.campaign = campaign

    def filter_noop(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset  # applied by the pagination (sort) or the view

    def filter_q(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return selectors.search(queryset, kind=self.kind, q=value)

    def filter_category(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        ids = selectors.category_ids(campaign=self.campaign, name=value)
        path = self.subcategory_path.removesuffix("_id")
        return queryset.filter(**{f"{path}__category_id__in": ids})

    def filter_subcategory(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        ids = selectors.subcategory_ids(campaign=self.campaign, name=value)
        return queryset.filter(**{f"{self.subcategory_path}__in": ids})

    def filter_flags(self, queryset: QuerySet[Any], name: str, value: list[str]) -> QuerySet[Any]:
        if not value:
            return queryset
        cond = Q()
        for flag in value:
            cond |= Q(selectors.flag_condition(flag, via=self.flags_via))
        return queryset.filter(cond)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Apply every filter; a bad value is a ValidationFailed naming each field (400)."""
        if not self.is_valid():
            raise ValidationFailed(
                "The filter is invalid; see 'errors' for each field.",
                details={"errors": {k: [str(m) for m in v] for k, v in self.form.errors.items()}},
            )
        return super().filter_queryset(queryset)


def _people_filter(help_text: str, method: str) -> django_filters.CharFilter:
    return django_filters.CharFilter(method=method, help_text=help_text)


class RevisionTagsMixin(django_filters.FilterSet):
    """Filters on a revision's tags, for rewrites and released samples (``rev`` says where the
    revision is: ``""`` or ``"rewrite__"``)."""

    rev = ""
    difficulty = django_filters.ChoiceFilter(
        choices=Difficulty.choices, method="filter_difficulty", help_text="easy, medium or hard."
    )
    programming_language = django_filters.CharFilter(
        method="filter_language", help_text="Programming language (name or alias, any case)."
    )
    natural_language = django_filters.CharFilter(
        method="filter_natural_language", help_text="Natural language code (en, zh, ...)."
    )
    annotator = _people_filter("Revisions written by this annotator (username).", "filter_author")
    reviewer = _people_filter(
        "Revisions this reviewer has a ballot on (username).", "filter_reviewer"
    )
    provenance = django_filters.ChoiceFilter(
        choices=PROVENANCE_CHOICES,
        method="filter_provenance",
        help_text="human: revisions written by a person; model_drafted: revisions whose author "
        "inserted a model suggestion (the origin a release's provenance gives).",
    )
    outcome = django_filters.MultipleChoiceFilter(
        choices=OUTCOME_CHOICES,
        distinct=False,
        method="filter_outcome",
        help_text="Any of these outcomes (repeat the parameter for several); curator_decided: "
        "accepted or rejected by a curator's adjudication.",
    )

    def filter_difficulty(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(**{f"{self.rev}difficulty": value})

    def filter_language(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        lang = selectors.language_id(campaign=self.campaign, name=value)
        ref = f"{self.rev}pk" if self.rev else "pk"
        return queryset.filter(
            Exists(RewriteLanguage.objects.filter(rewrite_id=OuterRef(ref), language_id=lang))
        )

    def filter_natural_language(
        self, queryset: QuerySet[Any], name: str, value: str
    ) -> QuerySet[Any]:
        return queryset.filter(**{f"{self.rev}natural_language": selectors.natural_language(value)})

    def filter_author(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        user = selectors.member_id(campaign=self.campaign, username=value, role="annotator")
        return queryset.filter(**{f"{self.rev}author_id": user})

    def filter_reviewer(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        user = selectors.member_id(campaign=self.campaign, username=value, role="reviewer")
        ref = f"{self.rev}pk" if self.rev else "pk"
        return queryset.filter(
            Exists(Ballot.objects.filter(rewrite_id=OuterRef(ref), reviewer_id=user))
        )

    def filter_provenance(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(**{f"{self.rev}suggestion__isnull": value == HUMAN})

    def filter_outcome(self, queryset: QuerySet[Any], name: str, value: list[str]) -> QuerySet[Any]:
        if not value:
            return queryset
        statuses = [v for v in value if v != "curator_decided"]
        cond = Q(**{f"{self.rev}status__in": statuses}) if statuses else Q(pk__in=[])
        if "curator_decided" in value:
            cond |= Q(**{f"{self.rev}decided_by_curator": True})
        return queryset.filter(cond)


class SeedBrowseFilter(BrowseFilter):
    kind = "seeds"
    flags_via = "seed"
    sort = _sort_filter("seeds")
    status = django_filters.MultipleChoiceFilter(
        choices=Seed.Status.choices,
        distinct=False,
        help_text="Seeds in any of these statuses.",
    )
    annotator = _people_filter(
        "Seeds this annotator holds or held an assignment of (username).", "filter_annotator"
    )
    created = django_filters.DateFromToRangeFilter(
        field_name="created_at", help_text="Imported between these dates (inclusive)."
    )

    class Meta:
        model = Seed
        fields: list[str] = []

    def filter_annotator(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        user = selectors.member_id(campaign=self.campaign, username=value, role="annotator")
        return queryset.filter(
            Exists(Assignment.objects.filter(seed_id=OuterRef("pk"), annotator_id=user))
        )


class AssignmentBrowseFilter(BrowseFilter):
    kind = "assignments"
    subcategory_path = "seed__subcategory_id"
    flags_via = "assignment"
    sort = _sort_filter("assignments")
    status = django_filters.MultipleChoiceFilter(
        choices=Assignment.Status.choices,
        distinct=False,
        help_text="Assignments in any of these statuses.",
    )
    annotator = _people_filter("Assignments held by this annotator (username).", "filter_holder")
    started = django_filters.ChoiceFilter(
        choices=[("yes", "yes"), ("no", "no")],
        method="filter_started",
        help_text="yes: the assignment has a revision (a draft or more); no: nothing written yet.",
    )
    created = django_filters.DateFromToRangeFilter(
        field_name="created_at", help_text="Claimed or dealt between these dates (inclusive)."
    )

    class Meta:
        model = Assignment
        fields: list[str] = []

    def filter_holder(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        user = selectors.member_id(campaign=self.campaign, username=value, role="annotator")
        return queryset.filter(annotator_id=user)

    def filter_started(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        written = Exists(Rewrite.objects.filter(assignment_id=OuterRef("pk")))
        return queryset.filter(written if value == "yes" else ~written)


class RewriteBrowseFilter(RevisionTagsMixin, BrowseFilter):
    kind = "rewrites"
    flags_via = ""
    sort = _sort_filter("rewrites")
    status = django_filters.MultipleChoiceFilter(
        choices=Rewrite.Status.choices,
        distinct=False,
        help_text="Revisions in any of these statuses.",
    )
    created = django_filters.DateFromToRangeFilter(
        field_name="created_at", help_text="Started between these dates (inclusive)."
    )
    submitted = django_filters.DateFromToRangeFilter(
        field_name="submitted_at", help_text="Submitted between these dates (inclusive)."
    )
    decided = django_filters.DateFromToRangeFilter(
        field_name="decided_at", help_text="Decided between these dates (inclusive)."
    )

    class Meta:
        model = Rewrite
        fields: list[str] = []


class SampleBrowseFilter(RevisionTagsMixin, BrowseFilter):
    kind = "samples"
    rev = "rewrite__"
    subcategory_path = "rewrite__subcategory_id"
    flags_via = "rewrite__"
    sort = _sort_filter("samples")
    release = django_filters.CharFilter(
        method="filter_release", help_text="Samples of this release (its name)."
    )
    submitted = django_filters.DateFromToRangeFilter(
        field_name="rewrite__submitted_at", help_text="Submitted between these dates (inclusive)."
    )
    decided = django_filters.DateFromToRangeFilter(
        field_name="rewrite__decided_at", help_text="Decided between these dates (inclusive)."
    )

    class Meta:
        model = ReleaseSample
        fields: list[str] = []

    def filter_release(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(release_id=selectors.release_id(campaign=self.campaign, name=value))


FILTERS: dict[str, type[BrowseFilter]] = {
    "seeds": SeedBrowseFilter,
    "assignments": AssignmentBrowseFilter,
    "rewrites": RewriteBrowseFilter,
    "samples": SampleBrowseFilter,
}


# --- the pipeline the pages, the API, the exports and the bulk actions share -------------------

# Parameters that only make sense for one kind (they are dropped when a tab switches kinds).
KIND_ONLY_PARAMS = ("status", "outcome", "started", "sort", "cursor", "release")
PAGE_PARAMS = ("cursor", "page_size")


@dataclass
class ListQuery:
    """A parsed list request: the filtered rows, the sort, where to start and how many."""

    kind: str
    rows: QuerySet[Any]
    sort: str
    cursor: selectors.Cursor | None
    page_size: int
    searching: bool = False


def page_size_of(raw: str | None) -> int:
    if raw is None or raw == "":
        return selectors.DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= selectors.MAX_PAGE_SIZE:
        raise ValidationFailed(
            f"page_size must be a whole number from 1 to {selectors.MAX_PAGE_SIZE}.",
            details={"errors": {"page_size": [f"1 to {selectors.MAX_PAGE_SIZE}"]}},
        )
    return size


def filtered(
    *, campaign: Campaign, kind: str, params: QueryDict, export: bool = False
) -> QuerySet[Any]:
    """The rows of ``kind`` matching the filter in ``params``. ValidationFailed (400) names
    each bad value."""
    base = (
        selectors.export_rows(campaign=campaign, kind=kind)
        if export
        else selectors.rows(campaign=campaign, kind=kind)
    )
    return FILTERS[kind](data=params, queryset=base, campaign=campaign).qs


def list_query(
    *, campaign: Campaign, kind: str, params: QueryDict, export: bool = False
) -> ListQuery:
    rows = filtered(campaign=campaign, kind=kind, params=params, export=export)
    sort = params.get("sort") or "id"
    token = params.get("cursor")
    return ListQuery(
        kind=kind,
        rows=rows,
        sort=sort,
        cursor=selectors.cursor_decode(token, kind=kind, sort=sort) if token else None,
        page_size=page_size_of(params.get("page_size")),
        searching=bool((params.get("q") or "").strip()),
    )


def list_page(query: ListQuery) -> tuple[selectors.Page, int, bool]:
    """One page of the query, how many rows match and whether that count is capped (two
    queries, plus the page's prefetches)."""
    rows, count, capped = selectors.counted(query.rows, searching=query.searching)
    page = selectors.keyset_page(
        rows,
        kind=query.kind,
        sort=query.sort,
        cursor=query.cursor,
        page_size=query.page_size,
    )
    return page, count, capped


def export_pages(query: ListQuery, *, chunk: int = 500) -> Iterator[Any]:
    """Every row of the query in its sort order, ``chunk`` rows per query (keyset), so an
    export's memory stays flat however many rows it has."""
    cursor = None
    while True:
        page = selectors.keyset_page(
            query.rows, kind=query.kind, sort=query.sort, cursor=cursor, page_size=chunk
        )
        yield from page.rows
        if page.next is None:
            return
        cursor = selectors.cursor_decode(page.next, kind=query.kind, sort=query.sort)


def tab_params(params: QueryDict) -> QueryDict:
    """``params`` without what belongs to one kind (status, sort, page position, ...): what a
    tab to another kind carries over."""
    out = params.copy()
    for name in (*KIND_ONLY_PARAMS, *PAGE_PARAMS):
        out.pop(name, None)
    return out


def bulk_selection(*, campaign: Campaign, kind: str, params: QueryDict) -> list[int]:
    """The ids of every row matching the filter in ``params``, for a bulk action; more than
    ``services.BULK_LIMIT`` is a ValidationFailed that says to narrow the filter."""
    params = params.copy()
    for name in PAGE_PARAMS:
        params.pop(name, None)
    rows = filtered(campaign=campaign, kind=kind, params=params)
    ids = selectors.selection_ids(rows, limit=services.BULK_LIMIT)
    if len(ids) > services.BULK_LIMIT:
        raise ValidationFailed(
            f"The filter matches more than {services.BULK_LIMIT:,} rows, the most one bulk "
            "action changes; narrow it down (a status, a subcategory, dates) or select rows.",
            details={
                "errors": {"all_matching": [f"at most {services.BULK_LIMIT} rows"]},
                "limit": services.BULK_LIMIT,
            },
        )
    return ids
