"""Every write of the annotation app. See annotation/README.md for states and transitions.
Submitting a rewrite and campaign membership live in ``review.services``: they open and close
review panels."""

from .assignments import (
    SKIP_REASON_MAX,
    AssignReport,
    NextSeed,
    annotator_can_take,
    assignment_claim_next,
    assignment_lock_own_active,
    assignment_open_next,
    assignment_reassign,
    assignment_reject_seed,
    assignment_skip,
    assignments_expire,
    assignments_release,
    deal_order,
    lease_end,
    seeds_assign,
)
from .campaigns import campaign_create, taxonomy_install, user_ensure
from .rewrites import (
    CHECKLIST_ITEMS,
    DraftInput,
    draft_save,
    rewrite_count_tokens,
    rewrite_languages_set,
    rewrite_lock_open_draft,
    rewrite_missing_fields,
    rewrites_count_missing_tokens,
)
from .seeds import SeedImportError, seed_content_hash, seeds_import, seeds_sample

__all__ = [
    "CHECKLIST_ITEMS",
    "SKIP_REASON_MAX",
    "AssignReport",
    "DraftInput",
    "NextSeed",
    "SeedImportError",
    "annotator_can_take",
    "assignment_claim_next",
    "assignment_lock_own_active",
    "assignment_open_next",
    "assignment_reassign",
    "assignment_reject_seed",
    "assignment_skip",
    "assignments_expire",
    "assignments_release",
    "campaign_create",
    "deal_order",
    "draft_save",
    "lease_end",
    "rewrite_count_tokens",
    "rewrite_languages_set",
    "rewrite_lock_open_draft",
    "rewrite_missing_fields",
    "rewrites_count_missing_tokens",
    "seed_content_hash",
    "seeds_assign",
    "seeds_import",
    "seeds_sample",
    "taxonomy_install",
    "user_ensure",
]
