"""Which accepted rewrites a release contains: its parameters, and a deterministic selection
stratified as sampling stratifies seeds."""

import random
import re
from collections import defaultdict
from dataclasses import dataclass

from annotation.models import Rewrite
from annotation.sampling import sampling_quotas
from core.errors import ValidationFailed

STRATIFY = ("subcategory", "category", "none")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class ReleaseParameters:
    name: str = "dev"
    size: int | None = None
    seed: int = 42
    stratify: str = "subcategory"
    allow_smaller: bool = False

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
        if errors:
            raise ValidationFailed(
                "The release parameters are invalid.", details={"errors": errors}
            )


def select_rewrites(
    rewrites: list[Rewrite], *, size: int | None, seed: int, stratify: str, allow_smaller: bool
) -> list[Rewrite]:
    """A deterministic subset of ``rewrites`` of ``size`` (all when None), spread over strata as
    ``sampling_quotas`` spreads seeds; the parameters were checked by
    ``ReleaseParameters.validate``. Raises ValidationFailed if fewer are eligible than asked
    for, unless ``allow_smaller``."""
    if size is None:
        return rewrites
    if len(rewrites) < size and not allow_smaller:
        raise ValidationFailed(
            f"Only {len(rewrites)} accepted, uncontaminated rewrites are eligible, fewer than "
            f"--size {size}. Accept more rewrites, lower --size, or pass --allow-smaller."
        )

    def stratum(r: Rewrite) -> str:
        if stratify not in ("subcategory", "category"):
            return ""
        # Only a draft may lack a subcategory (a check constraint); these are accepted.
        assert r.subcategory is not None
        if stratify == "subcategory":
            return r.subcategory.name
        return r.subcategory.category.name

    groups: dict[str, list[Rewrite]] = defaultdict(list)
    for r in sorted(rewrites, key=lambda r: r.seed.external_id):
        groups[stratum(r)].append(r)
    quotas = sampling_quotas({k: len(v) for k, v in groups.items()}, size)
    chosen: list[Rewrite] = []
    for key in sorted(groups):
        rng = random.Random(f"{seed}:{key}")
        chosen.extend(rng.sample(groups[key], quotas[key]))
    return chosen
