"""Model-assisted curation: a campaign's model endpoint, its versioned prompts, every call made
to it, the drafts it suggested to annotators and the subcategories it suggested for seeds.

Opt-in per campaign (``AssistSettings.enabled``); manual work never depends on any of it. The
API key is never stored: the settings name an environment variable that holds it. Imported by
``annotation.models`` (Django finds the models there); every write goes through
``annotation.services.assist``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.transitions import Transitions


class AssistPurpose(models.TextChoices):
    """What a model call was for (also the kind of a prompt)."""

    CLASSIFY = "classify", "Seed classification"
    DRAFT = "draft", "Draft suggestion"
    HINT = "hint", "Reviewer hint"


class Origin(models.TextChoices):
    """Where a revision's text came from (its provenance): written by a person, or drafted from
    a model suggestion its author inserted (and then edited). Releases, the data browser and
    the annotation API all use these words."""

    HUMAN = "human", "Written by a person"
    MODEL_DRAFTED = "model_drafted", "Drafted from a model suggestion"


class CallPurpose(models.TextChoices):
    """What a model call was for: a purpose, or a curator's connection test."""

    CLASSIFY = "classify", "Seed classification"
    DRAFT = "draft", "Draft suggestion"
    HINT = "hint", "Reviewer hint"
    TEST = "test", "Connection test"


class AssistSettings(models.Model):
    """One campaign's model endpoint and what it is used for. Off by default."""

    campaign = models.OneToOneField(
        "annotation.Campaign", on_delete=models.CASCADE, related_name="assist_settings"
    )
    enabled = models.BooleanField(default=False)
    # Any OpenAI-compatible chat-completions endpoint: OpenAI, vLLM, Ollama, LM Studio. Stored
    # as the API base ("https://api.openai.com/v1"); a pasted ".../chat/completions" is trimmed.
    base_url = models.URLField(max_length=500, blank=True)
    model = models.CharField(max_length=200, blank=True)
    # The *name* of the environment variable holding the key (it must start with
    # settings.CURATION_MODEL_KEY_PREFIX): the key itself is never stored nor shown.
    api_key_env = models.CharField(max_length=100, blank=True)
    timeout_seconds = models.FloatField(default=60.0)
    concurrency = models.PositiveSmallIntegerField(
        default=4, help_text="Calls to the endpoint running at once, for this campaign."
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=60, help_text="Calls to the endpoint per minute, for this campaign."
    )
    max_output_tokens = models.PositiveIntegerField(default=1500)
    stream = models.BooleanField(
        default=True,
        help_text="The endpoint streams (server-sent events); drafts appear as they are written.",
    )
    suggest_drafts = models.BooleanField(
        default=True, help_text="Annotators may ask for a suggested rewrite and tags."
    )
    reviewer_hint = models.BooleanField(
        default=False, help_text="Reviewers may read the model's view of a rewrite."
    )
    hint_before_vote = models.BooleanField(
        default=False,
        help_text="Show the hint before the reviewer votes. Off: only after their vote, so it "
        "cannot anchor a blind vote.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "assist settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(timeout_seconds__gt=0) & Q(timeout_seconds__lte=600),
                name="assist_timeout_in_range",
            ),
            models.CheckConstraint(
                condition=Q(concurrency__gte=1) & Q(concurrency__lte=64),
                name="assist_concurrency_in_range",
            ),
            models.CheckConstraint(
                condition=Q(rate_limit_per_minute__gte=1), name="assist_rate_limit_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} model {self.model or '-'} ({'on' if self.enabled else 'off'})"


class AssistPrompt(models.Model):
    """One saved version of a campaign's prompt of a kind. Version 0 is never stored: it is the
    built-in prompt (``annotation.prompts``); a campaign's newest version is the one in use."""

    campaign = models.ForeignKey(
        "annotation.Campaign", on_delete=models.CASCADE, related_name="assist_prompts"
    )
    purpose = models.CharField(max_length=16, choices=AssistPurpose.choices)
    number = models.PositiveIntegerField()
    text = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "purpose", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "purpose", "number"], name="assist_prompt_version_unique"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="assist_prompt_number_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.purpose} prompt v{self.number}"


class ModelCall(models.Model):
    """One call to a campaign's model endpoint, whatever its outcome: what it was for, with
    which model and prompt version, tokens in and out, how long it took, and why it failed."""

    class Status(models.TextChoices):
        OK = "ok", "Answered"
        FAILED = "failed", "Failed"

    campaign = models.ForeignKey(
        "annotation.Campaign", on_delete=models.CASCADE, related_name="model_calls"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    purpose = models.CharField(max_length=16, choices=CallPurpose.choices)
    model = models.CharField(max_length=200)
    prompt_version = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices)
    # A core.llm error code ("timeout", "unavailable", "rate_limited", "malformed", ...).
    error_code = models.CharField(max_length=32, blank=True)
    error = models.CharField(max_length=300, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    # The endpoint did not report usage: the counts are the campaign tokenizer's estimate.
    tokens_estimated = models.BooleanField(default=False)
    streamed = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["campaign", "purpose", "created_at"], name="model_call_usage")
        ]

    def __str__(self) -> str:
        return f"{self.purpose} call {self.pk} ({self.status})"


class DraftSuggestion(models.Model):
    """A rewrite and tags a model suggested for an assignment's seed. It is shown in a panel,
    never written into the draft: the annotator inserts it (the draft then records it, see
    ``Rewrite.suggestion``) and edits it."""

    campaign = models.ForeignKey(
        "annotation.Campaign", on_delete=models.CASCADE, related_name="draft_suggestions"
    )
    assignment = models.ForeignKey(
        "annotation.Assignment", on_delete=models.CASCADE, related_name="draft_suggestions"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model = models.CharField(max_length=200)
    prompt_version = models.CharField(max_length=64)
    text = models.TextField()
    difficulty = models.CharField(max_length=8, blank=True)
    # Names in the campaign's vocabulary (suggested names outside it are dropped).
    programming_languages = models.JSONField(default=list, blank=True)
    call = models.ForeignKey(ModelCall, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["assignment", "-id"], name="draft_suggestion_latest")]

    def __str__(self) -> str:
        return f"suggestion {self.pk} for assignment {self.assignment_id}"


class SeedClassificationJob(models.Model):
    """A job that asks the model for a (category, subcategory) of every seed that has none."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    TRANSITIONS: Transitions = {
        Status.QUEUED: frozenset({Status.RUNNING, Status.FAILED}),
        Status.RUNNING: frozenset({Status.DONE, Status.FAILED}),
    }

    campaign = models.ForeignKey(
        "annotation.Campaign", on_delete=models.CASCADE, related_name="classification_jobs"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    total = models.PositiveIntegerField(default=0)
    done_count = models.PositiveIntegerField(default=0)
    classified = models.PositiveIntegerField(default=0)
    unclassified = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    model = models.CharField(max_length=200, blank=True)
    prompt_version = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="classification_job_progress_lte_100"
            ),
            # One running or queued classification per campaign.
            models.UniqueConstraint(
                fields=["campaign"],
                condition=Q(status__in=["queued", "running"]),
                name="classification_job_one_open_per_campaign",
            ),
        ]

    def __str__(self) -> str:
        return f"classification job {self.pk} ({self.status})"


class SeedSuggestion(models.Model):
    """The model's suggested subcategory for a seed that had none. A curator accepts it (the
    seed takes the subcategory: an Event) or dismisses it. ``unclassified``: the model's
    answers were outside the taxonomy twice; ``failed``: the call failed."""

    class Status(models.TextChoices):
        SUGGESTED = "suggested", "Suggested"
        ACCEPTED = "accepted", "Accepted"
        DISMISSED = "dismissed", "Dismissed"
        UNCLASSIFIED = "unclassified", "Left unclassified"
        FAILED = "failed", "Failed"

    TRANSITIONS: Transitions = {
        Status.SUGGESTED: frozenset({Status.ACCEPTED, Status.DISMISSED}),
    }

    campaign = models.ForeignKey(
        "annotation.Campaign", on_delete=models.CASCADE, related_name="seed_suggestions"
    )
    seed = models.ForeignKey(
        "annotation.Seed", on_delete=models.CASCADE, related_name="classification_suggestions"
    )
    job = models.ForeignKey(
        SeedClassificationJob,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="suggestions",
    )
    subcategory = models.ForeignKey(
        "annotation.Subcategory", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    model = models.CharField(max_length=200)
    prompt_version = models.CharField(max_length=64)
    # The model's last answer when it was not a subcategory of the taxonomy (for the curator).
    raw_answer = models.CharField(max_length=300, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["seed"],
                condition=Q(status="suggested"),
                name="seed_suggestion_one_open_per_seed",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["suggested", "accepted"]) | Q(subcategory__isnull=False),
                name="seed_suggestion_has_subcategory",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "status", "id"], name="seed_suggestion_queue")]

    def __str__(self) -> str:
        return f"seed {self.seed_id} -> {self.subcategory_id} ({self.status})"
