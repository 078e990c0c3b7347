"""Output shapes of the data browser's rows (one per kind), its pages of rows, the exports' flat
records, and the bulk actions' input and result. Vocabulary values travel as names."""

from typing import Any

from rest_framework import serializers

from annotation.models import Assignment, Rewrite, Seed
from annotation.serializers import ProvenanceOut
from exports.models import ReleaseSample
from exports.services.formats import HUMAN, MODEL_DRAFTED

from . import selectors

_DT = serializers.DateTimeField()


def _dt(value: Any) -> str | None:
    return _DT.to_representation(value) if value is not None else None


def _flags(row: Any) -> list[str]:
    return [flag for flag in selectors.FLAGS if getattr(row, f"flag_{flag}", False)]


def _names(subcategory: Any) -> dict[str, str | None]:
    return {
        "category": subcategory.category.name if subcategory is not None else None,
        "subcategory": subcategory.name if subcategory is not None else None,
    }


def _languages(rewrite: Rewrite) -> list[str]:
    return [link.language.name for link in rewrite.language_links.all()]


def _seed_ref(seed: Seed) -> dict[str, Any]:
    return {"id": seed.pk, "external_id": seed.external_id, "title": seed.title}


def _flag_field() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=selectors.FLAGS),
        help_text="Quality flags of the row (seeds and assignments: of any of their revisions)",
    )


class BrowseSeedRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    title = serializers.CharField()


class BrowseVotesOut(serializers.Serializer):
    """Cast votes; both null while the panel is still voting (a curator may sit on the panel,
    and nobody sees a panel's votes before casting their own)."""

    valid = serializers.IntegerField(allow_null=True)
    invalid = serializers.IntegerField(allow_null=True)


class BrowseSeedRowOut(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    title = serializers.CharField()
    snippet = serializers.CharField(help_text=f"The first {selectors.SNIPPET_CHARS} characters")
    status = serializers.ChoiceField(choices=Seed.Status.choices)
    category = serializers.CharField(allow_null=True)
    subcategory = serializers.CharField(allow_null=True)
    language_hint = serializers.CharField()
    cluster = serializers.CharField()
    annotator = serializers.CharField(
        allow_null=True, help_text="Who holds (or last held) an assignment of it"
    )
    revisions = serializers.IntegerField(help_text="How many revisions were written of it")
    rewrite_status = serializers.ChoiceField(
        choices=Rewrite.Status.choices, allow_null=True, help_text="Of its newest revision"
    )
    flags = _flag_field()
    created_at = serializers.DateTimeField()

    def to_representation(self, seed: Seed) -> dict[str, Any]:
        return {
            "id": seed.pk,
            "external_id": seed.external_id,
            "title": seed.title,
            "snippet": getattr(seed, "snippet", ""),
            "status": seed.status,
            **_names(seed.subcategory),
            "language_hint": seed.language_hint,
            "cluster": seed.cluster,
            "annotator": getattr(seed, "annotator_name", None),
            "revisions": getattr(seed, "revisions", 0),
            "rewrite_status": getattr(seed, "rewrite_status", None),
            "flags": _flags(seed),
            "created_at": _dt(seed.created_at),
        }


class BrowseAssignmentRowOut(serializers.Serializer):
    id = serializers.IntegerField()
    seed = BrowseSeedRefOut()
    annotator = serializers.CharField()
    status = serializers.ChoiceField(choices=Assignment.Status.choices)
    category = serializers.CharField(allow_null=True)
    subcategory = serializers.CharField(allow_null=True, help_text="The seed's")
    revision = serializers.IntegerField(allow_null=True, help_text="Its newest revision")
    rewrite_status = serializers.ChoiceField(choices=Rewrite.Status.choices, allow_null=True)
    reject_reason = serializers.CharField()
    skip_reason = serializers.CharField()
    flags = _flag_field()
    lease_expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, a: Assignment) -> dict[str, Any]:
        return {
            "id": a.pk,
            "seed": _seed_ref(a.seed),
            "annotator": a.annotator.get_username(),
            "status": a.status,
            **_names(a.seed.subcategory),
            "revision": getattr(a, "revision", None),
            "rewrite_status": getattr(a, "rewrite_status", None),
            "reject_reason": a.reject_reason,
            "skip_reason": a.skip_reason,
            "flags": _flags(a),
            "lease_expires_at": _dt(a.lease_expires_at),
            "created_at": _dt(a.created_at),
            "updated_at": _dt(a.updated_at),
        }


# Where a revision's text came from: the annotation API's shape, a release's words.
BrowseProvenanceOut = ProvenanceOut


def _provenance(r: Rewrite, row: Any) -> dict[str, Any]:
    if r.suggestion_id is None:
        return {"origin": HUMAN, "model": None, "prompt_version": None, "edit_distance": None}
    return {
        "origin": MODEL_DRAFTED,
        "model": getattr(row, "suggestion_model", None),
        "prompt_version": getattr(row, "suggestion_prompt_version", None),
        "edit_distance": r.suggestion_edit_distance,
    }


class BrowseRevisionFieldsOut(serializers.Serializer):
    """What rewrites and released samples share: a revision's tags, outcome and flags."""

    seed = BrowseSeedRefOut()
    author = serializers.CharField()
    revision = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Rewrite.Status.choices)
    decided_by_curator = serializers.BooleanField()
    snippet = serializers.CharField(help_text=f"The first {selectors.SNIPPET_CHARS} characters")
    difficulty = serializers.CharField()
    programming_languages = serializers.ListField(child=serializers.CharField())
    natural_language = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    subcategory = serializers.CharField(allow_null=True)
    question_tokens = serializers.IntegerField(allow_null=True)
    votes = BrowseVotesOut()
    flags = _flag_field()
    provenance = BrowseProvenanceOut()
    submitted_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)


def _revision_fields(r: Rewrite, row: Any) -> dict[str, Any]:
    return {
        "seed": _seed_ref(r.seed),
        "author": r.author.get_username(),
        "revision": r.revision,
        "status": r.status,
        "decided_by_curator": r.decided_by_curator,
        "snippet": getattr(row, "snippet", ""),
        "difficulty": r.difficulty,
        "programming_languages": _languages(r),
        "natural_language": r.natural_language,
        **_names(r.subcategory),
        "question_tokens": r.question_tokens,
        "votes": {"valid": None, "invalid": None}
        if r.status == Rewrite.Status.SUBMITTED
        else {
            "valid": getattr(row, "votes_valid", 0),
            "invalid": getattr(row, "votes_invalid", 0),
        },
        "flags": _flags(row),
        "provenance": _provenance(r, row),
        "submitted_at": _dt(r.submitted_at),
        "decided_at": _dt(r.decided_at),
    }


class BrowseRewriteRowOut(BrowseRevisionFieldsOut):
    id = serializers.IntegerField()
    assignment = serializers.IntegerField()
    created_at = serializers.DateTimeField()

    def to_representation(self, r: Rewrite) -> dict[str, Any]:
        return {
            "id": r.pk,
            "assignment": r.assignment_id,
            **_revision_fields(r, r),
            "created_at": _dt(r.created_at),
        }


class BrowseReleaseRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class BrowseSampleRowOut(BrowseRevisionFieldsOut):
    id = serializers.IntegerField()
    release = BrowseReleaseRefOut()
    sample_id = serializers.CharField(help_text="Its id in benchmark.jsonl")
    position = serializers.IntegerField(help_text="Its line in benchmark.jsonl")
    rewrite = serializers.IntegerField()

    def to_representation(self, s: ReleaseSample) -> dict[str, Any]:
        return {
            "id": s.pk,
            "release": {"id": s.release_id, "name": s.release.name},
            "sample_id": s.sample_id,
            "position": s.position,
            "rewrite": s.rewrite_id,
            **_revision_fields(s.rewrite, s),
        }


ROW_OUT: dict[str, type[serializers.Serializer]] = {
    "seeds": BrowseSeedRowOut,
    "assignments": BrowseAssignmentRowOut,
    "rewrites": BrowseRewriteRowOut,
    "samples": BrowseSampleRowOut,
}


_RENDERERS: dict[str, serializers.Serializer] = {}


def row_out(kind: str, row: Any) -> dict[str, Any]:
    """One row as its kind's serializer renders it (one serializer instance per kind: the
    representation is computed by hand, so a page of 500 rows costs no per-row set-up)."""
    renderer = _RENDERERS.get(kind)
    if renderer is None:
        renderer = _RENDERERS[kind] = ROW_OUT[kind]()
    data: dict[str, Any] = renderer.to_representation(row)
    return data


def seed_id_of(kind: str, row: Any) -> int:
    """The seed a row is about (what its item page shows)."""
    if kind == "seeds":
        return int(row.pk)
    if kind == "samples":
        return int(row.rewrite.seed_id)
    return int(row.seed_id)


def _page_out(row: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    return type(
        name,
        (serializers.Serializer,),
        {
            "__doc__": "One page of rows, sorted, read by cursor (keyset pagination).",
            "count": serializers.IntegerField(
                help_text=f"Rows matching the filter, counted up to {selectors.COUNT_CAP} "
                f"({selectors.SEARCH_COUNT_CAP} with a full-text search)"
            ),
            "count_capped": serializers.BooleanField(
                help_text="More rows match than were counted: count is the cap"
            ),
            "next": serializers.CharField(allow_null=True, help_text="URL of the next page"),
            "previous": serializers.CharField(
                allow_null=True, help_text="URL of the previous page"
            ),
            "results": row(many=True),
        },
    )


PAGE_OUT: dict[str, type[serializers.Serializer]] = {
    "seeds": _page_out(BrowseSeedRowOut, "BrowseSeedPageOut"),
    "assignments": _page_out(BrowseAssignmentRowOut, "BrowseAssignmentPageOut"),
    "rewrites": _page_out(BrowseRewriteRowOut, "BrowseRewritePageOut"),
    "samples": _page_out(BrowseSampleRowOut, "BrowseSamplePageOut"),
}


# --- exports --------------------------------------------------------------------------------


TEXT_COLUMN = {"seeds": "body", "assignments": "seed_body", "rewrites": "text", "samples": "text"}


def export_columns(kind: str) -> list[str]:
    """The columns of an export of ``kind``: the row's fields (nested ones as ``outer_inner``),
    the whole text in place of the snippet."""
    columns: list[str] = []
    for name, f in ROW_OUT[kind]().fields.items():
        if name == "snippet":
            continue
        if isinstance(f, serializers.Serializer):
            columns.extend(f"{name}_{sub}" for sub in f.fields)
        else:
            columns.append(name)
    columns.remove("id")
    return ["id", *columns, TEXT_COLUMN[kind]]


def export_record(kind: str, row: Any) -> dict[str, Any]:
    """A row as one flat record of an export (the whole text instead of the snippet; lists
    as lists, which the CSV writer joins with ``|``)."""
    out = row_out(kind, row)
    out.pop("snippet", None)
    flat: dict[str, Any] = {}
    for key, value in out.items():
        if isinstance(value, dict):
            for sub, sub_value in value.items():
                flat[f"{key}_{sub}"] = sub_value
        else:
            flat[key] = value
    text = {
        "seeds": lambda: row.body,
        "assignments": lambda: row.seed.body,
        "rewrites": lambda: row.text,
        "samples": lambda: row.rewrite.text,
    }[kind]()
    flat[TEXT_COLUMN[kind]] = text
    return flat


# --- bulk actions ---------------------------------------------------------------------------

BULK_ACTIONS = {
    "seeds": ["release"],
    "assignments": ["reassign", "release"],
    "rewrites": ["return"],
}


class BrowseBulkIn(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=["return", "reassign", "release"],
        help_text="return (rewrites: rejected or no consensus, back to their author with the "
        "note); reassign (assignments: active ones to ``annotator``); release (assignments, "
        "or seeds through their active assignment: unstarted ones back in the pool)",
    )
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        default=list,
        help_text="The rows to act on (ids of this kind); or set all_matching",
    )
    all_matching = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Act on every row matching the filter given as query parameters (as the "
        "list takes them), up to the cap",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    annotator = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=150, help_text="For reassign"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["ids"] and not attrs["all_matching"]:
            raise serializers.ValidationError(
                {"ids": ["select rows, or set all_matching to act on every row of the filter"]}
            )
        if attrs["ids"] and attrs["all_matching"]:
            raise serializers.ValidationError(
                {"all_matching": ["give either ids or all_matching, not both"]}
            )
        if attrs["action"] == "reassign" and not attrs["annotator"].strip():
            raise serializers.ValidationError({"annotator": ["say who gets the assignments"]})
        return attrs


class BrowseSkippedOut(serializers.Serializer):
    id = serializers.IntegerField()
    reason = serializers.CharField()


class BrowseBulkOut(serializers.Serializer):
    action = serializers.CharField()
    changed = serializers.ListField(child=serializers.IntegerField(), help_text="Ids changed")
    skipped = BrowseSkippedOut(many=True, help_text="Ids left alone, each with the reason")
