from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import InvalidTransition, StaleVersion, ValidationFailed
from core.transitions import EventKind, event_record

from ..models import (
    Assignment,
    Difficulty,
    DraftSuggestion,
    ProgrammingLanguage,
    Rewrite,
    RewriteLanguage,
    Subcategory,
)
from ..tokens import count_tokens
from ..vocabulary import Vocabulary, natural_language_code
from .assignments import assignment_lock_own_active, lease_end

CHECKLIST_ITEMS = ("clear", "ethical", "solvable")


class Keep(Enum):
    """A field a draft save leaves out: the stored value stays."""

    KEEP = "keep"


@dataclass
class DraftInput:
    """A draft as the annotator sends it; vocabulary values are names, resolved by the service.
    ``suggestion``: the id of the model suggestion (``DraftSuggestion``) of this assignment the
    annotator inserted. Provenance is sticky: once a draft has a suggestion, a save with None
    or without it (``Keep.KEEP``) keeps it, and only another suggestion of the assignment
    replaces it; a model's text is never relabelled as a person's by what a client sends."""

    text: str = ""
    difficulty: str = ""
    programming_languages: list[str] = field(default_factory=list)
    natural_language: str = ""
    subcategory: str = ""
    checklist: dict[str, bool] = field(default_factory=dict)
    suggestion: int | None | Keep = Keep.KEEP


@dataclass
class _ResolvedDraft:
    text: str
    difficulty: str
    languages: list[ProgrammingLanguage]
    natural_language: str
    subcategory: Subcategory | None
    checklist: dict[str, bool]
    suggestion_id: int | None | Keep


def _resolve(vocab: Vocabulary, data: DraftInput, assignment: Assignment) -> _ResolvedDraft:
    errors: dict[str, list[str]] = {}
    difficulty = (data.difficulty or "").strip().lower()
    if difficulty and difficulty not in Difficulty.values:
        errors["difficulty"] = [f"must be one of {', '.join(Difficulty.values)}"]
    languages: list[ProgrammingLanguage] = []
    unknown = []
    for name in data.programming_languages:
        lang = vocab.language(name)
        if lang is None:
            unknown.append(name)
        elif lang not in languages:
            languages.append(lang)
    if unknown:
        errors["programming_languages"] = [
            f"not in this campaign's vocabulary: {', '.join(map(repr, unknown))}"
        ]
    natural = ""
    if (data.natural_language or "").strip():
        natural = natural_language_code(data.natural_language) or ""
        if not natural:
            errors["natural_language"] = [
                f"{data.natural_language!r} is not a language code such as 'en' or 'zh'"
            ]
    subcategory = None
    if (data.subcategory or "").strip():
        subcategory = vocab.subcategory(data.subcategory)
        if subcategory is None:
            errors["subcategory"] = [f"unknown subcategory {data.subcategory!r}"]
    unknown_items = sorted(set(data.checklist) - set(CHECKLIST_ITEMS))
    if unknown_items:
        errors["checklist"] = [f"unknown items {unknown_items}; the items are {CHECKLIST_ITEMS}"]
    suggestion = data.suggestion
    if isinstance(suggestion, int) and not (
        DraftSuggestion.objects.filter(pk=suggestion, assignment=assignment).exists()
    ):
        errors["suggestion"] = [f"{suggestion} is not a model suggestion made for this assignment"]
    if errors:
        raise ValidationFailed("The draft has invalid values.", details={"errors": errors})
    return _ResolvedDraft(
        text=data.text or "",
        difficulty=difficulty,
        languages=languages,
        natural_language=natural,
        subcategory=subcategory,
        checklist={item: bool(data.checklist.get(item, False)) for item in CHECKLIST_ITEMS},
        suggestion_id=suggestion,
    )


def rewrite_lock_open_draft(assignment: Assignment) -> Rewrite | None:
    """The assignment's draft revision, locked, or None."""
    return (
        Rewrite.objects.select_for_update(no_key=True)
        .filter(assignment=assignment, status=Rewrite.Status.DRAFT)
        .first()
    )


def rewrite_languages_set(*, rewrite: Rewrite, languages: list[ProgrammingLanguage]) -> None:
    """Replace the ordered programming languages of ``rewrite``."""
    RewriteLanguage.objects.filter(rewrite=rewrite).delete()
    RewriteLanguage.objects.bulk_create(
        RewriteLanguage(rewrite=rewrite, language=lang, position=i)
        for i, lang in enumerate(languages)
    )


@transaction.atomic
def draft_save(*, assignment_id: int, actor: Any, data: DraftInput, version: int) -> Rewrite:
    """Save the annotator's draft. ``version`` is the version the client read (0 when there is
    no draft yet); the saved draft gets version + 1. Renews a claimed assignment's lease.

    ``data.suggestion`` records an inserted model suggestion: an id of this assignment's
    suggestions replaces the stored one, None or nothing keeps it (a returned revision's next
    revision starts with its suggestion, see ``DraftInput``).

    Raises NotFound, InvalidTransition (assignment not active), StaleVersion (someone saved a
    newer version: nothing is changed; ``details['current']`` holds the stored draft) and
    ValidationFailed (a value outside the campaign's vocabulary, or a ``suggestion`` that is
    not one of this assignment's)."""
    assignment = assignment_lock_own_active(assignment_id=assignment_id, actor=actor)
    draft = rewrite_lock_open_draft(assignment)
    current_version = draft.version if draft else 0
    if version != current_version:
        raise StaleVersion(
            f"This draft was saved elsewhere (version {current_version}; yours is based on "
            f"version {version}). Reload it, merge your changes and save again.",
            details={"current_version": current_version, "current": _draft_snapshot(draft)},
        )
    resolved = _resolve(Vocabulary.for_campaign(assignment.campaign), data, assignment)
    created = draft is None
    if draft is None:
        last = assignment.rewrites.order_by("-revision").first()
        if last is not None and last.status != Rewrite.Status.RETURNED:
            raise InvalidTransition("This assignment's rewrite was already submitted.")
        draft = Rewrite(
            campaign=assignment.campaign,
            seed=assignment.seed,
            assignment=assignment,
            author=actor,
            revision=(last.revision + 1) if last else 1,
            previous=last,
            # A returned revision's successor starts from what it was drafted from.
            suggestion_id=last.suggestion_id if last else None,
            version=0,
        )
    draft.text = resolved.text
    draft.difficulty = resolved.difficulty
    draft.natural_language = resolved.natural_language
    draft.subcategory = resolved.subcategory
    draft.check_clear = resolved.checklist["clear"]
    draft.check_ethical = resolved.checklist["ethical"]
    draft.check_solvable = resolved.checklist["solvable"]
    if isinstance(resolved.suggestion_id, int):
        # Sticky: None (or left out) never clears a recorded suggestion, see ``DraftInput``.
        draft.suggestion_id = resolved.suggestion_id
    draft.version = current_version + 1
    if created:
        draft.save()
    else:
        draft.save(
            update_fields=[
                "text",
                "difficulty",
                "natural_language",
                "subcategory",
                "check_clear",
                "check_ethical",
                "check_solvable",
                "suggestion",
                "version",
                "updated_at",
            ]
        )
    rewrite_languages_set(rewrite=draft, languages=resolved.languages)
    if assignment.lease_expires_at is not None:
        assignment.lease_expires_at = lease_end(assignment.campaign, timezone.now())
        assignment.save(update_fields=["lease_expires_at", "updated_at"])
    if created:
        event_record(
            campaign=assignment.campaign,
            actor=actor,
            kind=EventKind.REWRITE_DRAFT_STARTED,
            obj=draft,
            to_state=Rewrite.Status.DRAFT,
            data={"revision": draft.revision},
        )
    return draft


def _draft_snapshot(draft: Rewrite | None) -> dict[str, Any] | None:
    if draft is None:
        return None
    return {
        "text": draft.text,
        "difficulty": draft.difficulty,
        "programming_languages": [link.language.name for link in draft.language_links.all()],
        "natural_language": draft.natural_language,
        "subcategory": draft.subcategory.name if draft.subcategory is not None else "",
        "checklist": draft.checklist,
        "suggestion": draft.suggestion_id,
        "version": draft.version,
    }


def rewrite_missing_fields(rewrite: Rewrite | None) -> dict[str, list[str]]:
    """What a rewrite still lacks before it can be submitted, field by field."""
    if rewrite is None:
        rewrite = Rewrite()  # nothing saved yet: everything is missing
    missing: dict[str, list[str]] = {}
    if not rewrite.text.strip():
        missing["text"] = ["the rewrite is empty"]
    if not rewrite.difficulty:
        missing["difficulty"] = ["choose easy, medium or hard"]
    if rewrite.pk is None or not rewrite.language_links.exists():
        missing["programming_languages"] = ["choose at least one programming language"]
    if not rewrite.natural_language:
        missing["natural_language"] = ["choose the natural language of the question"]
    if not rewrite.subcategory_id:
        missing["subcategory"] = ["choose a subcategory"]
    unchecked = [item for item in CHECKLIST_ITEMS if not getattr(rewrite, f"check_{item}")]
    if unchecked:
        missing["checklist"] = [f"confirm '{item}'" for item in unchecked]
    return missing


def rewrite_count_tokens(*, rewrite_id: int) -> int | None:
    """Store the question token count of a rewrite with its campaign's tokenizer. Idempotent;
    returns the count, or None if the rewrite no longer exists."""
    rewrite = Rewrite.objects.select_related("campaign").filter(pk=rewrite_id).first()
    if rewrite is None:
        return None
    tokenizer = rewrite.tokenizer or rewrite.campaign.tokenizer
    tokens = count_tokens(rewrite.text, tokenizer)
    Rewrite.objects.filter(pk=rewrite.pk, text=rewrite.text).update(
        question_tokens=tokens, tokenizer=tokenizer
    )
    return tokens


def rewrites_count_missing_tokens(*, campaign: Any = None) -> int:
    """Count the tokens of every submitted or decided rewrite that has no count yet (a task that
    failed or never ran); returns how many were counted. The beat schedule runs it."""
    missing = Rewrite.objects.filter(question_tokens__isnull=True).exclude(
        status=Rewrite.Status.DRAFT
    )
    if campaign is not None:
        missing = missing.filter(campaign=campaign)
    ids = list(missing.values_list("pk", flat=True))
    for rewrite_id in ids:
        rewrite_count_tokens(rewrite_id=rewrite_id)
    return len(ids)
