"""Campaigns, their members and vocabulary, seeds, assignments, rewrites and the event log.

Models hold fields and constraints only; every write goes through ``annotation.services``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.transitions import Transitions


class Role(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"
    CURATOR = "curator", "Curator"


class Campaign(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to annotators/reviewers.")
    tokenizer = models.CharField(max_length=64, default="o200k_base")
    panel_size = models.PositiveSmallIntegerField(default=4)
    accept_threshold = models.PositiveSmallIntegerField(default=3)
    early_decision = models.BooleanField(
        default=False, help_text="Decide as soon as the outcome can no longer change."
    )
    target_release_size = models.PositiveIntegerField(default=397)
    lease_minutes = models.PositiveIntegerField(
        default=24 * 60, help_text="How long a claimed seed stays reserved without activity."
    )
    max_active_assignments = models.PositiveIntegerField(null=True, blank=True)
    curator_may_accept = models.BooleanField(
        default=True,
        help_text="Curators may adjudicate a no-consensus rewrite as accepted (rejecting it is "
        "always allowed). Off: only a reviewer panel's quorum accepts.",
    )
    # Quality checks run on every submitted rewrite (see exports/README.md).
    contamination_ngram = models.PositiveSmallIntegerField(
        default=10, help_text="Word n-gram size for overlap with public benchmarks."
    )
    copy_threshold = models.FloatField(
        default=0.7,
        help_text="Flag a rewrite whose word 3-gram Jaccard similarity to its seed is at least "
        "this (the rewrite copies the seed instead of writing a new question).",
    )
    duplicate_threshold = models.FloatField(
        default=0.7,
        help_text="Flag two rewrites of different seeds whose word 3-gram Jaccard similarity is "
        "at least this.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        # Granted by an operator (admin, or ``manage.py grant_create_campaign``): who may create
        # campaigns from the browser or the API, becoming their first curator.
        permissions = [("create_campaign", "Can create campaigns")]
        constraints = [
            models.CheckConstraint(
                # A strict majority, so "accepted" and "rejected" can never both hold.
                condition=Q(accept_threshold__lte=models.F("panel_size"))
                & Q(panel_size__lt=models.F("accept_threshold") * 2),
                name="campaign_threshold_is_strict_majority",
            ),
            models.CheckConstraint(
                condition=Q(panel_size__gte=1), name="campaign_panel_size_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(contamination_ngram__gte=3), name="campaign_contamination_ngram_gte_3"
            ),
            models.CheckConstraint(
                condition=Q(copy_threshold__gt=0, copy_threshold__lte=1)
                & Q(duplicate_threshold__gt=0, duplicate_threshold__lte=1),
                name="campaign_similarity_thresholds_in_0_1",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class GuidelinesVersion(models.Model):
    """One saved version of a campaign's guidelines (``Campaign.guidelines`` holds the newest)."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="guidelines_versions"
    )
    number = models.PositiveIntegerField()
    text = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "number"], name="guidelines_version_unique"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="guidelines_version_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} guidelines v{self.number}"


class GuidelinesRead(models.Model):
    """The newest guidelines version a member has opened; older means "changed since you last
    read them"."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField(default=0)
    read_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "user"], name="guidelines_read_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read v{self.version} of {self.campaign_id}"


class Membership(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "user", "role"], name="membership_unique_role"
            )
        ]
        indexes = [models.Index(fields=["user", "campaign"])]

    def __str__(self) -> str:
        return f"{self.user} {self.role} in {self.campaign}"


class Category(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="categories")
    name = models.CharField(max_length=200)
    short_name = models.CharField(max_length=100, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["campaign", "position", "name"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="category_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Subcategory(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="subcategories")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="subcategories")
    name = models.CharField(max_length=200)
    short_name = models.CharField(max_length=100, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["campaign", "position", "name"]
        verbose_name_plural = "subcategories"
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="subcategory_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class ProgrammingLanguage(models.Model):
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="programming_languages"
    )
    name = models.CharField(max_length=64)
    aliases = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["campaign", "position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="language_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Seed(models.Model):
    class Status(models.TextChoices):
        POOLED = "pooled", "Pooled"
        SAMPLED = "sampled", "Sampled"
        ASSIGNED = "assigned", "Assigned"
        DONE = "done", "Done"

    # sampled -> assigned: claimed or dealt; assigned -> sampled: the lease expired or the
    # annotator left with nothing written; done -> assigned: a rewrite was returned for revision.
    TRANSITIONS: Transitions = {
        Status.POOLED: frozenset({Status.SAMPLED}),
        Status.SAMPLED: frozenset({Status.ASSIGNED}),
        Status.ASSIGNED: frozenset({Status.DONE, Status.SAMPLED}),
        Status.DONE: frozenset({Status.ASSIGNED}),
    }

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="seeds")
    external_id = models.CharField(max_length=200)
    title = models.CharField(max_length=500, blank=True)
    body = models.TextField()
    answer = models.TextField(blank=True)
    source_url = models.URLField(max_length=1000, blank=True)
    cluster = models.CharField(max_length=300, blank=True)
    subcategory = models.ForeignKey(
        Subcategory, null=True, blank=True, on_delete=models.PROTECT, related_name="seeds"
    )
    language_hint = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.POOLED)
    # Order in which claim-next hands sampled seeds out (interleaves subcategories).
    sample_rank = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "external_id"], name="seed_unique_external_id"
            ),
            models.UniqueConstraint(
                fields=["campaign", "content_hash"], name="seed_unique_content"
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "status", "sample_rank"]),
            models.Index(fields=["campaign", "subcategory"]),
            models.Index(fields=["campaign", "id"], name="seed_campaign_id"),
            # Claim-next's queue: the claimable seeds in the order they are handed out. Only
            # sampled seeds are in it, so a claimed seed leaves it (its entry is dead until
            # VACUUM: migration 0013 vacuums this table early).
            models.Index(
                fields=["campaign", "sample_rank", "id"],
                condition=Q(status="sampled"),
                name="seed_claimable",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.external_id}"


class SeedImport(models.Model):
    """A seed file uploaded in the browser or the API: checked first (a dry run as a job), then
    imported on the curator's confirmation (a job), each step with progress and a report."""

    class Status(models.TextChoices):
        CHECKING = "checking", "Checking"
        CHECKED = "checked", "Checked, waiting for confirmation"
        IMPORTING = "importing", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed"
        DISCARDED = "discarded", "Discarded"

    # checking -> checked: the dry run finished (its report says what an import would do);
    # checked -> importing: the curator confirmed; checked -> discarded: they did not.
    TRANSITIONS: Transitions = {
        Status.CHECKING: frozenset({Status.CHECKED, Status.FAILED}),
        Status.CHECKED: frozenset({Status.IMPORTING, Status.DISCARDED}),
        Status.IMPORTING: frozenset({Status.DONE, Status.FAILED}),
    }

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="seed_imports")
    file = models.FileField(upload_to="seed-imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    skip_bad_lines = models.BooleanField(default=False)
    # How the file is read, chosen at the upload, so the check and the import read it the
    # same way: {"format": "auto" | one of seed_formats.FORMATS, "preset": ..., "fields":
    # {target: source}}.
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CHECKING)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    message = models.CharField(max_length=300, blank=True)
    check_report = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="seed_import_progress_lte_100"
            )
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.status})"


class RejectReason(models.TextChoices):
    NOT_SELF_CONTAINED = "not_self_contained", "Not self-contained"
    UNCLEAR = "unclear", "Unclear"
    UNSOLVABLE = "unsolvable", "Unsolvable"
    ETHICAL = "ethical", "Ethical issue"
    DUPLICATE = "duplicate", "Duplicate"
    OFF_TOPIC = "off_topic", "Off-topic"
    OTHER = "other", "Other"


class Assignment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUBMITTED = "submitted", "Submitted"
        REJECTED = "rejected", "Seed rejected"
        RELEASED = "released", "Released"
        # The annotator passed the seed on: it went back to the pool for someone else, and is
        # never offered to them again. Not a rejection of the seed.
        SKIPPED = "skipped", "Skipped"

    # submitted -> active: the rewrite was returned for a revision.
    TRANSITIONS: Transitions = {
        Status.ACTIVE: frozenset(
            {Status.SUBMITTED, Status.REJECTED, Status.RELEASED, Status.SKIPPED}
        ),
        Status.SUBMITTED: frozenset({Status.ACTIVE}),
    }

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments")
    seed = models.ForeignKey(Seed, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.CharField(max_length=32, choices=RejectReason.choices, blank=True)
    reject_note = models.TextField(blank=True)
    skip_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["seed"],
                condition=Q(status="active"),
                name="assignment_one_active_per_seed",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(reject_reason=""),
                name="assignment_rejection_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["annotator", "campaign", "status"]),
            models.Index(fields=["status", "lease_expires_at"]),
            models.Index(fields=["campaign", "status", "id"], name="assignment_campaign_status_id"),
            # An annotator's open assignments, a page at a time in id order (the queue page).
            models.Index(
                fields=["campaign", "annotator", "id"],
                condition=Q(status="active"),
                name="assignment_active_queue",
            ),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"


class Difficulty(models.TextChoices):
    EASY = "easy", "Easy"
    MEDIUM = "medium", "Medium"
    HARD = "hard", "Hard"


class Rewrite(models.Model):
    """One revision of an annotator's rewrite of a seed."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        NO_CONSENSUS = "no_consensus", "No consensus"
        RETURNED = "returned", "Returned"
        # A curator ended it: final, out of the to-decide list, never released (reopenable).
        CLOSED = "closed", "Closed"

    # A returned revision stays returned: the author continues in a new revision. A curator
    # adjudicates no consensus (-> accepted or rejected, ``decided_by_curator``), closes a
    # rejected or no-consensus one, and reopens a closed one (back to ``closed_from``).
    TRANSITIONS: Transitions = {
        Status.DRAFT: frozenset({Status.SUBMITTED}),
        Status.SUBMITTED: frozenset({Status.ACCEPTED, Status.REJECTED, Status.NO_CONSENSUS}),
        Status.REJECTED: frozenset({Status.RETURNED, Status.CLOSED}),
        Status.NO_CONSENSUS: frozenset(
            {Status.RETURNED, Status.CLOSED, Status.ACCEPTED, Status.REJECTED}
        ),
        Status.CLOSED: frozenset({Status.REJECTED, Status.NO_CONSENSUS}),
    }

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="rewrites")
    seed = models.ForeignKey(Seed, on_delete=models.CASCADE, related_name="rewrites")
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="rewrites")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rewrites"
    )
    revision = models.PositiveIntegerField(default=1)
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_revision"
    )
    text = models.TextField(blank=True)
    difficulty = models.CharField(max_length=8, choices=Difficulty.choices, blank=True)
    # Quoted: fields are generic only in the stubs, and RewriteLanguage is defined below.
    programming_languages: "models.ManyToManyField[ProgrammingLanguage, RewriteLanguage]" = (
        models.ManyToManyField(
            ProgrammingLanguage, through="RewriteLanguage", related_name="rewrites", blank=True
        )
    )
    natural_language = models.CharField(max_length=16, blank=True)
    subcategory = models.ForeignKey(
        Subcategory, null=True, blank=True, on_delete=models.PROTECT, related_name="rewrites"
    )
    check_clear = models.BooleanField(default=False)
    check_ethical = models.BooleanField(default=False)
    check_solvable = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    question_tokens = models.PositiveIntegerField(null=True, blank=True)
    tokenizer = models.CharField(max_length=64, blank=True)
    # The campaign's panel size and threshold when this revision's panel opened (at submit):
    # a later change of the campaign's settings applies to panels opened afterwards only.
    panel_size = models.PositiveSmallIntegerField(null=True, blank=True)
    accept_threshold = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    feedback = models.JSONField(default=dict, blank=True)
    # Curator decisions (``review.services.decisions``): an adjudicated outcome, the reason or
    # note the curator gave, and the status a closed revision had (where reopening returns it).
    decided_by_curator = models.BooleanField(default=False)
    curator_note = models.TextField(blank=True)
    closed_from = models.CharField(max_length=16, choices=Status.choices, blank=True)
    # Provenance (model-assisted curation): the model suggestion the author inserted into this
    # revision (kept by the next revision of a returned one), and at submit the character-level
    # edit distance from that suggestion's text to the submitted text. None: written by a person.
    suggestion = models.ForeignKey(
        "annotation.DraftSuggestion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rewrites",
    )
    suggestion_edit_distance = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "revision"], name="rewrite_unique_revision"
            ),
            models.UniqueConstraint(
                fields=["assignment"],
                condition=Q(status__in=["draft", "submitted"]),
                name="rewrite_one_open_revision_per_assignment",
            ),
            models.UniqueConstraint(
                fields=["seed"],
                condition=Q(status="accepted"),
                name="rewrite_one_accepted_per_seed",
            ),
            # What submit requires, kept by the database for every revision past draft. (At
            # least one programming language is a row of RewriteLanguage, which a check
            # constraint cannot see; the submit service checks it.)
            models.CheckConstraint(
                condition=Q(status="draft")
                | (
                    ~Q(text="")
                    & ~Q(difficulty="")
                    & ~Q(natural_language="")
                    & Q(subcategory__isnull=False)
                ),
                name="rewrite_submitted_has_tags",
            ),
            models.CheckConstraint(
                condition=Q(status="draft")
                | (
                    Q(panel_size__gte=1)
                    & Q(accept_threshold__lte=models.F("panel_size"))
                    & Q(panel_size__lt=models.F("accept_threshold") * 2)
                ),
                name="rewrite_submitted_has_its_panel_rule",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "status"]),
            models.Index(fields=["campaign", "status", "id"], name="rewrite_campaign_status_id"),
            # The curator dashboard's revision loop: the oldest decided revisions waiting for a
            # curator (read from the index alone, sorted by decided_at) and the revisions sent
            # back to their authors (drafts past the first revision, a small part of the table).
            models.Index(
                fields=["campaign", "status", "decided_at", "id"],
                name="rewrite_campaign_decided",
            ),
            models.Index(
                fields=["campaign", "created_at", "id"],
                condition=Q(status="draft", revision__gt=1),
                name="rewrite_campaign_redraft",
            ),
        ]

    def __str__(self) -> str:
        return f"rewrite {self.pk} r{self.revision} ({self.status})"

    @property
    def checklist(self) -> dict[str, bool]:
        return {
            "clear": self.check_clear,
            "ethical": self.check_ethical,
            "solvable": self.check_solvable,
        }


class RewriteLanguage(models.Model):
    """The ordered programming languages of a rewrite (the first is the main one)."""

    rewrite = models.ForeignKey(Rewrite, on_delete=models.CASCADE, related_name="language_links")
    language = models.ForeignKey(ProgrammingLanguage, on_delete=models.PROTECT)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["rewrite", "position"]
        constraints = [
            models.UniqueConstraint(fields=["rewrite", "language"], name="rewrite_language_unique")
        ]

    def __str__(self) -> str:
        return f"{self.rewrite_id}:{self.language_id}"


class Event(models.Model):
    """Append-only audit row, one per state change. Never updated or deleted by the code."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    kind = models.CharField(max_length=64, help_text="A core.transitions.EventKind value.")
    object_type = models.CharField(max_length=32)
    object_id = models.BigIntegerField()
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["campaign", "kind"]),
            models.Index(fields=["object_type", "object_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_type}:{self.object_id} {self.from_state}->{self.to_state}"


# The model-assisted curation models live in their own module; importing them here is how
# Django finds them (they belong to this app). Re-exported explicitly ("as") for mypy.
from .models_assist import (  # noqa: E402, I001
    AssistPrompt as AssistPrompt,
    AssistPurpose as AssistPurpose,
    AssistSettings as AssistSettings,
    CallPurpose as CallPurpose,
    DraftSuggestion as DraftSuggestion,
    ModelCall as ModelCall,
    Origin as Origin,
    SeedClassificationJob as SeedClassificationJob,
    SeedSuggestion as SeedSuggestion,
)
