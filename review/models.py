"""Ballots: one reviewer's vote on one revision of a rewrite."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models import Campaign, Rewrite, Role
from core.transitions import Transitions


class Invitation(models.Model):
    """An invitation by email to join a campaign with a role: a single-use, expiring, signed link
    (``review.services.invitations``) with which the invitee sets a password and lands in the
    campaign. Sign-up stays closed otherwise."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"

    TRANSITIONS: Transitions = {Status.PENDING: frozenset({Status.ACCEPTED, Status.REVOKED})}

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    # Random, part of the signed link: a link is valid only while its nonce is this one.
    nonce = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "email", "role"],
                condition=Q(status="pending"),
                name="invitation_one_pending_per_email_role",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} as {self.role} in {self.campaign_id} ({self.status})"


class Decision(models.TextChoices):
    VALID = "valid", "Valid"
    INVALID = "invalid", "Invalid"


class VoteReason(models.TextChoices):
    UNCLEAR = "unclear", "Unclear"
    NOT_SELF_CONTAINED = "not_self_contained", "Not self-contained"
    UNSOLVABLE = "unsolvable", "Unsolvable"
    ETHICAL = "ethical", "Ethical issue"
    WRONG_TAGS = "wrong_tags", "Wrong tags"
    DUPLICATE = "duplicate", "Duplicate"
    CONTAMINATED = "contaminated", "Contaminated"
    OTHER = "other", "Other"


class Ballot(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CAST = "cast", "Cast"
        # The panel decided early, or the reviewer left: this vote is no longer needed.
        CLOSED = "closed", "Closed"

    TRANSITIONS: Transitions = {Status.PENDING: frozenset({Status.CAST, Status.CLOSED})}

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="ballots")
    rewrite = models.ForeignKey(Rewrite, on_delete=models.CASCADE, related_name="ballots")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ballots"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    decision = models.CharField(max_length=8, choices=Decision.choices, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    cast_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rewrite", "reviewer"], name="ballot_one_per_reviewer"),
            models.CheckConstraint(
                condition=(Q(status="cast") & ~Q(decision=""))
                | (~Q(status="cast") & Q(decision="")),
                name="ballot_decision_iff_cast",
            ),
        ]
        indexes = [
            models.Index(fields=["reviewer", "campaign", "status"]),
            models.Index(fields=["rewrite", "status"]),
            # The reviewer queues, read a page at a time in their order (keyset): pending oldest
            # first (the ballots page and API, "next ballot", and each reviewer's load when a
            # panel is chosen), every ballot by age (the API's other filters), votes newest
            # first (the ballots page's recent votes).
            models.Index(
                fields=["campaign", "reviewer", "created_at", "id"],
                condition=Q(status="pending"),
                name="ballot_pending_queue",
            ),
            models.Index(
                fields=["campaign", "reviewer", "created_at", "id"], name="ballot_reviewer_created"
            ),
            models.Index(
                fields=["campaign", "reviewer", "cast_at", "id"],
                condition=Q(status="cast"),
                name="ballot_cast_recent",
            ),
        ]

    def __str__(self) -> str:
        return f"ballot {self.pk} ({self.status})"


class ReviewHint(models.Model):
    """The campaign model's view of one revision: the three checklist items and likely
    problems, labelled as a model's opinion. Asked once per revision and shared by its panel;
    shown to a reviewer only after their vote unless the campaign says otherwise."""

    class Status(models.TextChoices):
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    rewrite = models.OneToOneField(Rewrite, on_delete=models.CASCADE, related_name="review_hint")
    status = models.CharField(max_length=16, choices=Status.choices)
    # {"clear": {"ok": bool, "note": str}, "ethical": {...}, "solvable": {...},
    #  "problems": [str, ...]} when ready.
    content = models.JSONField(default=dict, blank=True)
    model = models.CharField(max_length=200)
    prompt_version = models.CharField(max_length=64)
    error = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"hint for rewrite {self.rewrite_id} ({self.status})"


# The curator statistics' snapshot lives in its own module; importing it here is how Django
# finds it (it belongs to this app). Re-exported explicitly ("as") for mypy.
from .models_stats import StatsSnapshot as StatsSnapshot  # noqa: E402, I001
