"""Every write of the annotation app. See annotation/README.md for states and transitions."""

from .assignments import (
    assignment_claim_next,
    assignment_reassign,
    assignment_reject_seed,
    assignments_expire,
    require_role,
    seeds_assign,
)
from .campaigns import campaign_create, membership_add, taxonomy_install, user_ensure
from .events import event_record
from .rewrites import (
    DraftInput,
    draft_save,
    rewrite_count_tokens,
    rewrite_languages_set,
    rewrite_missing_fields,
    rewrite_submit,
    rewrites_count_missing_tokens,
)
from .seeds import SeedImportError, seed_content_hash, seeds_import, seeds_sample

__all__ = [
    "DraftInput",
    "SeedImportError",
    "assignment_claim_next",
    "assignment_reassign",
    "assignment_reject_seed",
    "assignments_expire",
    "campaign_create",
    "draft_save",
    "event_record",
    "membership_add",
    "require_role",
    "rewrite_count_tokens",
    "rewrite_languages_set",
    "rewrite_missing_fields",
    "rewrite_submit",
    "rewrites_count_missing_tokens",
    "seed_content_hash",
    "seeds_assign",
    "seeds_import",
    "seeds_sample",
    "taxonomy_install",
    "user_ensure",
]
