"""Reference corpora, quality flags on rewrites, baseline responses and releases.

Models hold fields and constraints only; every write goes through ``exports.services``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models import Campaign, Rewrite, Seed


class ReferenceSet(models.Model):
    """A public benchmark (HumanEval, MBPP, ...) that rewrites must not overlap. Global, not per
    campaign: every campaign is checked against every loaded set."""

    name = models.SlugField(max_length=100, unique=True)
    sources = models.JSONField(default=list, help_text="File names and sha256 it was loaded from.")
    fields = models.JSONField(default=list, help_text="Record fields whose text is indexed.")
    documents_count = models.PositiveIntegerField(default=0)
    loaded_at = models.DateTimeField()
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ReferenceDocument(models.Model):
    reference_set = models.ForeignKey(
        ReferenceSet, on_delete=models.CASCADE, related_name="documents"
    )
    doc_id = models.CharField(max_length=300)
    text = models.TextField()
    line = models.PositiveIntegerField(help_text="Line of the source file it came from.")

    class Meta:
        ordering = ["reference_set", "line"]
        constraints = [
            models.UniqueConstraint(
                fields=["reference_set", "doc_id"], name="reference_document_unique_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference_set.name}:{self.doc_id}"


class ContaminationHit(models.Model):
    """A rewrite shares at least one word n-gram with a reference document."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    rewrite = models.ForeignKey(
        Rewrite, on_delete=models.CASCADE, related_name="contamination_hits"
    )
    document = models.ForeignKey(ReferenceDocument, on_delete=models.CASCADE, related_name="hits")
    n = models.PositiveSmallIntegerField()
    ngram = models.TextField(help_text="The first shared n-gram, as normalised words.")
    overlap = models.PositiveIntegerField(help_text="How many of the rewrite's n-grams it shares.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rewrite", "-overlap", "document"]
        constraints = [
            models.UniqueConstraint(
                fields=["rewrite", "document"], name="contamination_hit_unique_document"
            ),
            models.CheckConstraint(condition=Q(overlap__gte=1), name="contamination_overlap_gte_1"),
        ]
        indexes = [models.Index(fields=["campaign", "rewrite"])]

    def __str__(self) -> str:
        return f"rewrite {self.rewrite_id} ~ {self.document_id} ({self.overlap})"


class SimilarityFlag(models.Model):
    """A rewrite too close to its own seed (copied) or to another seed's rewrite (near
    duplicate). Near duplicates are stored once per direction, so each rewrite lists its own."""

    class Kind(models.TextChoices):
        COPIED_SEED = "copied_seed", "Copies its seed"
        NEAR_DUPLICATE = "near_duplicate", "Near-duplicate of another rewrite"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    rewrite = models.ForeignKey(Rewrite, on_delete=models.CASCADE, related_name="similarity_flags")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    other = models.ForeignKey(
        Rewrite, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    score = models.FloatField(help_text="Word 3-gram Jaccard similarity.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rewrite", "kind", "-score"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="copied_seed") & Q(other__isnull=True))
                | (
                    Q(kind="near_duplicate")
                    & Q(other__isnull=False)
                    & ~Q(other=models.F("rewrite"))
                ),
                name="similarity_flag_other_matches_kind",
            ),
            models.UniqueConstraint(
                fields=["rewrite"],
                condition=Q(kind="copied_seed"),
                name="similarity_flag_one_copy_flag",
            ),
            models.UniqueConstraint(
                fields=["rewrite", "other"],
                condition=Q(kind="near_duplicate"),
                name="similarity_flag_unique_pair",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "kind"])]

    def __str__(self) -> str:
        return f"rewrite {self.rewrite_id} {self.kind} {self.other_id or ''} {self.score:.2f}"


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

    class Meta:
        ordering = ["campaign", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="release_unique_name"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="release_progress_lte_100"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} {self.name} ({self.status})"
