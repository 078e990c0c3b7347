"""CodeArena's task types: the map its evaluation code classifies samples with
(``data/codearena_tasktype_to_levels.json``, see ``data/PROVENANCE.md``).

``judge_models.py`` reads a sample's ``meta.parsed.task_type[0]``, replaces ``-`` by a space,
lower-cases it, looks it up in the map and takes the first [main class, subclass] pair. Imports
use ``levels_for`` to give a seed with a task type and no subcategory its (category,
subcategory); releases use ``task_type_for`` to write a task type that maps back to a sample's
own pair. Pure and cached: the file is read once per process."""

import json
from functools import cache
from pathlib import Path

MAP_FILE = Path(__file__).parent / "data" / "codearena_tasktype_to_levels.json"


@cache
def task_type_levels() -> dict[str, tuple[tuple[str, str], ...]]:
    """{task type: ((main class, subclass), ...)} exactly as the map lists them."""
    raw = json.loads(MAP_FILE.read_text(encoding="utf-8"))
    return {key: tuple((main, sub) for main, sub in pairs) for key, pairs in raw.items()}


def wash(task_type: str) -> str:
    """The key CodeArena's code looks a task type up by: ``-`` -> space, then lower case."""
    return task_type.replace("-", " ").lower()


def levels_for(task_type: str) -> tuple[str, str] | None:
    """The (category, subcategory) CodeArena gives ``task_type`` (its first pair), or None for
    a task type the map does not know."""
    pairs = task_type_levels().get(wash(task_type.strip()))
    return pairs[0] if pairs else None


@cache
def _first_pair_index() -> dict[tuple[str, str], str]:
    best: dict[tuple[str, str], str] = {}
    for key, pairs in task_type_levels().items():
        if not pairs:
            continue
        current = best.get(pairs[0])
        # Deterministic and documented: the shortest such task type, then the first in
        # alphabetical order.
        if current is None or (len(key), key) < (len(current), current):
            best[pairs[0]] = key
    return best


def task_type_for(category: str, subcategory: str) -> str | None:
    """A task type whose first pair is exactly (category, subcategory): the shortest one, ties
    broken alphabetically; None when no task type of the map leads to that pair (a campaign
    with its own taxonomy)."""
    return _first_pair_index().get((category, subcategory))
