"""Every write of the quality app. See quality/README.md for what each check means."""

from ..selectors import CHECKED, CURRENT
from .checks import rewrite_quality_check
from .decontamination import (
    DecontaminationResult,
    ReferenceIndex,
    campaign_ngram_set,
    reference_index,
    rewrites_decontaminate,
    rewrites_decontaminate_all_campaigns,
)
from .references import (
    DEFAULT_FIELDS,
    ReferenceImportError,
    reference_set_delete,
    reference_set_load,
    references_parse,
)
from .similarity import (
    SimilarityResult,
    campaign_similarity_check,
    rewrite_similarity_check,
    similarity_index_build,
)

__all__ = [
    "CHECKED",
    "CURRENT",
    "DEFAULT_FIELDS",
    "DecontaminationResult",
    "ReferenceImportError",
    "ReferenceIndex",
    "SimilarityResult",
    "campaign_ngram_set",
    "campaign_similarity_check",
    "reference_index",
    "reference_set_delete",
    "reference_set_load",
    "references_parse",
    "rewrite_quality_check",
    "rewrite_similarity_check",
    "rewrites_decontaminate",
    "rewrites_decontaminate_all_campaigns",
    "similarity_index_build",
]
