"""Celery tasks: take ids, call one service, safe to run twice."""

from collections.abc import Callable

from celery import shared_task

from core.jobs import broker_error_text, enqueue

from .services.assignments import assignments_expire
from .services.assist_seeds import (
    seed_classification_enqueue_failed,
    seed_classification_run,
    seed_classifications_stale,
)
from .services.rewrites import rewrite_count_tokens, rewrites_count_missing_tokens
from .services.seed_imports import seed_import_check, seed_import_run, seed_imports_stale


@shared_task(
    name="annotation.tasks.count_rewrite_tokens",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def count_rewrite_tokens(rewrite_id: int) -> int | None:
    return rewrite_count_tokens(rewrite_id=rewrite_id)


@shared_task(name="annotation.tasks.expire_assignments")
def expire_assignments() -> int:
    return assignments_expire()


@shared_task(name="annotation.tasks.count_missing_tokens")
def count_missing_tokens() -> int:
    return rewrites_count_missing_tokens()


@shared_task(name="annotation.tasks.check_seed_import")
def check_seed_import(import_id: int) -> str:
    return seed_import_check(import_id=import_id).status


@shared_task(name="annotation.tasks.run_seed_import")
def run_seed_import(import_id: int) -> str:
    return seed_import_run(import_id=import_id).status


@shared_task(name="annotation.tasks.resume_stale_seed_imports")
def resume_stale_seed_imports() -> int:
    """Enqueue again the seed checks and imports whose job went quiet (beat, every 5 minutes);
    returns how many."""
    checking, importing = seed_imports_stale()
    for import_id in checking:
        enqueue(check_seed_import, import_id)
    for import_id in importing:
        enqueue(run_seed_import, import_id)
    return len(checking) + len(importing)


@shared_task(name="annotation.tasks.classify_seeds")
def classify_seeds(job_id: int) -> str:
    return seed_classification_run(job_id=job_id).status


def record_classification_enqueue_failure(job_id: int) -> Callable[[Exception], None]:
    """The ``on_failure`` of enqueueing ``classify_seeds(job_id)``: note it on the job."""

    def record(exc: Exception) -> None:
        seed_classification_enqueue_failed(job_id=job_id, error=broker_error_text(exc))

    return record


@shared_task(name="annotation.tasks.resume_stale_seed_classifications")
def resume_stale_seed_classifications() -> int:
    """Enqueue again the classification jobs whose worker is gone or whose message was lost
    (beat, every 5 minutes); returns how many."""
    ids = seed_classifications_stale()
    for job_id in ids:
        enqueue(classify_seeds, job_id, on_failure=record_classification_enqueue_failure(job_id))
    return len(ids)
