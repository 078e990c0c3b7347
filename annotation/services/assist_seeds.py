"""Seed classification by the campaign's model, and the curator's decisions on its suggestions.

``SeedClassificationJob``: queued -> running -> done | failed. ``seed_classification_start`` (a
curator; ``annotation.jobs.seed_classification_start`` also enqueues the job) records a queued
job for the seeds that have no subcategory and no suggestion waiting for a decision;
``seed_classification_run`` (the Celery task) asks the model for each such seed's subcategory,
``concurrency`` calls at a time, and writes one ``SeedSuggestion`` per seed:

- ``suggested`` with the subcategory when the answer names one of the taxonomy (full or short
  name, any case); an answer outside it is asked again once, with the list;
- ``unclassified`` with the model's last answer when it named none twice;
- ``failed`` with the error when the endpoint failed (down, timed out, refused the key, ...).

A call refused by the campaign's own limits (calls per minute, at once) is not a failure: the
seed waits ``retry_after`` and is asked again, so a large batch keeps to the limit instead of
failing; the endpoint's own rate limit is waited for a few times, then the seed fails. The
job's progress (counts, message) is written at most about once a second.

A job survives a dead worker: a running job whose calls and suggestions have been quiet for
``STALE_AFTER`` (more for a long timeout) and a queued job nobody took for
``QUEUED_STALE_AFTER`` are enqueued again by the sweep (``seed_classifications_stale``). The
task that takes a job over goes on where it stopped (seeds this job already wrote a suggestion
for are skipped); after ``MAX_ATTEMPTS`` starts the job is failed with the reason.

Suggestions: suggested -> accepted (``seed_suggestions_accept``: the seed takes the
subcategory, or the one the curator chose instead) | dismissed (``seed_suggestions_dismiss``),
in bulk or one by one, each with its Event. A seed that got a subcategory meanwhile keeps it:
its suggestion is dismissed instead.
"""

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from core import access, llm
from core.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    Throttled,
    Unavailable,
    ValidationFailed,
)
from core.transitions import EventKind, event_record, transition, transition_many

from .. import prompts
from ..models import (
    AssistPurpose,
    AssistSettings,
    Campaign,
    Event,
    ModelCall,
    Role,
    Seed,
    SeedClassificationJob,
    SeedSuggestion,
    Subcategory,
)
from ..selectors_assist import seeds_awaiting_classification
from ..vocabulary import Vocabulary
from .assist import CallResult, Prompt, call_failed, endpoint_for, model_call, prompt_in_use

Job = SeedClassificationJob
Suggestion = SeedSuggestion

# A running job with no call and no suggestion for this long (or twice its timeout and two
# minutes, if longer) lost its worker; a queued job nobody took for QUEUED_STALE_AFTER lost its
# message. The sweep enqueues both again.
STALE_AFTER = timedelta(minutes=5)
QUEUED_STALE_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 3
# Progress is written when a second passed or this many seeds were done since the last write.
PROGRESS_SECONDS = 1.0
PROGRESS_SEEDS = 50
# Seeds whose texts are read at once (the job holds only ids otherwise).
BATCH = 200
# Waiting for a limit: one wait is at most a minute's window (and a margin); a seed waits at
# most THROTTLE_GIVE_UP in all, and the endpoint's own rate limit is waited for this often.
THROTTLE_WAIT_MAX = 65.0
THROTTLE_GIVE_UP = 15 * 60.0
ENDPOINT_THROTTLE_RETRIES = 3
REPORTED_IDS = 100


def _wait(seconds: float) -> None:
    """Sleep before asking again under a limit (tests replace it)."""
    time.sleep(seconds)


# --- starting --------------------------------------------------------------------------------


def _open_job(campaign: Campaign) -> Job | None:
    return (
        Job.objects.filter(campaign=campaign, status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
        .order_by("-id")
        .first()
    )


def _busy(job: Job) -> Conflict:
    return Conflict(
        f"Classification job {job.pk} is already {job.get_status_display().lower()} in this "
        "campaign; wait for it to end (follow its progress) before starting another.",
        details={"job": job.pk},
    )


@transaction.atomic
def seed_classification_start(*, campaign: Campaign, actor: Any) -> Job:
    """Record a queued job that asks the campaign's model for the subcategory of every seed
    without one (and without a suggestion waiting for a decision). The job is enqueued by
    ``annotation.jobs.seed_classification_start``.

    Raises NotFound / NotAllowed (not a curator), InvalidTransition (model assistance is off),
    Unavailable (it is on but not configured: no URL or model, the key's variable unset),
    Conflict (a job of the campaign is queued or running: it is named) and ValidationFailed
    (no seed to classify)."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    config, endpoint = endpoint_for(campaign, purpose=AssistPurpose.CLASSIFY)
    # One starter at a time per campaign; the constraint backs it.
    Campaign.objects.select_for_update(no_key=True).filter(pk=campaign.pk).first()
    running = _open_job(campaign)
    if running is not None:
        raise _busy(running)
    seeds = seeds_awaiting_classification(campaign=campaign).count()
    if seeds == 0:
        raise ValidationFailed(
            "There is nothing to classify: every seed has a subcategory (or a suggestion "
            "waiting for your decision).",
            details={"errors": {"seeds": ["every seed has a subcategory"]}},
        )
    if not Subcategory.objects.filter(campaign=campaign).exists():
        raise ValidationFailed(
            "The campaign has no subcategories to classify seeds into; install a taxonomy first.",
            details={"errors": {"taxonomy": ["no subcategories"]}},
        )
    prompt = prompt_in_use(campaign, AssistPurpose.CLASSIFY)
    try:
        with transaction.atomic():
            job = Job.objects.create(
                campaign=campaign,
                total=seeds,
                model=endpoint.model,
                prompt_version=prompt.version,
                created_by=actor,
                message=f"{seeds} seeds to classify; waiting for a worker",
            )
    except IntegrityError:  # another start won the race (outside the campaign lock)
        running = _open_job(campaign)
        if running is None:
            raise
        raise _busy(running) from None
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.SEED_CLASSIFICATION_QUEUED,
        obj=job,
        to_state=Job.Status.QUEUED,
        data={
            "seeds": seeds,
            "model": endpoint.model,
            "prompt_version": prompt.version,
            "concurrency": config.concurrency,
        },
    )
    return job


def seed_classification_enqueue_failed(*, job_id: int, error: str) -> None:
    """Record that the broker refused a job's task (the sweep enqueues it again later)."""
    Job.objects.filter(pk=job_id, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).update(
        message=f"enqueue failed, will retry: {error}"[:300]
    )


# --- running ---------------------------------------------------------------------------------


@dataclass
class Tally:
    """What a job did so far: suggestions written by outcome, and the seeds it has in all."""

    total: int = 0
    suggested: int = 0
    unclassified: int = 0
    failed: int = 0
    skipped: int = 0  # a suggestion appeared meanwhile (another run): nothing written

    @property
    def done(self) -> int:
        return self.suggested + self.unclassified + self.failed + self.skipped

    def add(self, outcome: str) -> None:
        if outcome == Suggestion.Status.SUGGESTED:
            self.suggested += 1
        elif outcome == Suggestion.Status.UNCLASSIFIED:
            self.unclassified += 1
        elif outcome == Suggestion.Status.FAILED:
            self.failed += 1
        else:
            self.skipped += 1

    def percent(self) -> int:
        return min(self.done * 100 // self.total, 99) if self.total else 99

    def message(self) -> str:
        return (
            f"{self.done} of {self.total} seeds: {self.suggested} suggested, "
            f"{self.unclassified} left unclassified, {self.failed} failed"
        )

    def counts(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "done_count": self.done,
            "classified": self.suggested,
            "unclassified": self.unclassified,
            "failed": self.failed,
        }

    @classmethod
    def of_job(cls, job: Job) -> "Tally":
        """The suggestions an earlier attempt of ``job`` wrote (a resumed job counts them)."""
        tally = cls()
        for status, n in (
            Suggestion.objects.filter(job=job).values_list("status").annotate(n=Count("id"))
        ):
            if status == Suggestion.Status.UNCLASSIFIED:
                tally.unclassified += n
            elif status == Suggestion.Status.FAILED:
                tally.failed += n
            else:  # suggested, or decided on since
                tally.suggested += n
        return tally


class _TakenOver(Exception):
    """Another worker took the job over, or it ended meanwhile: stop quietly."""


class _Stopping(Exception):
    """The job is stopping: a seed being classified is dropped without a suggestion."""


@dataclass(frozen=True)
class _Seed:
    pk: int
    title: str
    body: str


@dataclass
class _Context:
    job: Job
    campaign: Campaign
    config: AssistSettings
    endpoint: llm.Endpoint
    prompt: Prompt
    taxonomy: list[tuple[str, str]]
    vocabulary: Vocabulary
    stopping: threading.Event = field(default_factory=threading.Event)


def _load(job_id: int) -> Job:
    job = Job.objects.select_related("campaign", "created_by").filter(pk=job_id).first()
    if job is None:
        raise NotFound("No such classification job.")
    return job


def _attempts(job: Job) -> int:
    return Event.objects.filter(
        object_type=Job._meta.model_name,
        object_id=job.pk,
        kind=EventKind.SEED_CLASSIFICATION_STARTED,
    ).count()


def _quiet_for(config: AssistSettings) -> timedelta:
    """How long a live job can go without a call or a suggestion: one slow call retried."""
    return max(STALE_AFTER, timedelta(seconds=2 * config.timeout_seconds + 120))


def _last_activity(job: Job) -> datetime | None:
    """When the running job last showed life: its start, its newest suggestion or the newest
    classification call of its campaign since its start."""
    stamps = [job.started_at]
    if job.started_at is not None:
        stamps.append(Suggestion.objects.filter(job=job).aggregate(last=Max("created_at"))["last"])
        stamps.append(
            ModelCall.objects.filter(
                campaign_id=job.campaign_id,
                purpose=AssistPurpose.CLASSIFY,
                created_at__gte=job.started_at,
            ).aggregate(last=Max("created_at"))["last"]
        )
    known = [s for s in stamps if s is not None]
    return max(known) if known else None


def _is_lost(job: Job, now: datetime) -> bool:
    """A running job whose worker is gone: quiet for longer than a live one can be."""
    if job.status != Job.Status.RUNNING:
        return False
    last = _last_activity(job)
    config = AssistSettings.objects.filter(campaign_id=job.campaign_id).first()
    quiet = _quiet_for(config) if config is not None else STALE_AFTER
    return last is None or last < now - quiet


def _finish(
    job: Job,
    *,
    to: str,
    claimed: datetime | None,
    data: dict[str, Any],
    extra: dict[str, Any],
) -> bool:
    """Move the job this worker holds to done or failed, with its event; False if another
    worker took it over (or it ended) meanwhile."""
    kind = (
        EventKind.SEED_CLASSIFICATION_DONE
        if to == Job.Status.DONE
        else EventKind.SEED_CLASSIFICATION_FAILED
    )
    try:
        with transaction.atomic():
            transition(
                job,
                to=to,
                allowed=Job.TRANSITIONS,
                kind=kind,
                actor=job.created_by,
                data=data,
                where=Q(started_at=claimed),
                extra={"finished_at": timezone.now(), **extra},
            )
    except InvalidTransition:
        return False
    return True


def _fail(job: Job, message: str, *, claimed: datetime | None) -> bool:
    return _finish(
        job,
        to=Job.Status.FAILED,
        claimed=claimed,
        data={"error": message[:1000]},
        extra={"error": message, "message": message[:300]},
    )


def _claim(job: Job, now: datetime) -> datetime | None:
    """Take the job for this worker: a queued one (queued -> running), or a running one whose
    worker is gone (``_is_lost``), as a new attempt. Returns the claim (the new
    ``started_at``), or None when the job is not this worker's to run."""
    if job.status == Job.Status.QUEUED:
        try:
            with transaction.atomic():
                transition(
                    job,
                    to=Job.Status.RUNNING,
                    allowed=Job.TRANSITIONS,
                    kind=EventKind.SEED_CLASSIFICATION_STARTED,
                    actor=job.created_by,
                    data={"attempt": 1},
                    extra={"started_at": now, "message": "starting"},
                )
        except InvalidTransition:
            return None  # another worker took it first
        return now
    if not _is_lost(job, now):
        return None  # done, failed, or running in a live worker: leave it alone
    attempts = _attempts(job)
    if attempts >= MAX_ATTEMPTS:
        _fail(
            job,
            f"Gave up after {attempts} attempts: the worker classifying these seeds stopped "
            "each time. Check the worker's log, then start the classification again (seeds "
            "already suggested are skipped).",
            claimed=job.started_at,
        )
        return None
    with transaction.atomic():
        taken = Job.objects.filter(
            pk=job.pk, status=Job.Status.RUNNING, started_at=job.started_at
        ).update(started_at=now, message="resuming: the earlier worker stopped")
        if not taken:
            return None
        job.started_at = now
        event_record(
            campaign=job.campaign_id,
            actor=job.created_by,
            kind=EventKind.SEED_CLASSIFICATION_STARTED,
            obj=job,
            from_state=Job.Status.RUNNING,
            to_state=Job.Status.RUNNING,
            data={"attempt": attempts + 1, "resumed": True},
        )
    return now


def seed_classification_run(*, job_id: int) -> Job:
    """The job (a Celery task): classify the campaign's seeds that have no subcategory and no
    open suggestion, and none from this job yet -> done with the counts, or failed (an error
    that stopped it: the endpoint switched off or unconfigured meanwhile, an internal error,
    re-raised for the worker's log).

    Idempotent: a job that is not queued is left alone, unless its worker is gone (see the
    module); then this task takes it over and goes on where it stopped."""
    job = _load(job_id)
    claimed = _claim(job, timezone.now())
    if claimed is None:
        job.refresh_from_db()
        return job
    try:
        tally = _classify_all(job, claimed=claimed)
    except _TakenOver:
        pass
    except Exception as exc:
        if isinstance(exc, DomainError):
            message = exc.message
        elif isinstance(exc, SoftTimeLimitExceeded):
            limit = int(getattr(settings, "CURATION_JOB_TIME_LIMIT", 3600)) // 60
            message = (
                f"The classification took longer than the {limit}-minute time limit "
                "(CURATION_JOB_TIME_LIMIT). Start it again to go on: seeds with a suggestion "
                "are skipped."
            )
        else:
            message = f"internal error: {exc!r}"
        _fail(job, message, claimed=claimed)
        if not isinstance(exc, DomainError | SoftTimeLimitExceeded):
            raise
    else:
        _finish(
            job,
            to=Job.Status.DONE,
            claimed=claimed,
            data={
                "seeds": tally.total,
                "suggested": tally.suggested,
                "unclassified": tally.unclassified,
                "failed": tally.failed,
            },
            extra={**tally.counts(), "progress": 100, "message": tally.message()},
        )
    job.refresh_from_db()
    return job


def _taxonomy(campaign: Campaign) -> list[tuple[str, str]]:
    return [
        (sub.category.name, sub.name)
        for sub in Subcategory.objects.filter(campaign=campaign)
        .select_related("category")
        .order_by("category__position", "category__name", "position", "name")
    ]


def _write_progress(job: Job, claimed: datetime, tally: Tally, **extra: Any) -> None:
    """Progress is not a status change: no event, and only while this worker holds the job."""
    held = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, started_at=claimed).update(
        progress=tally.percent(), message=tally.message()[:300], **tally.counts(), **extra
    )
    if not held:
        raise _TakenOver
    # A curator who switches assistance off stops a running job at its next progress write
    # (about a second): the suggestions made so far stay.
    if not AssistSettings.objects.filter(campaign_id=job.campaign_id, enabled=True).exists():
        raise InvalidTransition(
            "Model assistance was switched off in the campaign's settings, so the "
            "classification stopped; the suggestions made so far are kept."
        )


def _workers(config: AssistSettings) -> int:
    # An in-memory SQLite database (the test default) locks whole tables across connections:
    # its writers would collide, so the seeds are classified one at a time in this thread.
    in_memory: Callable[[], bool] = getattr(connection, "is_in_memory_db", lambda: False)
    if connection.vendor == "sqlite" and in_memory():
        return 0
    return max(1, config.concurrency)


def _seeds(ids: list[int]) -> Iterator[_Seed]:
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        rows = dict(
            (pk, _Seed(pk, title, body))
            for pk, title, body in Seed.objects.filter(pk__in=chunk).values_list(
                "pk", "title", "body"
            )
        )
        yield from (rows[pk] for pk in chunk if pk in rows)


def _classify_all(job: Job, *, claimed: datetime) -> Tally:
    campaign = job.campaign
    config, endpoint = endpoint_for(campaign, purpose=AssistPurpose.CLASSIFY)
    prompt = prompt_in_use(campaign, AssistPurpose.CLASSIFY)
    taxonomy = _taxonomy(campaign)
    if not taxonomy:
        raise ValidationFailed("The campaign has no subcategories to classify seeds into.")
    tally = Tally.of_job(job)
    ids = list(
        seeds_awaiting_classification(campaign=campaign)
        .exclude(Exists(Suggestion.objects.filter(job=job, seed=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    tally.total = tally.done + len(ids)
    _write_progress(job, claimed, tally, model=endpoint.model, prompt_version=prompt.version)
    context = _Context(
        job=job,
        campaign=campaign,
        config=config,
        endpoint=endpoint,
        prompt=prompt,
        taxonomy=taxonomy,
        vocabulary=Vocabulary.for_campaign(campaign),
    )
    progress = _Progress(job, claimed, tally)
    workers = _workers(config)
    if workers == 0:
        for seed in _seeds(ids):
            tally.add(_classify_seed(context, seed))
            progress.maybe_write()
        return tally
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"classify-{job.pk}") as pool:
        try:
            _run_pool(pool, context, _seeds(ids), tally, progress, workers)
        except BaseException:
            context.stopping.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return tally


class _Progress:
    def __init__(self, job: Job, claimed: datetime, tally: Tally) -> None:
        self.job, self.claimed, self.tally = job, claimed, tally
        self.written_at = time.monotonic()
        self.written_done = tally.done

    def maybe_write(self) -> None:
        now = time.monotonic()
        if (
            now - self.written_at >= PROGRESS_SECONDS
            or self.tally.done - self.written_done >= PROGRESS_SEEDS
        ):
            _write_progress(self.job, self.claimed, self.tally)
            self.written_at, self.written_done = now, self.tally.done


def _run_pool(
    pool: ThreadPoolExecutor,
    context: _Context,
    seeds: Iterator[_Seed],
    tally: Tally,
    progress: _Progress,
    workers: int,
) -> None:
    """Keep ``workers`` seeds (and as many waiting) in the pool; tally each as it ends."""
    in_flight: set[Future[str]] = set()

    def fill() -> None:
        while len(in_flight) < 2 * workers:
            seed = next(seeds, None)
            if seed is None:
                return
            in_flight.add(pool.submit(_classify_seed_in_thread, context, seed))

    fill()
    while in_flight:
        finished, _pending = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in finished:
            in_flight.discard(future)
            tally.add(future.result())  # an unexpected error in a worker stops the job
        progress.maybe_write()
        fill()


def _classify_seed_in_thread(context: _Context, seed: _Seed) -> str:
    """A pool thread's share: its own database connection, closed when the seed is done (a
    thread of the pool would otherwise keep it open until the job ends)."""
    try:
        return _classify_seed(context, seed)
    finally:
        connections.close_all()


def _ask(context: _Context, messages: list[dict[str, str]]) -> CallResult:
    """One model call under the campaign's limits. A call the campaign's limit refuses waits
    ``retry_after`` (bounded) and is made again; so is one the endpoint rate-limits, a few
    times. Raises Unavailable, Throttled (gave up) and _Stopping."""
    waited = 0.0
    endpoint_refusals = 0
    while True:
        if context.stopping.is_set():
            raise _Stopping
        try:
            return model_call(
                campaign=context.campaign,
                actor=context.job.created_by,
                purpose=AssistPurpose.CLASSIFY,
                messages=messages,
                prompt_version=context.prompt.version,
                config=context.config,
                endpoint=context.endpoint,
                interactive=False,
            )
        except Throttled as exc:
            if exc.details.get("reason") != "limit":  # the endpoint's own rate limit
                endpoint_refusals += 1
                if endpoint_refusals > ENDPOINT_THROTTLE_RETRIES:
                    raise
            retry_after = exc.details.get("retry_after")
            seconds = min(max(float(retry_after or 1.0), 0.2), THROTTLE_WAIT_MAX)
            if waited + seconds > THROTTLE_GIVE_UP:
                raise
            _wait(seconds)
            waited += seconds


def _not_in_taxonomy(context: _Context, result: CallResult) -> None:
    call_failed(
        result.call,
        llm.malformed(context.endpoint, "it named no subcategory of the campaign's taxonomy"),
    )


def _classify_seed(context: _Context, seed: _Seed) -> str:
    """Ask for one seed's subcategory (again once, if the answer is outside the taxonomy) and
    write its suggestion. Returns the suggestion's status ("skipped": none written)."""
    messages = prompts.classify_messages(
        instructions=context.prompt.instructions,
        taxonomy=context.taxonomy,
        title=seed.title,
        body=seed.body,
    )
    try:
        result = _ask(context, messages)
        answer = result.completion.text
        subcategory = context.vocabulary.subcategory(prompts.parse_classification(answer))
        if subcategory is None:
            _not_in_taxonomy(context, result)
            result = _ask(context, prompts.classify_retry_messages(messages, answer))
            answer = result.completion.text
            subcategory = context.vocabulary.subcategory(prompts.parse_classification(answer))
            if subcategory is None:
                _not_in_taxonomy(context, result)
                return _suggest(
                    context,
                    seed,
                    status=Suggestion.Status.UNCLASSIFIED,
                    raw_answer=" ".join(answer.split())[:300],
                )
    except _Stopping:
        return "skipped"
    except (Unavailable, Throttled) as exc:
        return _suggest(context, seed, status=Suggestion.Status.FAILED, error=exc.message[:300])
    return _suggest(context, seed, status=Suggestion.Status.SUGGESTED, subcategory=subcategory)


def _suggest(
    context: _Context,
    seed: _Seed,
    *,
    status: str,
    subcategory: Subcategory | None = None,
    raw_answer: str = "",
    error: str = "",
) -> str:
    if context.stopping.is_set():
        return "skipped"
    try:
        with transaction.atomic():
            Suggestion.objects.create(
                campaign=context.campaign,
                seed_id=seed.pk,
                job=context.job,
                subcategory=subcategory,
                status=status,
                model=context.endpoint.model,
                prompt_version=context.prompt.version,
                raw_answer=raw_answer,
                error=error,
            )
    except IntegrityError:
        return "skipped"  # an open suggestion for this seed appeared meanwhile
    return status


def seed_classifications_stale(*, now: datetime | None = None) -> list[int]:
    """Jobs whose worker is gone (running, quiet: see the module) or whose message never
    reached a worker (queued for QUEUED_STALE_AFTER). The sweep enqueues them again; a job
    running in a live worker refuses a second claim, so enqueueing one twice is safe."""
    now = now or timezone.now()
    stale = list(
        Job.objects.filter(
            status=Job.Status.QUEUED, created_at__lt=now - QUEUED_STALE_AFTER
        ).values_list("pk", flat=True)
    )
    for job in Job.objects.filter(status=Job.Status.RUNNING, started_at__lt=now - STALE_AFTER):
        if _is_lost(job, now):
            stale.append(job.pk)
    return stale


# --- deciding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuggestionDecisions:
    """What a decision did: suggestions accepted and dismissed, those chosen that were no
    longer waiting (``skipped``), and the seeds that got a subcategory meanwhile (their
    suggestions dismissed instead of accepted), by external id."""

    accepted: int = 0
    dismissed: int = 0
    skipped: int = 0
    already_classified: list[str] = field(default_factory=list)


def _lock(
    *, campaign: Campaign, actor: Any, ids: Iterable[int] | None, all_suggested: bool
) -> tuple[list[Suggestion], bool]:
    """The chosen suggestions, locked, and whether they were chosen by id. NotFound (nothing
    changes) when an id is not a suggestion of the campaign."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    base = (
        Suggestion.objects.filter(campaign=campaign)
        .select_for_update(no_key=True, of=("self",))
        .select_related("seed", "subcategory")
        .order_by("pk")
    )
    if all_suggested:
        return list(base.filter(status=Suggestion.Status.SUGGESTED)), False
    wanted = sorted(set(ids or ()))
    if not wanted:
        raise ValidationFailed(
            "Choose the suggestions to decide on, or all of them.",
            details={"errors": {"ids": ["choose at least one suggestion, or send all: true"]}},
        )
    rows = list(base.filter(pk__in=wanted))
    missing = sorted(set(wanted) - {row.pk for row in rows})
    if missing:
        shown = ", ".join(str(pk) for pk in missing[:10])
        raise NotFound(
            f"No such suggestion in this campaign: {shown}. Nothing was changed.",
            details={"unknown_ids": missing[:REPORTED_IDS]},
        )
    return rows, True


def _decided_already(by_id: bool, open_rows: list[Suggestion]) -> None:
    if by_id and not open_rows:
        raise InvalidTransition(
            "These suggestions were already decided on (or the model left the seeds "
            "unclassified); reload to see them as they are."
        )


def _move(
    rows: list[Suggestion],
    *,
    to: str,
    actor: Any,
    campaign: Campaign,
    reason: str = "",
    chosen: Mapping[int, Subcategory] | None = None,
) -> int:
    if not rows:
        return 0
    kind = (
        EventKind.SEED_SUGGESTION_ACCEPTED
        if to == Suggestion.Status.ACCEPTED
        else EventKind.SEED_SUGGESTION_DISMISSED
    )
    by_pk = {row.pk: row for row in rows}

    def data(pk: int) -> dict[str, Any]:
        row = by_pk[pk]
        instead = (chosen or {}).get(pk)
        taken = instead or row.subcategory
        out: dict[str, Any] = {
            "seed": row.seed_id,
            "seed_external_id": row.seed.external_id,
            "subcategory": taken.name if taken else None,
        }
        if instead is not None:
            # The curator accepted the seed's classification with another subcategory.
            out["suggested"] = row.subcategory.name if row.subcategory else None
        if reason:
            out["reason"] = reason
        return out

    moved = transition_many(
        Suggestion,
        list(by_pk),
        from_state=Suggestion.Status.SUGGESTED,
        to=to,
        allowed=Suggestion.TRANSITIONS,
        kind=kind,
        actor=actor,
        campaign=campaign,
        data=data,
        extra={"decided_by": actor, "decided_at": timezone.now()},
    )
    return len(moved)


def _chosen_instead(
    campaign: Campaign, rows: list[Suggestion], subcategories: Mapping[int, int] | None
) -> dict[int, Subcategory]:
    """The subcategories a curator chose instead of the model's (suggestion id -> subcategory),
    only where they differ. ValidationFailed names every id that is not among the suggestions
    decided on and every subcategory that is not the campaign's."""
    if not subcategories:
        return {}
    by_pk = {row.pk: row for row in rows}
    errors: list[str] = []
    strangers = sorted(set(subcategories) - set(by_pk))
    if strangers:
        errors.append(
            "not among the suggestions accepted: " + ", ".join(str(pk) for pk in strangers[:10])
        )
    found = {
        sub.pk: sub
        for sub in Subcategory.objects.filter(
            campaign=campaign, pk__in=set(subcategories.values())
        ).select_related("category")
    }
    unknown = sorted(set(subcategories.values()) - set(found))
    if unknown:
        errors.append(
            "no such subcategory in this campaign: " + ", ".join(str(pk) for pk in unknown[:10])
        )
    if errors:
        raise ValidationFailed(
            "The subcategories chosen instead of the model's are invalid. Nothing was changed.",
            details={"errors": {"subcategories": errors}},
        )
    return {
        pk: found[sub_id]
        for pk, sub_id in subcategories.items()
        if sub_id != by_pk[pk].subcategory_id
    }


@transaction.atomic
def seed_suggestions_accept(
    *,
    campaign: Campaign,
    actor: Any,
    ids: Iterable[int] | None = None,
    all_suggested: bool = False,
    subcategories: Mapping[int, int] | None = None,
) -> SuggestionDecisions:
    """Accept suggestions (``ids``, or every waiting one with ``all_suggested``): each
    suggested -> accepted with its Event, and its seed takes the subcategory, or the one the
    curator chose instead in ``subcategories`` (suggestion id -> subcategory id; the Event
    then names both). A seed that got a subcategory meanwhile keeps it and its suggestion is
    dismissed (reported). Chosen suggestions that are no longer waiting are skipped.

    Raises NotFound / NotAllowed (not a curator), NotFound for an id that is not a suggestion
    of the campaign (nothing changes), ValidationFailed (nothing chosen, or a subcategory
    chosen for another suggestion or outside the taxonomy) and InvalidTransition (every chosen
    suggestion was already decided on)."""
    rows, by_id = _lock(campaign=campaign, actor=actor, ids=ids, all_suggested=all_suggested)
    instead = _chosen_instead(campaign, rows, subcategories)
    waiting = [row for row in rows if row.status == Suggestion.Status.SUGGESTED]
    _decided_already(by_id, waiting)
    seed_ids = sorted({row.seed_id for row in waiting})
    classified: set[int] = set()
    for start in range(0, len(seed_ids), 1000):
        classified.update(
            Seed.objects.select_for_update(no_key=True)
            .filter(pk__in=seed_ids[start : start + 1000], subcategory__isnull=False)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    accept = [row for row in waiting if row.seed_id not in classified]
    late = [row for row in waiting if row.seed_id in classified]
    accepted = _move(
        accept, to=Suggestion.Status.ACCEPTED, actor=actor, campaign=campaign, chosen=instead
    )
    by_subcategory: dict[int, list[int]] = {}
    for row in accept:
        assert row.subcategory_id is not None  # a constraint: suggested rows have one
        sub_id = instead[row.pk].pk if row.pk in instead else row.subcategory_id
        by_subcategory.setdefault(sub_id, []).append(row.seed_id)
    for subcategory_id, seeds in by_subcategory.items():
        for start in range(0, len(seeds), 1000):
            Seed.objects.filter(
                pk__in=seeds[start : start + 1000], subcategory__isnull=True
            ).update(subcategory_id=subcategory_id)
    dismissed = _move(
        late,
        to=Suggestion.Status.DISMISSED,
        actor=actor,
        campaign=campaign,
        reason="the seed already has a subcategory",
    )
    return SuggestionDecisions(
        accepted=accepted,
        dismissed=dismissed,
        skipped=len(rows) - len(waiting),
        already_classified=[row.seed.external_id for row in late][:REPORTED_IDS],
    )


@transaction.atomic
def seed_suggestions_dismiss(
    *,
    campaign: Campaign,
    actor: Any,
    ids: Iterable[int] | None = None,
    all_suggested: bool = False,
) -> SuggestionDecisions:
    """Dismiss suggestions (``ids``, or every waiting one): each suggested -> dismissed with
    its Event; the seeds are unchanged (a later classification asks for them again). Raises
    as ``seed_suggestions_accept``."""
    rows, by_id = _lock(campaign=campaign, actor=actor, ids=ids, all_suggested=all_suggested)
    waiting = [row for row in rows if row.status == Suggestion.Status.SUGGESTED]
    _decided_already(by_id, waiting)
    dismissed = _move(waiting, to=Suggestion.Status.DISMISSED, actor=actor, campaign=campaign)
    return SuggestionDecisions(dismissed=dismissed, skipped=len(rows) - len(waiting))


@transaction.atomic
def seeds_classify_by_hand(*, campaign: Campaign, actor: Any, choices: Mapping[int, int]) -> int:
    """A curator sets the subcategory of seeds that have none (``choices``: seed id ->
    subcategory id), each with a SEED_CLASSIFIED event naming it: the way to place the seeds
    the model could not. All or nothing; returns how many seeds were set.

    Raises NotFound / NotAllowed (not a curator), NotFound for an id that is not a seed of the
    campaign, ValidationFailed (nothing chosen, a subcategory outside the taxonomy) and
    Conflict (a seed has a subcategory already: nothing changes)."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    if not choices:
        raise ValidationFailed(
            "Choose a subcategory for at least one seed.",
            details={"errors": {"subcategory": ["choose a subcategory"]}},
        )
    seeds = list(
        Seed.objects.filter(campaign=campaign, pk__in=set(choices))
        .select_for_update(no_key=True)
        .order_by("pk")
    )
    missing = sorted(set(choices) - {seed.pk for seed in seeds})
    if missing:
        raise NotFound(
            f"No such seed in this campaign: {', '.join(str(pk) for pk in missing[:10])}. "
            "Nothing was changed."
        )
    found = {
        sub.pk: sub
        for sub in Subcategory.objects.filter(campaign=campaign, pk__in=set(choices.values()))
    }
    unknown = sorted(set(choices.values()) - set(found))
    if unknown:
        raise ValidationFailed(
            "No such subcategory in this campaign. Nothing was changed.",
            details={"errors": {"subcategory": [f"unknown id {pk}" for pk in unknown[:10]]}},
        )
    placed = [seed.external_id for seed in seeds if seed.subcategory_id is not None]
    if placed:
        raise Conflict(
            f"These seeds have a subcategory already: {', '.join(placed[:10])}. Nothing was "
            "changed; reload to see them as they are."
        )
    for seed in seeds:
        sub = found[choices[seed.pk]]
        Seed.objects.filter(pk=seed.pk).update(subcategory=sub)
        event_record(
            campaign=campaign,
            actor=actor,
            kind=EventKind.SEED_CLASSIFIED,
            obj=seed,
            data={"subcategory": sub.name, "seed_external_id": seed.external_id},
        )
    return len(seeds)
