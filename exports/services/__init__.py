"""Every write of the exports app. See exports/README.md for what each file of a release means."""

from .build import ExportResult, release_build
from .formats import ARENA_HARD_CATEGORY, sample_id, seed_sample_id
from .job import release_dir, release_file_path, release_run
from .publishing import release_files_publish
from .responses import ResponseImportError, responses_import
from .selection import NAME_PATTERN, STRATIFY, ReleaseParameters, select_rewrites

__all__ = [
    "ARENA_HARD_CATEGORY",
    "NAME_PATTERN",
    "STRATIFY",
    "ExportResult",
    "ReleaseParameters",
    "ResponseImportError",
    "release_build",
    "release_dir",
    "release_file_path",
    "release_files_publish",
    "release_run",
    "responses_import",
    "sample_id",
    "seed_sample_id",
    "select_rewrites",
]
