"""CodeArena's task-type map, read the way its evaluation code reads it."""

import json
from pathlib import Path

from annotation import codearena

TAXONOMY = Path(codearena.__file__).parent / "data" / "codearena_taxonomy.json"


def test_the_map_is_codearenas_own_file_unchanged():
    levels = codearena.task_type_levels()
    assert len(levels) == 880
    assert levels["software development"] == (
        ("Development and Programming", "Development Processes and Practices"),
    )


def test_a_task_type_is_washed_as_judge_models_does_and_takes_the_first_pair():
    assert codearena.wash("Software-Development") == "software development"
    assert codearena.levels_for("Software-Development") == (
        "Development and Programming",
        "Development Processes and Practices",
    )
    # Several pairs: the first one counts.
    assert codearena.levels_for("software design principles") == (
        "Development and Programming",
        "Best Practices and Patterns",
    )
    assert codearena.levels_for("code debugging") is None  # not in the map


def test_every_subcategory_of_the_builtin_taxonomy_has_a_task_type_that_maps_back_to_it():
    taxonomy = json.loads(TAXONOMY.read_text(encoding="utf-8"))
    for sub in taxonomy["subcategories"]:
        task_type = codearena.task_type_for(sub["category"], sub["name"])
        assert task_type is not None, sub
        assert codearena.levels_for(task_type) == (sub["category"], sub["name"])
    # The shortest such task type, ties alphabetical: stable across runs and releases.
    assert codearena.task_type_for(
        "User Interface and User Experience (UI/UX)", "UI/UX Design"
    ) == ("ui design")
    assert codearena.task_type_for("No such", "pair") is None
