"""Every write of the exports app. See exports/README.md for what each check and file means."""

from .quality import (
    ReferenceIndex,
    campaign_similarity_check,
    reference_index,
    rewrite_quality_check,
    rewrite_similarity_check,
    rewrites_decontaminate,
)
from .references import (
    ReferenceImportError,
    reference_set_delete,
    reference_set_load,
    references_parse,
)
from .releases import (
    STRATIFY,
    ReleaseParameters,
    release_build,
    release_dir,
    release_file_path,
    release_files_publish,
    release_run,
    release_start,
    sample_id,
    seed_sample_id,
    select_rewrites,
)
from .responses import ResponseImportError, responses_import

__all__ = [
    "STRATIFY",
    "ReferenceImportError",
    "ReferenceIndex",
    "ReleaseParameters",
    "ResponseImportError",
    "campaign_similarity_check",
    "reference_index",
    "reference_set_delete",
    "reference_set_load",
    "references_parse",
    "release_build",
    "release_dir",
    "release_file_path",
    "release_files_publish",
    "release_run",
    "release_start",
    "responses_import",
    "rewrite_quality_check",
    "rewrite_similarity_check",
    "rewrites_decontaminate",
    "sample_id",
    "seed_sample_id",
    "select_rewrites",
]
