"""Services that start background jobs: they call the service that records the step and
enqueue its job once the transaction commits.

They sit above ``tasks`` (which call ``services``), outside the services package, so the one
direction services <- tasks <- jobs holds without an import cycle."""

from typing import Any

from django.core.files import File
from django.db import transaction

from core.jobs import enqueue_on_commit

from .models import Campaign, SeedClassificationJob, SeedImport
from .services import assist_seeds
from .services.seed_imports import seed_import_approve, seed_import_create
from .tasks import (
    check_seed_import,
    classify_seeds,
    record_classification_enqueue_failure,
    run_seed_import,
)


def seed_import_start(
    *,
    campaign: Campaign,
    actor: Any,
    upload: "File[bytes]",
    skip_bad_lines: bool = False,
    options: dict[str, Any] | None = None,
) -> SeedImport:
    """Store an uploaded seed file (curators) with how it is read (``options``: format,
    preset, fields) and check it in a job (``seed_import_check``).

    Raises NotFound / NotAllowed (not a curator) and ValidationFailed (an empty file, bad
    options, a format or encoding the import does not read)."""
    with transaction.atomic():
        seed_import = seed_import_create(
            campaign=campaign,
            actor=actor,
            upload=upload,
            skip_bad_lines=skip_bad_lines,
            options=options,
        )
        enqueue_on_commit(check_seed_import, seed_import.pk)  # swept if the broker is down
    return seed_import


def seed_import_confirm(
    *, import_id: int, actor: Any, skip_bad_lines: bool | None = None
) -> SeedImport:
    """Confirm a checked import (curators) and import it in a job (``seed_import_run``).

    Raises as ``seed_import_approve``: NotFound / NotAllowed, InvalidTransition (not checked),
    ValidationFailed (bad lines not skipped), Conflict (the taxonomy changed)."""
    with transaction.atomic():
        seed_import = seed_import_approve(
            import_id=import_id, actor=actor, skip_bad_lines=skip_bad_lines
        )
        enqueue_on_commit(run_seed_import, seed_import.pk)  # swept if the broker is down
    return seed_import


def seed_classification_start(*, campaign: Campaign, actor: Any) -> SeedClassificationJob:
    """Queue a classification of the seeds without a subcategory by the campaign's model
    (curators) and run it in a job (``seed_classification_run``) once the transaction commits.

    Raises as ``services.assist_seeds.seed_classification_start``: NotFound / NotAllowed,
    InvalidTransition (assistance off), Unavailable (not configured), Conflict (a job is
    queued or running) and ValidationFailed (nothing to classify)."""
    with transaction.atomic():
        job = assist_seeds.seed_classification_start(campaign=campaign, actor=actor)
        # The broker down: the job stays queued, noted, and the sweep enqueues it later.
        enqueue_on_commit(
            classify_seeds, job.pk, on_failure=record_classification_enqueue_failure(job.pk)
        )
    return job
