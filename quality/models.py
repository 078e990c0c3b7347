"""Public benchmarks (reference sets and their documents) and the quality flags of rewrites:
contamination hits (a shared word n-gram with a reference document) and similarity flags
(copies its seed, near-duplicate of another rewrite).

Models hold fields and constraints only; every write goes through ``quality.services``. The
tables keep the names they had when these models lived in the exports app (moved without
copying data, see the 0001 migration).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models import Campaign, Rewrite


class ReferenceSet(models.Model):
    """A public benchmark (HumanEval, MBPP, ...) that rewrites must not overlap. Global, not per
    campaign: every campaign is checked against every loaded set."""

    name = models.SlugField(max_length=100, unique=True)
    sources = models.JSONField(default=list, help_text="File names and sha256 it was loaded from.")
    fields = models.JSONField(default=list, help_text="Record fields whose text is indexed.")
    documents_count = models.PositiveIntegerField(default=0)
    loaded_at = models.DateTimeField()
    checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When rewrites were last checked against this set."
    )
    # Loaded by a curator from a campaign's page: only that campaign's curators (or operators)
    # may reload or delete it, since every campaign is checked against every set.
    loaded_for = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        db_table = "exports_referenceset"
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
        db_table = "exports_referencedocument"
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
        db_table = "exports_contaminationhit"
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
        db_table = "exports_similarityflag"
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


class RewriteCheck(models.Model):
    """Whether the quality checks of a submitted rewrite ran: the record the sweep reads to
    find a check that never ran (the broker was down at submit, its worker died) and to give up
    after ``quality.services.checks.MAX_ATTEMPTS`` starts. No row yet: the check was enqueued
    and has not started (the sweep treats it as pending once CHECK_STALE_AFTER passed)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    rewrite = models.OneToOneField(
        Rewrite, primary_key=True, on_delete=models.CASCADE, related_name="quality_check"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Runs started.")
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="Last sent by the sweep.")
    started_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(
        null=True, blank=True, help_text="Last finished (null: checked before this was recorded)."
    )
    error = models.TextField(blank=True, help_text="Why the last attempt or enqueue failed.")

    class Meta:
        ordering = ["rewrite"]
        indexes = [
            models.Index(
                fields=["campaign"], condition=Q(status="pending"), name="rewrite_check_pending"
            )
        ]

    def __str__(self) -> str:
        return f"rewrite {self.rewrite_id} check {self.status}"


class SimilarityIndex(models.Model):
    """The state of a campaign's near-duplicate index (``RewriteSignature`` and
    ``RewriteBand``): built with ``rows`` MinHash values per LSH band (which follows from the
    campaign's duplicate threshold, ``quality.minhash.lsh_bands``). No row, or other ``rows``:
    the index misses rewrites (submitted before it existed) or has bands of another threshold,
    and is (re)built before it is used (``quality.services.similarity_index_build``)."""

    campaign = models.OneToOneField(
        Campaign, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    rows = models.PositiveSmallIntegerField(help_text="MinHash values per LSH band.")
    built_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"similarity index of campaign {self.campaign_id} (r={self.rows})"


class RewriteSignature(models.Model):
    """The MinHash signature of a current rewrite's word 3-grams (``quality.minhash``:
    NUM_PERM unsigned 32-bit values, little-endian), with the band size its ``RewriteBand`` rows
    were written with. A submitted revision's text never changes, so neither does this."""

    rewrite = models.OneToOneField(
        Rewrite, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    minhash = models.BinaryField()
    rows = models.PositiveSmallIntegerField(help_text="MinHash values per LSH band.")

    class Meta:
        indexes = [models.Index(fields=["campaign", "rows"], name="rewrite_signature_rows")]

    def __str__(self) -> str:
        return f"signature of rewrite {self.rewrite_id}"


class RewriteBand(models.Model):
    """One LSH band of a rewrite's signature: ``key`` is a 64-bit hash of (campaign, band size,
    band number, the band's MinHash values), so two rewrites of a campaign share a key exactly
    when their signatures agree on a whole band. Looking up a rewrite's candidates is one
    indexed query on ``key`` (the primary key's leading column)."""

    pk = models.CompositePrimaryKey("key", "rewrite")
    key = models.BigIntegerField()
    rewrite = models.ForeignKey(Rewrite, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"band {self.key} of rewrite {self.rewrite_id}"
