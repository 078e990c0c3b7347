"""Reads of model-assisted curation, for the pages and the API. Never calls a model.

Shared by the helpers of issue 16: each adds its reads at the end of this file."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Left
from django.utils import timezone

from core import access
from core.labels import label

from . import prompts
from .models import (
    Assignment,
    AssistPrompt,
    AssistPurpose,
    AssistSettings,
    CallPurpose,
    Campaign,
    DraftSuggestion,
    ModelCall,
    Role,
    Seed,
    SeedClassificationJob,
    SeedSuggestion,
)
from .selectors import campaign_for_member

# --- draft suggestions (annotate page) -------------------------------------------------------


def draft_suggestions_offered(campaign: Campaign) -> AssistSettings | None:
    """The campaign's model settings when its annotators may ask for draft suggestions
    (assistance on and ``suggest_drafts``), else None. One query; the endpoint is not checked
    (asking tells the annotator what is missing)."""
    config = (
        AssistSettings.objects.filter(campaign=campaign)
        .only("id", "campaign_id", "enabled", "suggest_drafts", "model", "stream")
        .first()
    )
    if config is None or not config.enabled or not config.suggest_drafts:
        return None
    return config


def draft_suggestion_latest(assignment: Assignment) -> DraftSuggestion | None:
    """The newest suggestion made for ``assignment`` (with its call, for the token counts), or
    None. One query, however many there are."""
    return (
        DraftSuggestion.objects.filter(assignment=assignment)
        .select_related("call")
        .order_by("-id")
        .first()
    )


def assignment_for_suggestion(*, user: Any, assignment_id: int) -> Assignment:
    """The annotator's own assignment (any status), without its revisions: what the suggestion
    endpoints need. NotFound for anyone else's; NotAllowed for a member who is not an
    annotator (as the other assignment endpoints)."""
    assignment = Assignment.objects.select_related("campaign").filter(pk=assignment_id).first()
    return access.require_object(
        user,
        assignment,
        role=Role.ANNOTATOR,
        owner_field="annotator_id",
        missing="No such assignment.",
    )


# --- settings, prompts and usage (curators: the settings page and API) ----------------------

USAGE_DAYS = 30
RECENT_CALLS = 20
PROMPT_VERSIONS_SHOWN = 50
USAGE_KEYS = ("calls", "failed", "tokens_in", "tokens_out", "estimated", "mean_duration_ms")


def assist_settings_current(campaign: Campaign) -> AssistSettings:
    """The campaign's model settings (one query); an unsaved default (off) when it has none."""
    found = AssistSettings.objects.select_related("updated_by").filter(campaign=campaign).first()
    return found if found is not None else AssistSettings(campaign=campaign)


def assist_prompt_newest_number(campaign: Campaign, purpose: str) -> int:
    """The number of the campaign's newest saved ``purpose`` prompt (0: none saved)."""
    newest = (
        AssistPrompt.objects.filter(campaign=campaign, purpose=purpose)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    return int(newest or 0)


def assist_prompts(campaign: Campaign) -> list[dict[str, Any]]:
    """Per purpose (classify, draft, hint): the prompt in use (the newest saved version, else
    the built-in one), the built-in text and the saved versions, newest first (one query)."""
    saved: dict[str, list[AssistPrompt]] = {purpose: [] for purpose in AssistPurpose.values}
    for version in (
        AssistPrompt.objects.filter(campaign=campaign)
        .select_related("author")
        .order_by("purpose", "-number")
    ):
        if len(saved[version.purpose]) < PROMPT_VERSIONS_SHOWN:
            saved[version.purpose].append(version)
    out = []
    for purpose, purpose_label in AssistPurpose.choices:
        versions = saved[purpose]
        builtin = prompts.INSTRUCTIONS[purpose]
        newest = versions[0] if versions else None
        text = newest.text if newest else builtin
        out.append(
            {
                "purpose": purpose,
                "label": purpose_label,
                "in_use": {
                    "version": prompts.campaign_version(newest.number)
                    if newest
                    else prompts.BUILTIN_VERSION,
                    "number": newest.number if newest else 0,
                    "text": text,
                    "author": newest.author.get_username() if newest and newest.author else None,
                    "created_at": newest.created_at if newest else None,
                    "is_builtin_text": text == builtin,
                },
                "builtin": {"version": prompts.BUILTIN_VERSION, "text": builtin},
                "versions": [
                    {
                        "number": v.number,
                        "version": prompts.campaign_version(v.number),
                        "text": v.text,
                        "author": v.author.get_username() if v.author else None,
                        "created_at": v.created_at,
                        "chars": len(v.text),
                        "is_builtin_text": v.text == builtin,
                    }
                    for v in versions
                ],
            }
        )
    return out


def _usage_aggregates(since: Any) -> dict[str, Any]:
    """Calls, failures, tokens in and out, calls with estimated tokens and the mean latency of
    answered calls, over all time (prefix ``all_``) and since ``since`` (``recent_``)."""
    ok = Q(status=ModelCall.Status.OK)
    failed = Q(status=ModelCall.Status.FAILED)
    estimated = Q(tokens_estimated=True)
    out: dict[str, Any] = {}
    for prefix, window in (("all_", Q()), ("recent_", Q(created_at__gte=since))):
        out |= {
            prefix + "calls": Count("pk", filter=window),
            prefix + "failed": Count("pk", filter=window & failed),
            prefix + "tokens_in": Sum("tokens_in", filter=window),
            prefix + "tokens_out": Sum("tokens_out", filter=window),
            prefix + "estimated": Count("pk", filter=window & estimated),
            prefix + "mean_duration_ms": Avg("duration_ms", filter=window & ok),
        }
    return out


def _usage_windows(row: dict[str, Any]) -> dict[str, dict[str, int | None]]:
    def window(prefix: str) -> dict[str, int | None]:
        out: dict[str, int | None] = {key: int(row[prefix + key] or 0) for key in USAGE_KEYS}
        mean = row[prefix + "mean_duration_ms"]
        out["mean_duration_ms"] = round(mean) if mean is not None else None
        return out

    return {"all_time": window("all_"), "last_30_days": window("recent_")}


def model_calls_recent(campaign: Campaign, *, limit: int = RECENT_CALLS) -> list[ModelCall]:
    """The campaign's last ``limit`` model calls, newest first, with who made them."""
    return list(
        ModelCall.objects.filter(campaign=campaign)
        .select_related("actor")
        .order_by("-created_at", "-pk")[:limit]
    )


def assist_usage(campaign: Campaign, *, now: Any = None) -> dict[str, Any]:
    """The campaign's model usage, counted by the database (three queries whatever the number
    of calls): per purpose and model, and in total, the calls, failures, tokens in and out,
    calls whose tokens were estimated and the mean latency of answered calls, over all time
    and the last 30 days; then the last 20 calls, newest first."""
    since = (now or timezone.now()) - timedelta(days=USAGE_DAYS)
    calls = ModelCall.objects.filter(campaign=campaign)
    aggregates = _usage_aggregates(since)
    rows = calls.values("purpose", "model").annotate(**aggregates).order_by("purpose", "model")
    return {
        "days": USAGE_DAYS,
        "since": since,
        "rows": [
            {
                "purpose": row["purpose"],
                "purpose_label": label(row["purpose"], CallPurpose),
                "model": row["model"],
                **_usage_windows(row),
            }
            for row in rows
        ],
        "totals": _usage_windows(calls.aggregate(**aggregates)),
        "recent": model_calls_recent(campaign),
    }


# --- seed classification (curator's seeds pages and API) -------------------------------------


SNIPPET_CHARS = 200


def seeds_awaiting_classification(*, campaign: Campaign) -> QuerySet[Seed]:
    """The campaign's seeds a classification job asks the model about: no subcategory, and no
    suggestion waiting for a curator's decision."""
    waiting = SeedSuggestion.objects.filter(
        seed=OuterRef("pk"), status=SeedSuggestion.Status.SUGGESTED
    )
    return Seed.objects.filter(campaign=campaign, subcategory__isnull=True).exclude(Exists(waiting))


def classification_jobs_for_curator(
    *, user: Any, slug: str
) -> tuple[Campaign, QuerySet[SeedClassificationJob]]:
    """The campaign's classification jobs, newest first (curators)."""
    campaign = campaign_for_member(user=user, slug=slug, role=Role.CURATOR)
    qs = (
        SeedClassificationJob.objects.filter(campaign=campaign)
        .select_related("campaign", "created_by")
        .order_by("-created_at", "-id")
    )
    return campaign, qs


def classification_job_for_curator(*, user: Any, job_id: int) -> SeedClassificationJob:
    """One classification job of a campaign where ``user`` is a curator; NotFound if it does
    not exist or is another campaign's, NotAllowed for a member who is not a curator."""
    job = (
        SeedClassificationJob.objects.select_related("campaign", "created_by")
        .filter(pk=job_id)
        .first()
    )
    return access.require_object(
        user, job, role=Role.CURATOR, missing="No such classification job."
    )


def seed_suggestions_for_curator(
    *,
    user: Any,
    slug: str,
    status: str | None = None,
    subcategory: str | None = None,
    job_id: int | None = None,
) -> tuple[Campaign, QuerySet[SeedSuggestion]]:
    """The campaign's seed suggestions, oldest first, with their seeds (title and a snippet,
    not the whole text) and subcategories (curators). ``subcategory`` matches a full or short
    name in any case."""
    campaign = campaign_for_member(user=user, slug=slug, role=Role.CURATOR)
    qs = (
        SeedSuggestion.objects.filter(campaign=campaign)
        .select_related("seed__subcategory", "subcategory__category", "decided_by")
        .defer("seed__body", "seed__answer", "seed__metadata")
        .annotate(seed_snippet=Left("seed__body", SNIPPET_CHARS))
        .order_by("id")
    )
    if status:
        qs = qs.filter(status=status)
    if subcategory:
        qs = qs.filter(
            Q(subcategory__name__iexact=subcategory.strip())
            | Q(subcategory__short_name__iexact=subcategory.strip())
        )
    if job_id is not None:
        qs = qs.filter(job_id=job_id)
    return campaign, qs


@dataclass
class ClassificationOverview:
    """What the seeds page shows of model classification."""

    enabled: bool
    model: str
    without_subcategory: int  # seeds
    awaiting: int  # seeds without a subcategory and without a waiting suggestion
    suggested: int  # suggestions waiting for a decision
    job: SeedClassificationJob | None  # the open job, else the newest one

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.status in ("queued", "running")


def seed_classification_overview(*, campaign: Campaign) -> ClassificationOverview:
    """Counts for the classification section of the seeds page (five queries at most)."""
    config = (
        AssistSettings.objects.filter(campaign=campaign).only("campaign_id", "enabled", "model")
    ).first()
    open_job = (
        SeedClassificationJob.objects.filter(campaign=campaign)
        .select_related("created_by")
        .order_by("-created_at", "-id")
        .first()
    )
    without = Seed.objects.filter(campaign=campaign, subcategory__isnull=True).count()
    return ClassificationOverview(
        enabled=bool(config and config.enabled),
        model=config.model if config else "",
        without_subcategory=without,
        awaiting=seeds_awaiting_classification(campaign=campaign).count() if without else 0,
        suggested=SeedSuggestion.objects.filter(
            campaign=campaign, status=SeedSuggestion.Status.SUGGESTED
        ).count(),
        job=open_job,
    )
