"""Which accepted rewrites a release contains: its parameters, and a deterministic selection
stratified as sampling stratifies seeds."""

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from annotation.sampling import sampling_quotas
from core.errors import ValidationFailed

from .formats import ARENA_HARD_BASELINES

STRATIFY = ("subcategory", "category", "none")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# What a release does with an included model that has no answer for some of its samples:
# refuse the release naming them, leave the model out, or leave its key out of those samples.
MISSING_RESPONSES = ("refuse", "drop_model", "drop_key")
# Whether every sample must carry CodeArena's meta.parsed.task_type (refused when a sample's
# taxonomy pair has no task type in CodeArena's map) or no sample carries it.
CODEARENA_META = ("require", "omit")
# arena-hard-auto keys its judge settings (baseline, system prompt) by the question category.
CATEGORY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# A Hugging Face license identifier (https://hf.co/docs/hub/repositories-licenses).
LICENSE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,63}$")
LICENSE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class ReleaseParameters:
    name: str = "dev"
    size: int | None = None
    seed: int = 42
    stratify: str = "subcategory"
    allow_smaller: bool = False
    missing_responses: str = "refuse"
    # The model whose answers are the judges' baseline: a top-level ``baseline`` string in
    # benchmark.jsonl (CodeArena) and the JUDGE_SETTINGS entry of arena-hard-auto's README.
    baseline_model: str = ""
    arena_hard_category: str = "coding"
    codearena_meta: str = "require"
    license: str = "unknown"
    license_name: str = ""
    license_link: str = ""

    def validate(self) -> None:
        errors: dict[str, list[str]] = {}
        if not NAME_PATTERN.match(self.name):
            errors["name"] = [
                "use letters, digits, '.', '_' or '-' (at most 100, not starting with '.')"
            ]
        if self.stratify not in STRATIFY:
            errors["stratify"] = [f"must be one of {', '.join(STRATIFY)}"]
        if self.size is not None and self.size < 1:
            errors["size"] = ["must be at least 1"]
        if self.missing_responses not in MISSING_RESPONSES:
            errors["missing_responses"] = [f"must be one of {', '.join(MISSING_RESPONSES)}"]
        if self.codearena_meta not in CODEARENA_META:
            errors["codearena_meta"] = [f"must be one of {', '.join(CODEARENA_META)}"]
        if self.baseline_model and not NAME_PATTERN.match(self.baseline_model):
            errors["baseline_model"] = ["a model name: letters, digits, '.', '_' or '-'"]
        if not CATEGORY_PATTERN.match(self.arena_hard_category):
            errors["arena_hard_category"] = [
                "use letters, digits, '.', '_' or '-' (at most 64, not starting with '.')"
            ]
        if (
            CATEGORY_PATTERN.match(self.arena_hard_category)
            and self.arena_hard_category not in ARENA_HARD_BASELINES
            and not self.baseline_model
        ):
            errors["arena_hard_category"] = [
                f"arena-hard-auto has no judge settings for {self.arena_hard_category!r}: name "
                "a baseline model, or use one of " + ", ".join(ARENA_HARD_BASELINES)
            ]
        if not LICENSE_PATTERN.match(self.license):
            errors["license"] = [
                "a Hugging Face license id in lower case, e.g. apache-2.0, cc-by-4.0, other"
            ]
        if self.license == "other":
            if not LICENSE_NAME_PATTERN.match(self.license_name):
                errors["license_name"] = [
                    "with license 'other', name the license (an id such as my-license-1.0)"
                ]
            if not self.license_link.strip():
                errors["license_link"] = [
                    "with license 'other', link its text: a URL or a file name such as LICENSE"
                ]
        elif self.license_name or self.license_link:
            errors["license_name" if self.license_name else "license_link"] = [
                "only for license 'other'; a listed license needs no name or link"
            ]
        if len(self.license_link) > 300 or any(c in self.license_link for c in "\n\r\t"):
            errors["license_link"] = ["one line of at most 300 characters"]
        if errors:
            raise ValidationFailed(
                "The release parameters are invalid.", details={"errors": errors}
            )


class Candidate(NamedTuple):
    """An eligible rewrite as selection and the release's checks see it: ids and tags only, no
    text (a release streams the text of its samples later, a chunk at a time)."""

    pk: int
    seed_id: int
    external_id: str
    category: str
    subcategory: str
    decided_by_curator: bool


def select_rewrites(
    candidates: list[Candidate],
    *,
    size: int | None,
    seed: int,
    stratify: str,
    allow_smaller: bool,
) -> list[Candidate]:
    """A deterministic subset of ``candidates`` of ``size`` (all when None), spread over strata
    as ``sampling_quotas`` spreads seeds; the parameters were checked by
    ``ReleaseParameters.validate``. Raises ValidationFailed if fewer are eligible than asked
    for, unless ``allow_smaller``."""
    if size is None:
        return candidates
    if len(candidates) < size and not allow_smaller:
        raise ValidationFailed(
            f"Only {len(candidates)} accepted, uncontaminated rewrites are eligible, fewer than "
            f"--size {size}. Accept more rewrites, lower --size, or pass --allow-smaller."
        )

    def stratum(c: Candidate) -> str:
        if stratify == "subcategory":
            return c.subcategory
        if stratify == "category":
            return c.category
        return ""

    groups: dict[str, list[Candidate]] = defaultdict(list)
    for c in sorted(candidates, key=lambda c: c.external_id):
        groups[stratum(c)].append(c)
    quotas = sampling_quotas({k: len(v) for k, v in groups.items()}, size)
    chosen: list[Candidate] = []
    for key in sorted(groups):
        rng = random.Random(f"{seed}:{key}")
        chosen.extend(rng.sample(groups[key], quotas[key]))
    return chosen
