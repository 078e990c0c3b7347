"""Golden files for the release format: a small, fixed campaign is built through the services and
every file of its release (``benchmark.jsonl`` and ``.parquet``, ``questions.jsonl``, the
arena-hard-auto folder, ``stats.json``, the card, ``manifest.json`` and the zip) must match the
files under ``tests/golden/release/`` byte for byte.

A deliberate format change regenerates them::

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_release_golden.py

and the diff of ``tests/golden/release/`` is then reviewed like code. Nothing in these files may
depend on database ids or the clock: the same campaign built after unrelated rows have shifted
every primary key, or at another time, must give the same bytes."""

import difflib
import json
import os
import re
from pathlib import Path

import pytest

from annotation.codearena import levels_for
from annotation.models import DraftSuggestion, Rewrite
from annotation.services import assignment_reject_seed, seeds_import, seeds_sample
from exports.services import ReleaseParameters, release_build, responses_import
from quality.services import reference_set_load
from review.services import rewrite_submit

from .conftest import cast_panel

GOLDEN = Path(__file__).parent / "golden" / "release"
BENCH = "golden-golden-v1"
ARENA = f"arena-hard-auto/data/{BENCH}"
COMPARED = [
    "benchmark.jsonl",
    "benchmark.parquet",
    "questions.jsonl",
    f"{ARENA}/question.jsonl",
    f"{ARENA}/model_answer/baseline-1.jsonl",
    f"{ARENA}/model_answer/partial-1.jsonl",
    "stats.json",
    "README.md",
    "manifest.json",
    "golden-golden-v1.zip",
]
BINARY = {"benchmark.parquet", "golden-golden-v1.zip"}
UPDATE = os.environ.get("UPDATE_GOLDEN", "").lower() in {"1", "true", "yes"}

ALGO = "Algorithm Design and Implementation"
DB = "Database Management"
FRONTEND = "Frontend Technologies"

# external id -> (subcategory, seed text)
SEEDS = {
    "g01": (ALGO, "how to split list into chunks python??"),
    "g02": (ALGO, "my binary search loops forever when the target is missing, why"),
    "g03": (ALGO, "fastest way to find duplicates in a huge array of ints"),
    "g04": (DB, "postgres query slow with ORDER BY created_at LIMIT 20, index not used"),
    "g05": (DB, "how do I model many to many tags in sqlite"),
    "g06": (DB, "deadlock between two transactions updating the same rows"),
    "g07": (FRONTEND, "react list re-renders every item when one changes"),
    "g08": (FRONTEND, "css grid: make the sidebar collapse on small screens"),
}

# external id -> what happens to it: a rewrite with its tags and the panel's votes, or the
# annotator rejecting the seed.
PLAN = {
    "g01": {
        "text": "Write a Python function `chunks(xs, n)` that splits a list into consecutive "
        "lists of n items; the last one may be shorter. Include tests for n larger than the "
        "list and for n = 1.",
        "difficulty": "easy",
        "programming_languages": ["python"],
        "natural_language": "en",
        "votes": ["valid"] * 4,
    },
    "g02": {
        "text": "这个二分查找在目标不存在时会死循环。请找出错误并用 C++ 给出修正后的实现，"
        "说明循环不变式。\n\n```cpp\nint find(const std::vector<int>& a, int t) {\n"
        "  int lo = 0, hi = a.size();\n  while (lo < hi) { int mid = (lo + hi) / 2;\n"
        "    if (a[mid] < t) lo = mid; else hi = mid; }\n  return lo;\n}\n```",
        "difficulty": "medium",
        "programming_languages": ["c++"],
        "natural_language": "zh",
        "votes": ["valid", "valid", "invalid", "valid"],
    },
    "g03": {
        # Copies a public benchmark word for word: accepted, then excluded as contaminated.
        "text": "Check if in given list of numbers, are any two numbers closer to each other "
        "than given threshold. Write it in Python and explain the complexity.",
        "difficulty": "easy",
        "programming_languages": ["python"],
        "natural_language": "en",
        "votes": ["valid"] * 4,
    },
    "g04": {
        "text": "A PostgreSQL 15 query `SELECT * FROM orders WHERE customer_id = $1 ORDER BY "
        "created_at DESC LIMIT 20` ignores the index on (created_at). Explain why and give the "
        "index and query plan that make it fast for a customer with 2 million orders.",
        "difficulty": "hard",
        "programming_languages": ["sql"],
        "natural_language": "en",
        "votes": ["valid", "valid", "valid", "invalid"],
        # Drafted from a model suggestion the annotator inserted, then edited.
        "suggestion": {
            "model": "golden-drafter-1",
            "prompt_version": "campaign-v2",
            "text": "A PostgreSQL query `SELECT * FROM orders WHERE customer_id = $1 ORDER BY "
            "created_at DESC LIMIT 20` ignores the index on (created_at). Explain why and give "
            "the index that makes it fast.",
        },
    },
    "g05": {
        "text": "Design SQLite tables for articles and tags (many to many) and write the query "
        "that lists the five most used tags with their article counts.",
        "difficulty": "medium",
        "programming_languages": ["sql", "python"],
        "natural_language": "en",
        "votes": ["valid", "invalid", "valid", "invalid"],  # 2-2: no consensus
    },
    "g06": "reject",
    "g07": {
        "text": "In React 18, a list of 5,000 rows re-renders every row when one row's "
        "checkbox changes. Show the component code that re-renders only the changed row, using "
        "memo and stable callbacks, in TypeScript.",
        "difficulty": "medium",
        "programming_languages": ["typescript", "javascript"],
        "natural_language": "en",
        "votes": ["valid"] * 4,
    },
    "g08": {
        "text": "Make this page's sidebar collapse.",
        "difficulty": "easy",
        "programming_languages": ["css"],
        "natural_language": "en",
        "votes": ["invalid", "invalid", "invalid", "valid"],  # rejected
    },
}

REFERENCE = {
    "task_id": "HumanEval/0",
    "prompt": "Check if in given list of numbers, are any two numbers closer to each other than "
    "given threshold.",
}

# The baseline model answered every released question and more (by seed id, as import_responses
# reads them); its answers use the markdown arena-hard-auto's answer metadata counts (headers,
# lists, bold, and a code fence whose inside is not counted).
RESPONSES = [
    {
        "seed_id": "g01",
        "response": "def chunks(xs, n):\n    return [xs[i:i + n] for i in range(0, len(xs), n)]",
    },
    {"seed_id": "g02", "response": "把 `lo = mid` 改为 `lo = mid + 1`。"},
    {
        "seed_id": "g04",
        "response": "## Why\n\nThe index does not start with **customer_id**.\n\n"
        "1. Create an index on (customer_id, created_at DESC).\n2. Run `ANALYZE orders`.\n\n"
        "```sql\n# not a header\n- not a list\nCREATE INDEX ON orders (customer_id, created_at "
        "DESC);\n```",
    },
    {
        "seed_id": "g07",
        "response": "# Memoised rows\n\n- wrap `Row` in `React.memo`\n- pass `useCallback` "
        "handlers\n* keep __keys__ stable",
    },
    {"seed_id": "g08", "response": "Use a media query."},
]
# A second model answered one released question: its key is left out of the others.
PARTIAL = [{"seed_id": "g02", "response": "Set `lo = mid + 1`."}]

PARAMETERS = ReleaseParameters(
    name="golden-v1",
    size=3,
    seed=11,
    stratify="subcategory",
    missing_responses="drop_key",
    baseline_model="baseline-1",
    arena_hard_category="codearena-golden",
    license="other",
    license_name="golden-terms-1.0",
    license_link="https://example.org/golden-terms",
)


def levenshtein(a: str, b: str) -> int:
    """Character-level edit distance (insertions, deletions, substitutions)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def insert_suggestion(rewrite, *, model: str, prompt_version: str, text: str) -> DraftSuggestion:
    """Record that ``rewrite``'s author inserted a model suggestion with ``text`` (as the editor
    does), with the edit distance from it to the rewrite's text."""
    suggestion = DraftSuggestion.objects.create(
        campaign=rewrite.campaign,
        assignment=rewrite.assignment,
        model=model,
        prompt_version=prompt_version,
        text=text,
    )
    Rewrite.objects.filter(pk=rewrite.pk).update(
        suggestion=suggestion, suggestion_edit_distance=levenshtein(text, rewrite.text)
    )
    return suggestion


def shift_primary_keys(make_world) -> None:
    """Rows of another campaign first, so every id of the golden campaign differs."""
    noise = make_world(slug="noise", reviewers=6)
    noise.add_seeds(5)
    for _ in range(3):
        noise.draft(noise.claim())


def build_golden_campaign(make_world, tmp_path: Path, capture) -> Path:
    """The fixed campaign through the services, released into ``tmp_path / "release"``."""
    reference = tmp_path / "reference.jsonl"
    reference.write_text(json.dumps(REFERENCE) + "\n", encoding="utf-8")
    reference_set_load(name="golden-ref", paths=[reference])

    world = make_world(slug="golden")
    seeds_import(
        campaign=world.campaign,
        lines=[
            json.dumps({"id": ext, "text": text, "title": f"Seed {ext}", "subcategory": sub})
            for ext, (sub, text) in SEEDS.items()
        ],
    )
    seeds_sample(campaign=world.campaign, size=len(SEEDS), seed=1)
    for i in range(len(SEEDS)):
        assignment = world.claim(world.annotators[i % len(world.annotators)])
        ext = assignment.seed.external_id
        plan = PLAN[ext]
        if plan == "reject":
            assignment_reject_seed(
                assignment_id=assignment.pk,
                actor=assignment.annotator,
                reason="not_self_contained",
                note="needs the schema",
            )
            continue
        fields = {k: v for k, v in plan.items() if k not in ("votes", "suggestion")}
        world.draft(assignment, subcategory=SEEDS[ext][0], **fields)
        # The token count and the quality checks run on commit, as in production.
        with capture(execute=True):
            rewrite = rewrite_submit(assignment_id=assignment.pk, actor=assignment.annotator)
        cast_panel(rewrite, plan["votes"])
        if "suggestion" in plan:
            insert_suggestion(rewrite, **plan["suggestion"])

    responses_import(
        campaign=world.campaign,
        lines=[json.dumps(r, ensure_ascii=False) for r in RESPONSES],
        model="baseline-1",
    )
    responses_import(
        campaign=world.campaign,
        lines=[json.dumps(r, ensure_ascii=False) for r in PARTIAL],
        model="partial-1",
    )
    out = tmp_path / "release"
    release_build(campaign=world.campaign, out_dir=out, parameters=PARAMETERS)
    return out


def assert_same_as_golden(out: Path) -> None:
    drift = []
    for name in COMPARED:
        built = (out / name).read_bytes()
        golden = GOLDEN / name
        expected = golden.read_bytes() if golden.exists() else b""
        if built == expected:
            continue
        if name in BINARY:
            drift.append(f"{name}: bytes differ ({len(expected)} expected, {len(built)} built)\n")
            continue
        diff = difflib.unified_diff(
            expected.decode("utf-8").splitlines(keepends=True),
            built.decode("utf-8").splitlines(keepends=True),
            fromfile=f"tests/golden/release/{name}",
            tofile=f"built/{name}",
        )
        drift.append("".join(diff) or f"{name}: bytes differ (line endings?)\n")
    assert not drift, (
        "The release files drifted from the golden files. If the change is intended, run "
        "UPDATE_GOLDEN=1 pytest tests/test_release_golden.py and review the diff.\n\n"
        + "\n".join(drift)
    )


@pytest.mark.parametrize("shifted", [False, True], ids=["fresh-ids", "shifted-ids"])
def test_release_files_match_the_golden_files(
    make_world, tmp_path, django_capture_on_commit_callbacks, shifted
):
    if shifted:
        shift_primary_keys(make_world)
    out = build_golden_campaign(make_world, tmp_path, django_capture_on_commit_callbacks)
    if UPDATE and not shifted:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name in COMPARED:
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes((out / name).read_bytes())
    assert_same_as_golden(out)


def test_the_golden_files_cover_the_format_and_hold_nothing_run_dependent():
    """The golden campaign exercises what the format has to say, and the files hold no clock
    time or local path: a stale golden file cannot hide a missing case."""
    texts = {
        name: (GOLDEN / name).read_text(encoding="utf-8") for name in COMPARED if name not in BINARY
    }
    for name, text in texts.items():
        assert not re.search(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text), name
        assert "/tmp" not in text and str(Path.home()) not in text, name
    records = [json.loads(line) for line in texts["benchmark.jsonl"].splitlines()]
    stats = json.loads(texts["stats.json"])
    manifest = json.loads(texts["manifest.json"])
    # 4 releasable (5 accepted, 1 contaminated), 3 chosen over 3 subcategories.
    assert stats["total"] == len(records) == 3
    assert stats["funnel"]["accepted"] == 5 and stats["funnel"]["contaminated"] == 1
    assert stats["funnel"]["rejected"] == 1 and stats["funnel"]["no_consensus"] == 1
    assert stats["funnel"]["rejected_by_annotators"] == 1
    assert stats["parameters"]["eligible"] == 4
    assert "g03" not in {r["seed_id"] for r in records}
    # The baseline answered every sample: its field and the top-level baseline CodeArena's
    # judge reads. The partial model's key is only where it answered (drop_key): never null.
    by_seed = {r["seed_id"]: r for r in records}
    answers = {r["seed_id"]: r["response"] for r in RESPONSES}
    for seed, rec in by_seed.items():
        assert rec["baseline-1_response"] == rec["baseline"] == answers[seed]
        assert None not in rec.values() and "" not in rec.values()
    assert [s for s, r in sorted(by_seed.items()) if "partial-1_response" in r] == ["g02"]
    assert list(by_seed["g02"])[-5:] == [
        "meta",
        "baseline",
        "baseline-1_response",
        "partial-1_response",
        "provenance",
    ]
    # Provenance, last in every sample: one released sample was drafted from a model suggestion.
    assert {s: r["provenance"]["origin"] for s, r in by_seed.items()} == {
        "g02": "human",
        "g04": "model_drafted",
        "g07": "human",
    }
    assert by_seed["g04"]["provenance"]["model"] == "golden-drafter-1"
    assert by_seed["g04"]["provenance"]["edit_distance"] > 0
    assert stats["provenance"]["human_written"] + stats["provenance"]["model_drafted"] == 3
    assert stats["provenance"]["by_model"] == {"golden-drafter-1": 1}
    assert "## Provenance" in texts["README.md"]
    assert stats["responses"]["dropped_keys"] == {
        "partial-1": sorted(by_seed[s]["id"] for s in ["g04", "g07"])
    }
    # CodeArena's meta: each task type leads back to the sample's own pair as its first pair.
    for rec in records:
        assert levels_for(rec["meta"]["parsed"]["task_type"][0]) == (
            rec["category"],
            rec["subcategory"],
        )
    # One entry per included model, however many answers it has.
    assert manifest["counts"]["models"] == ["baseline-1", "partial-1"]
    assert list(stats["response_tokens"]) == ["baseline-1", "partial-1"]
    # Non-ASCII text is written as itself, not as \u escapes.
    assert "二分查找" in texts["benchmark.jsonl"] and "\\u" not in texts["benchmark.jsonl"]
    # The manifest lists every file but itself and the zip (which holds the manifest).
    assert sorted(manifest["files"]) == sorted(
        [n for n in COMPARED if n not in {"manifest.json", "golden-golden-v1.zip"}]
        + [f"figures/{n}.svg" for n in ["categories", "difficulty_by_category"]]
        + ["figures/programming_languages.svg"]
    )
    # The arena-hard-auto answers carry the metadata its style control reads, in its order,
    # with the markdown inside a code fence not counted.
    baseline_lines = [
        json.loads(line) for line in texts[f"{ARENA}/model_answer/baseline-1.jsonl"].splitlines()
    ]
    assert [a["uid"] for a in baseline_lines] == sorted(r["id"] for r in records)
    g04 = next(a for a in baseline_lines if a["uid"] == by_seed["g04"]["id"])
    assert list(g04["metadata"]) == ["token_len", "header_count", "list_count", "bold_count"]
    assert g04["metadata"]["header_count"]["h1"] == 0 and g04["metadata"]["header_count"]["h2"] == 1
    assert g04["metadata"]["list_count"] == {"ordered": 2, "unordered": 0}
    assert g04["metadata"]["bold_count"] == {"**": 1, "__": 0}
    assert texts[f"{ARENA}/question.jsonl"] == texts["questions.jsonl"]
    assert {json.loads(q)["category"] for q in texts["questions.jsonl"].splitlines()} == {
        "codearena-golden"
    }
