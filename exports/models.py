"""Baseline responses and releases.

Models hold fields and constraints only; every write goes through ``exports.services``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models import Campaign, Rewrite, Seed
from core.transitions import Transitions


class BaselineResponse(models.Model):
    """A model's answer to a seed's accepted question, exported as ``<model>_response``."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    seed = models.ForeignKey(Seed, on_delete=models.CASCADE, related_name="baseline_responses")
    model = models.CharField(max_length=100)
    text = models.TextField()
    tokens = models.PositiveIntegerField(null=True, blank=True)
    tokenizer = models.CharField(max_length=64, blank=True)
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign", "model", "seed"]
        constraints = [
            models.UniqueConstraint(fields=["seed", "model"], name="baseline_response_unique")
        ]
        indexes = [models.Index(fields=["campaign", "model"])]

    def __str__(self) -> str:
        return f"{self.model} on seed {self.seed_id}"


class Release(models.Model):
    """A versioned benchmark release built by ``services.release_build``."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # running -> running: a redelivered job takes over a release whose worker died.
    TRANSITIONS: Transitions = {
        Status.QUEUED: frozenset({Status.RUNNING}),
        Status.RUNNING: frozenset({Status.RUNNING, Status.DONE, Status.FAILED}),
    }

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="releases")
    name = models.CharField(max_length=100)
    parameters = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    message = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    files = models.JSONField(default=dict, blank=True)
    stats = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The job's own bookkeeping (see "Jobs" in exports/README.md): how many times a worker
    # started building it (a takeover after a dead worker is one more), the Celery task that
    # runs it, when a worker last reported progress, and when it was last handed to the broker.
    attempts = models.PositiveSmallIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="release_unique_name"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="release_progress_lte_100"),
        ]
        # The sweep's query: unfinished releases.
        indexes = [
            models.Index(
                fields=["status"],
                condition=Q(status__in=["queued", "running"]),
                name="release_unfinished",
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign} {self.name} ({self.status})"


class ReleaseSample(models.Model):
    """One sample of a finished release: which revision it is and the id it has in
    ``benchmark.jsonl``. Written with the release's move to done, for the data browser."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="samples")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    rewrite = models.ForeignKey(Rewrite, on_delete=models.PROTECT, related_name="release_samples")
    sample_id = models.CharField(max_length=64)
    position = models.PositiveIntegerField(help_text="Line of benchmark.jsonl, from 1.")

    class Meta:
        ordering = ["release", "position"]
        constraints = [
            models.UniqueConstraint(fields=["release", "rewrite"], name="release_sample_unique"),
            models.UniqueConstraint(
                fields=["release", "sample_id"], name="release_sample_unique_id"
            ),
        ]
        indexes = [models.Index(fields=["campaign", "release", "position"])]

    def __str__(self) -> str:
        return f"{self.release_id}:{self.sample_id}"
