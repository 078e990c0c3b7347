"""Every write of the exports app. See exports/README.md for what each file of a release means."""

from .build import ExportResult, release_build, release_check
from .formats import ARENA_HARD_BASELINES, ARENA_HARD_CATEGORY, seed_sample_id
from .job import (
    release_file_open,
    release_run,
    release_storage_prefix,
    release_zip_name,
    release_zip_open,
)
from .publishing import release_files_store
from .responses import ResponseImportError, responses_import
from .selection import (
    CODEARENA_META,
    MISSING_RESPONSES,
    NAME_PATTERN,
    STRATIFY,
    ReleaseParameters,
    select_rewrites,
)

__all__ = [
    "ARENA_HARD_BASELINES",
    "ARENA_HARD_CATEGORY",
    "CODEARENA_META",
    "MISSING_RESPONSES",
    "NAME_PATTERN",
    "STRATIFY",
    "ExportResult",
    "ReleaseParameters",
    "ResponseImportError",
    "release_build",
    "release_check",
    "release_file_open",
    "release_files_store",
    "release_run",
    "release_storage_prefix",
    "release_zip_name",
    "release_zip_open",
    "responses_import",
    "seed_sample_id",
    "select_rewrites",
]
