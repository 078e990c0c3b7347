"""The checks run on every newly submitted rewrite (the Celery task enqueued by submit), and
the record of whether they ran (``RewriteCheck``), which the sweep reads.

A check is idempotent (each part replaces its own earlier flags), so it runs again whenever it
is delivered again: a redelivered message after a dead worker, a retry, the sweep. A check
that never ran (the broker was down at submit, its worker died and the message was lost) is
found by ``rewrites_unchecked`` once CHECK_STALE_AFTER passed and enqueued again; after
MAX_ATTEMPTS starts without finishing it is marked failed with the reason."""

import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from annotation.models import Rewrite

from ..models import RewriteCheck
from ..selectors import CHECKED
from .decontamination import rewrites_decontaminate
from .similarity import rewrite_similarity_check

# A submitted rewrite whose check has not finished this long after its submit (or after the
# sweep last enqueued it) is enqueued again; a check takes seconds.
CHECK_STALE_AFTER = timedelta(minutes=10)
# Starts of one check before it is given up (the task also retries on database errors).
MAX_ATTEMPTS = 8
# Checks the sweep enqueues at most per run (the next run takes the rest).
SWEEP_BATCH = 500


def _gave_up(attempts: int) -> str:
    return (
        f"Gave up after {attempts} attempts: the check never finished (its worker died or it "
        "failed each time). Run `manage.py decontaminate` for the campaign once fixed."
    )


def rewrite_quality_check(*, rewrite_id: int) -> dict[str, Any]:
    """All checks for one submitted rewrite (the Celery task enqueued on submit), recorded in
    its RewriteCheck: started (one more attempt), then done; an error is recorded and re-raised
    for the task's retry. A pending check past MAX_ATTEMPTS is failed instead of run."""
    rewrite = Rewrite.objects.select_related("campaign").filter(pk=rewrite_id).first()
    if rewrite is None or rewrite.status not in CHECKED:
        return {"skipped": True}
    now = timezone.now()
    with transaction.atomic():
        check, _ = RewriteCheck.objects.select_for_update(no_key=True).get_or_create(
            rewrite=rewrite, defaults={"campaign_id": rewrite.campaign_id}
        )
        if check.status == RewriteCheck.Status.PENDING and check.attempts >= MAX_ATTEMPTS:
            check.status = RewriteCheck.Status.FAILED
            check.error = _gave_up(check.attempts)
            check.save(update_fields=["status", "error"])
            return {"failed": True, "attempts": check.attempts}
        check.attempts += 1
        check.started_at = now
        check.save(update_fields=["attempts", "started_at"])
    # A test hook (config/settings/test.py only): slow the check down so that a test can kill
    # its worker mid-check.
    delay = getattr(settings, "CURATION_JOB_TEST_DELAY", 0)
    if delay:
        time.sleep(delay)
    try:
        contamination = rewrites_decontaminate(campaign=rewrite.campaign, rewrite_ids=[rewrite_id])
        similarity = rewrite_similarity_check(rewrite_id=rewrite_id)
    except Exception as exc:
        RewriteCheck.objects.filter(pk=rewrite_id).update(
            error=f"attempt {check.attempts}: {exc!r}"[:1000]
        )
        raise
    RewriteCheck.objects.filter(pk=rewrite_id).update(
        status=RewriteCheck.Status.DONE, checked_at=timezone.now(), error=""
    )
    return {"contamination_hits": contamination.hits, **similarity.__dict__}


def rewrite_check_enqueue_failed(*, rewrite_id: int, error: str) -> None:
    """Record that the broker refused a rewrite's check: it is pending, and the sweep enqueues
    it once CHECK_STALE_AFTER passed."""
    rewrite = Rewrite.objects.filter(pk=rewrite_id).only("pk", "campaign_id").first()
    if rewrite is None:
        return
    check, created = RewriteCheck.objects.get_or_create(
        rewrite=rewrite,
        defaults={"campaign_id": rewrite.campaign_id, "error": f"enqueue failed: {error}"},
    )
    if not created and check.status == RewriteCheck.Status.PENDING:
        RewriteCheck.objects.filter(pk=rewrite_id).update(error=f"enqueue failed: {error}")


def rewrites_unchecked(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> list[int]:
    """The sweep (a beat task): submitted rewrites whose check has not finished
    CHECK_STALE_AFTER after their submit and was not started or enqueued since. Those that
    used MAX_ATTEMPTS are failed with the reason; the others are recorded as enqueued now and
    their ids returned for the caller to enqueue."""
    now = now or timezone.now()
    deadline = now - CHECK_STALE_AFTER
    settled = RewriteCheck.objects.filter(rewrite=OuterRef("pk")).filter(
        Q(status__in=[RewriteCheck.Status.DONE, RewriteCheck.Status.FAILED])
        | Q(enqueued_at__gte=deadline)
        | Q(started_at__gte=deadline)
    )
    ids = list(
        Rewrite.objects.filter(status__in=CHECKED, submitted_at__lt=deadline)
        .exclude(Exists(settled))
        .order_by("pk")
        .values_list("pk", "campaign_id")[:limit]
    )
    requeue = []
    for rewrite_id, campaign_id in ids:
        with transaction.atomic():
            check, _ = RewriteCheck.objects.select_for_update(no_key=True).get_or_create(
                rewrite_id=rewrite_id, defaults={"campaign_id": campaign_id}
            )
            if check.status != RewriteCheck.Status.PENDING:
                continue
            if check.attempts >= MAX_ATTEMPTS:
                check.status = RewriteCheck.Status.FAILED
                check.error = _gave_up(check.attempts)
                check.save(update_fields=["status", "error"])
                continue
            check.enqueued_at = now
            check.save(update_fields=["enqueued_at"])
        requeue.append(rewrite_id)
    return requeue
