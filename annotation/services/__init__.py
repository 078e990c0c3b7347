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
from .assist_drafts import DraftEvent, DraftStream, draft_suggest
from .assist_seeds import (
    SuggestionDecisions,
    seed_classification_run,
    seed_classification_start,
    seed_suggestions_accept,
    seed_suggestions_dismiss,
)
from .assist_settings import (
    ConnectionTest,
    assist_connection_test,
    assist_prompt_save,
    assist_settings_update,
)
from .campaigns import campaign_create, taxonomy_install, user_ensure
from .rewrites import (
    CHECKLIST_ITEMS,
    DraftInput,
    Keep,
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
    "ConnectionTest",
    "DraftEvent",
    "DraftInput",
    "DraftStream",
    "Keep",
    "NextSeed",
    "SeedImportError",
    "SuggestionDecisions",
    "annotator_can_take",
    "assignment_claim_next",
    "assignment_lock_own_active",
    "assignment_open_next",
    "assignment_reassign",
    "assignment_reject_seed",
    "assignment_skip",
    "assignments_expire",
    "assignments_release",
    "assist_connection_test",
    "assist_prompt_save",
    "assist_settings_update",
    "campaign_create",
    "deal_order",
    "draft_save",
    "draft_suggest",
    "lease_end",
    "rewrite_count_tokens",
    "rewrite_languages_set",
    "rewrite_lock_open_draft",
    "rewrite_missing_fields",
    "rewrites_count_missing_tokens",
    "seed_classification_run",
    "seed_classification_start",
    "seed_content_hash",
    "seed_suggestions_accept",
    "seed_suggestions_dismiss",
    "seeds_assign",
    "seeds_import",
    "seeds_sample",
    "taxonomy_install",
    "user_ensure",
]
