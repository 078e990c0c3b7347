"""Releases: reference corpora, decontamination, similarity flags, baseline responses, the release
files and the release job API. Real public benchmarks are read from ../shared/data/references."""

import gzip
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tiktoken
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from markdown_it import MarkdownIt

from annotation.models import Rewrite
from exports.services import ReleaseParameters, release_build, responses_import
from exports.services.formats import HashedFile
from exports.services.publishing import release_staging_open, release_staging_publish
from quality.models import ContaminationHit, ReferenceDocument, ReferenceSet, SimilarityFlag
from quality.ngrams import jaccard, shingles, words
from quality.services import (
    ReferenceImportError,
    campaign_similarity_check,
    reference_set_load,
    rewrites_decontaminate,
)
from review.stats import campaign_funnel

from .conftest import BENCHMARK_KEYS, api_for, cast_panel, jobs, require

REFERENCES = Path(__file__).resolve().parents[2] / "shared" / "data" / "references"
ARENA_HARD = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "seed_pools"
    / "arena_hard_auto"
    / "arena-hard-v2.0_question.jsonl"
)


@pytest.fixture
def references() -> Path:
    require(REFERENCES.is_dir(), f"needs the shared reference corpora at {REFERENCES}")
    return REFERENCES


def humaneval_prompt(references: Path, task: str = "HumanEval/0") -> str:
    with gzip.open(references / "humaneval" / "HumanEval.jsonl.gz", "rt") as fh:
        for line in fh:
            record = json.loads(line)
            if record["task_id"] == task:
                return record["prompt"]
    raise AssertionError(task)


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def accepted(world, text: str, capture, **changes) -> Rewrite:
    """A rewrite with ``text`` submitted (quality checks run on commit) and voted valid 4-0."""
    with capture(execute=True):
        rewrite = world.submitted(text=text, **changes)
    cast_panel(rewrite, ["valid"] * 4)
    rewrite.refresh_from_db()
    assert rewrite.status == "accepted"
    return rewrite


UNRELATED = [
    "My Flask app returns 502 behind nginx after a deploy; the gunicorn log says worker timeout. "
    "How should I size workers and timeouts for a 4 core VM serving slow report endpoints?",
    "In PostgreSQL 15 a query joining orders and customers ignores my composite index on "
    "(customer_id, created_at). Explain when the planner prefers a hash join and how to check.",
    "Write a Rust CLI that tails a log file, groups lines by HTTP status, and prints a live "
    "histogram every second without blocking on slow disks.",
    "Our React form re-renders every keystroke and feels sluggish with 200 fields. Show how to "
    "restructure it with uncontrolled inputs and a single submit handler.",
]


# --- the normalisation ------------------------------------------------------------------------


def test_normalisation_folds_case_width_and_punctuation_and_splits_cjk():
    assert words("def has_close_elements(numbers: List[float]) -> bool:") == [
        "def",
        "has_close_elements",
        "numbers",
        "list",
        "float",
        "bool",
    ]
    assert words("ＲＥＴＵＲＮ  Return\treturn!!") == ["return", "return", "return"]
    assert words("创建一个函数") == ["创", "建", "一", "个", "函", "数"]
    assert jaccard(shingles("a b c d"), shingles("a b c d")) == 1.0
    assert jaccard(shingles("a b c d"), shingles("w x y z")) == 0.0


# --- reference corpora ------------------------------------------------------------------------


def test_load_references_reads_every_shared_benchmark_file(db, references):
    files = sorted(p for p in references.rglob("*.jsonl*"))
    assert len(files) >= 60
    for path in files:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            expected = sum(1 for line in fh if line.strip())
        name = (
            "ref-" + path.parent.name + "-" + path.name.split(".")[0].lower().replace("#", "sharp")
        )
        name = name.replace("+", "p")
        out = run("load_references", name, str(path))
        ref = ReferenceSet.objects.get(name=name)
        assert ref.documents_count == expected == ref.documents.count(), path
        assert f"Loaded {expected} documents" in out
        assert ref.sources[0]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    # Whole benchmarks load in one go too; translations reuse task ids, so ids get the file name.
    mceval = sorted((references / "mceval").glob("*.jsonl"))
    run("load_references", "mceval", *map(str, mceval))
    assert ReferenceSet.objects.get(name="mceval").documents_count == 2007
    assert ReferenceDocument.objects.filter(reference_set__name="mceval", doc_id="Python:Python/1")


def test_bad_reference_lines_are_named_and_nothing_loads(db, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"task_id": "a", "prompt": "fine prompt text"}\n'
        "not json\n"
        '{"prompt": "no id"}\n'
        '{"task_id": "b", "canonical_solution": "only code"}\n'
        '{"task_id": "a", "prompt": "again"}\n'
        "[1, 2]\n"
    )
    with pytest.raises(CommandError) as err:
        run("load_references", "bad", str(path))
    message = str(err.value)
    for expected in [
        "5 bad line(s)",
        "bad.jsonl line 2: not valid JSON",
        "bad.jsonl line 3: no id",
        "bad.jsonl line 4: no text in prompt, text, instruction, problem, question",
        "bad.jsonl line 5: duplicate id 'a' (first at bad.jsonl line 1)",
        "bad.jsonl line 6: expected a JSON object",
    ]:
        assert expected in message
    assert not ReferenceSet.objects.exists()
    with pytest.raises(CommandError, match="no such file"):
        run("load_references", "bad", str(tmp_path / "missing.jsonl"))


def test_reload_replaces_the_set_and_rechecks_rewrites(
    world, tmp_path, django_capture_on_commit_callbacks
):
    world.add_seeds(2)
    leaked = "the quick brown fox jumps over the lazy dog near the quiet river bank today"
    first = tmp_path / "v1.jsonl"
    first.write_text(json.dumps({"task_id": "t1", "prompt": leaked}) + "\n")
    reference_set_load(name="tiny", paths=[first])
    rewrite = accepted(
        world, f"Consider this: {leaked}. What is wrong?", django_capture_on_commit_callbacks
    )
    assert rewrite.contamination_hits.count() == 1
    second = tmp_path / "v2.jsonl"
    second.write_text(
        json.dumps({"task_id": "t2", "prompt": "an entirely different reference document text"})
        + "\n"
    )
    result = reference_set_load(name="tiny", paths=[second])
    assert result.replaced == 1 and result.rechecked == 1 and result.contaminated == 0
    assert list(ReferenceDocument.objects.values_list("doc_id", flat=True)) == ["t2"]
    assert not ContaminationHit.objects.exists()
    # A failed reload changes nothing.
    (tmp_path / "bad.jsonl").write_text("{oops\n")
    with pytest.raises(ReferenceImportError):
        reference_set_load(name="tiny", paths=[tmp_path / "bad.jsonl"])
    assert list(ReferenceDocument.objects.values_list("doc_id", flat=True)) == ["t2"]


# --- decontamination --------------------------------------------------------------------------


def test_humaneval_prompt_is_flagged_and_short_phrases_are_not(
    world, references, django_capture_on_commit_callbacks, tmp_path, settings
):
    run("load_references", "humaneval", str(references / "humaneval" / "HumanEval.jsonl.gz"))
    run("load_references", "mbpp", str(references / "mbpp" / "mbpp.jsonl"))
    world.add_seeds(3)
    prompt = humaneval_prompt(references)
    leaked = accepted(
        world,
        "I found this exercise and cannot solve it, please help:\n\n```python\n" + prompt + "\n```",
        django_capture_on_commit_callbacks,
    )
    # Shares only short common phrases with HumanEval/0 and MBPP ("write a python function",
    # "given threshold", "from typing import list").
    clean = accepted(
        world,
        "Write a Python function that, given threshold t and a list of floats, tells whether "
        "two numbers in the list are closer than t. Use from typing import List for hints.",
        django_capture_on_commit_callbacks,
    )
    hits = list(leaked.contamination_hits.select_related("document__reference_set"))
    assert [(h.document.reference_set.name, h.document.doc_id) for h in hits] == [
        ("humaneval", "HumanEval/0")
    ]
    assert hits[0].n == 10 and hits[0].overlap > 30
    assert (
        hits[0].ngram
        == "from typing import list def has_close_elements numbers list float threshold"
    )
    assert not clean.contamination_hits.exists()

    funnel = campaign_funnel(world.campaign)
    assert (funnel["accepted"], funnel["contaminated"], funnel["releasable"]) == (2, 1, 1)
    result = release_build(campaign=world.campaign, out_dir=tmp_path / "r")
    records = [json.loads(x) for x in (tmp_path / "r" / "benchmark.jsonl").read_text().splitlines()]
    assert [r["seed_id"] for r in records] == [clean.seed.external_id]
    assert result.stats["funnel"]["contaminated"] == 1
    assert result.stats["quality"]["contaminated_excluded"] == 1

    # The reviewer sees the hit (before voting) through the ballot API.
    with django_capture_on_commit_callbacks(execute=True):
        pending = world.submitted(text="Solve:\n" + prompt)
    ballot = pending.ballots.first()
    body = api_for(ballot.reviewer).get(f"/api/v1/ballots/{ballot.pk}/").json()
    assert body["contamination"][0]["reference_set"] == "humaneval"
    assert body["contamination"][0]["document_id"] == "HumanEval/0"
    assert "tally" not in body and "author" not in body


def test_campaign_decontamination_against_all_references_has_constant_queries(
    world, references, django_capture_on_commit_callbacks
):
    files = sorted(references.rglob("*.jsonl*"))
    run("load_references", "everything", *map(str, files))
    world.add_seeds(12)
    prompt = humaneval_prompt(references, "HumanEval/1")
    for i in range(12):
        text = UNRELATED[i % 4] + f" (case {i})" + ("\n" + prompt if i % 6 == 0 else "")
        world.submitted(annotator=world.annotators[i % 4], text=text)
    rewrites_decontaminate(campaign=world.campaign)  # builds and caches the index
    first_three = list(Rewrite.objects.order_by("pk").values_list("pk", flat=True)[:3])
    with CaptureQueriesContext(connection) as few:
        small = rewrites_decontaminate(campaign=world.campaign, rewrite_ids=first_three)
    with CaptureQueriesContext(connection) as many:
        result = rewrites_decontaminate(campaign=world.campaign)
    assert small.checked == 3 and result.checked == 12
    assert result.contaminated == 2
    assert len(many.captured_queries) == len(few.captured_queries)
    out = run("decontaminate", world.campaign.slug, "--no-progress")
    assert "12 rewrites checked against 1 reference set(s)" in out and "2 contaminated" in out
    # MultiPL-E's Python prompt holds the same docstring: several documents hit, each once.
    hit_docs = set(ContaminationHit.objects.values_list("document__doc_id", flat=True))
    assert {"HumanEval:HumanEval/1", "humaneval-python:Python/1"} <= hit_docs


# --- copied seeds and near duplicates ---------------------------------------------------------


def test_copied_seed_and_near_duplicates_are_flagged(world, django_capture_on_commit_callbacks):
    body = (
        "I have a pandas DataFrame with a column of timestamps as strings in two formats and I "
        "need to parse them all to UTC and then resample to hourly means, how do I do it"
    )
    world.add_seeds(1, text=body)
    world.add_seeds(3, start=1)
    with django_capture_on_commit_callbacks(execute=True):
        copied = world.submitted(text=body.replace("I need", "I really need"))
    flags = list(copied.similarity_flags.values_list("kind", "other", "score"))
    assert flags[0][0] == "copied_seed" and flags[0][1] is None and flags[0][2] >= 0.7

    twin_text = UNRELATED[0]
    with django_capture_on_commit_callbacks(execute=True):
        a = world.submitted(annotator=world.annotators[1], text=twin_text)
    with django_capture_on_commit_callbacks(execute=True):
        b = world.submitted(annotator=world.annotators[2], text=twin_text.replace("VM", "machine"))
    with django_capture_on_commit_callbacks(execute=True):
        c = world.submitted(annotator=world.annotators[3], text=UNRELATED[1])
    pair = SimilarityFlag.objects.filter(kind="near_duplicate")
    assert sorted(pair.values_list("rewrite_id", "other_id")) == sorted(
        [(a.pk, b.pk), (b.pk, a.pk)]
    )
    assert not c.similarity_flags.exists()

    # The campaign-wide check (MinHash LSH + exact confirmation) finds the same flags.
    before = sorted(SimilarityFlag.objects.values_list("rewrite_id", "kind", "other_id"))
    result = campaign_similarity_check(campaign=world.campaign)
    assert (result.copied_seed, result.near_duplicate_pairs) == (1, 1)
    assert sorted(SimilarityFlag.objects.values_list("rewrite_id", "kind", "other_id")) == before


def borderline_variant(text: str, k: int) -> str:
    """``text`` with every k-th word replaced: word 3-gram Jaccard with ``text`` falls to about
    0.7-0.85, just above the flagging threshold, where LSH alone misses pairs."""
    tokens = text.split()
    return " ".join(f"zz{k}x{i}" if i % k == k - 1 else t for i, t in enumerate(tokens))


def test_minhash_candidates_agree_with_exact_all_pairs(world):
    world.add_seeds(40)
    long = " ".join(UNRELATED)
    base = [UNRELATED[i % 4] + f" Variant {i // 4}." for i in range(28)]
    base += [long, borderline_variant(long, 17), borderline_variant(long, 19)]
    base += [f"{long} {i}" if i % 2 else borderline_variant(long, 13 + i) for i in range(9)]
    for i, text in enumerate(base):
        world.submitted(annotator=world.annotators[i % 4], text=text)
    rows = list(Rewrite.objects.filter(campaign=world.campaign).values_list("pk", "text"))
    exact = {
        (a, b)
        for a, ta in rows
        for b, tb in rows
        if a < b and jaccard(shingles(ta), shingles(tb)) >= world.campaign.duplicate_threshold
    }
    result = campaign_similarity_check(campaign=world.campaign)
    found = set(
        SimilarityFlag.objects.filter(
            kind="near_duplicate", rewrite_id__lt=F("other_id")
        ).values_list("rewrite_id", "other_id")
    )
    scores = [
        jaccard(shingles(ta), shingles(tb)) for a, ta in rows for b, tb in rows if (a, b) in exact
    ]
    assert len(exact) > 100 and sum(0.7 <= x < 0.85 for x in scores) >= 10
    assert found == exact and result.near_duplicate_pairs == len(exact)
    # A threshold of 1.0 (only identical texts) works too.
    world.campaign.duplicate_threshold = 1.0
    world.campaign.save(update_fields=["duplicate_threshold"])
    assert campaign_similarity_check(campaign=world.campaign).near_duplicate_pairs == sum(
        x == 1.0 for x in scores
    )


# --- releases ---------------------------------------------------------------------------------


@pytest.fixture
def released_world(world, django_capture_on_commit_callbacks):
    """12 accepted rewrites over 3 subcategories, varied tags, plus one rejected."""
    subs = [
        "Algorithm Design and Implementation",
        "Frontend Technologies",
        "Database Management",
    ]
    for i, sub in enumerate(subs):
        world.add_seeds(4, start=10 * i, subcategory=sub)
    langs = [["python"], ["javascript", "typescript"], ["sql"], ["rust"]]
    for i in range(12):
        accepted(
            world,
            f"{UNRELATED[i % 4]} Detail {i}: 你好" if i == 5 else f"{UNRELATED[i % 4]} Detail {i}.",
            django_capture_on_commit_callbacks,
            difficulty=["easy", "medium", "hard"][i % 3],
            programming_languages=langs[i % 4],
            natural_language="zh" if i == 5 else "en",
            subcategory=subs[i // 4],
        )
    return world


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_release_files_are_complete_consistent_and_reproducible(released_world, tmp_path):
    campaign = released_world.campaign
    params = ReleaseParameters(name="v1", size=9, seed=7, stratify="subcategory")
    one = release_build(campaign=campaign, out_dir=tmp_path / "one", parameters=params)
    two = release_build(campaign=campaign, out_dir=tmp_path / "two", parameters=params)
    names = sorted(one.files)
    assert names == [
        "README.md",
        "arena-hard-auto/data/camp-v1/question.jsonl",
        "benchmark.jsonl",
        "benchmark.parquet",
        "camp-v1.zip",
        "figures/categories.svg",
        "figures/difficulty_by_category.svg",
        "figures/programming_languages.svg",
        "manifest.json",
        "questions.jsonl",
        "stats.json",
    ]
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert one.files == two.files

    records = read_jsonl(tmp_path / "one" / "benchmark.jsonl")
    assert len(records) == 9 and all(list(r) == [*BENCHMARK_KEYS, "provenance"] for r in records)
    stats = json.loads((tmp_path / "one" / "stats.json").read_text())
    assert stats["total"] == 9
    assert sorted(stats["subcategories"].values()) == [3, 3, 3]
    for key in ["categories", "subcategories", "difficulty", "natural_languages"]:
        assert sum(stats[key].values()) == 9, key
    assert stats["programming_languages"] == dict(
        sorted(
            __import__("collections")
            .Counter(lang for r in records for lang in r["programming_language"])
            .items(),
            key=lambda kv: (-kv[1], kv[0]),
        )
    )
    for category, split in stats["difficulty_by_category"].items():
        assert sum(split.values()) == stats["categories"][category]
    funnel = stats["funnel"]
    assert funnel["seeds"] >= funnel["sampled"] >= funnel["assigned"] >= funnel["rewritten"]
    assert funnel["submitted"] == sum(
        funnel[k] for k in ["waiting_for_votes", "accepted", "rejected", "no_consensus", "returned"]
    )
    assert funnel["releasable"] == funnel["accepted"] - funnel["contaminated"] == 12
    assert funnel["released"] == 9 <= funnel["releasable"]

    # Token statistics recomputed independently with tiktoken.
    encoding = tiktoken.get_encoding("o200k_base")
    lengths = [
        len(encoding.encode(r["messages"][0]["content"], disallowed_special=())) for r in records
    ]
    assert [r["question_tokens"] for r in records] == lengths
    assert stats["question_tokens"] == {
        "count": 9,
        "min": min(lengths),
        "max": max(lengths),
        "mean": round(statistics.fmean(lengths), 2),
        "median": statistics.median(lengths),
    }

    # questions.jsonl: arena-hard-auto's question format, the same questions in the same order.
    questions = read_jsonl(tmp_path / "one" / "questions.jsonl")
    arena_keys = ["uid", "category", "subcategory", "prompt"]
    if ARENA_HARD.is_file():
        with ARENA_HARD.open() as fh:
            arena_keys = list(json.loads(fh.readline()))
    assert all(list(q) == arena_keys for q in questions)
    # The category arena-hard-auto's judge settings are keyed by; ours is in benchmark.jsonl.
    assert {q["category"] for q in questions} == {"coding"}
    assert [q["subcategory"] for q in questions] == [r["subcategory"] for r in records]
    assert [(q["uid"], q["prompt"]) for q in questions] == [
        (r["id"], r["messages"][0]["content"]) for r in records
    ]

    # The manifest lists every other file with its real hash and size.
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert sorted(manifest["files"]) == [
        n for n in names if n not in {"manifest.json", "camp-v1.zip"}
    ]
    for name, meta in manifest["files"].items():
        data = (tmp_path / "one" / name).read_bytes()
        assert meta == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert manifest["parameters"]["size"] == 9 and manifest["counts"]["samples"] == 9

    # Another seed gives another subset; stratify=none still gives a deterministic subset.
    other = release_build(
        campaign=campaign,
        out_dir=tmp_path / "three",
        parameters=ReleaseParameters(name="v1", size=9, seed=8),
    )
    assert other.files["benchmark.jsonl"] != one.files["benchmark.jsonl"]


def test_benchmark_loads_with_hugging_face_datasets(released_world, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    release_build(campaign=released_world.campaign, out_dir=tmp_path / "rel")
    ds = datasets.load_dataset(
        "json",
        data_files=str(tmp_path / "rel" / "benchmark.jsonl"),
        split="train",
        cache_dir=str(tmp_path / "hf-cache"),
    )
    assert ds.num_rows == 12
    assert ds.column_names == [*BENCHMARK_KEYS, "provenance"]
    assert ds[0]["messages"][0]["role"] == "user"
    assert isinstance(ds[0]["programming_language"], list)
    # The dataset card's own config (data_files path) resolves the same file.
    card = (tmp_path / "rel" / "README.md").read_text()
    header = yaml.safe_load(card.split("---\n")[1])
    path = header["configs"][0]["data_files"][0]["path"]
    ds2 = datasets.load_dataset(
        "json",
        data_files=str(tmp_path / "rel" / path),
        split="train",
        cache_dir=str(tmp_path / "hf-cache"),
    )
    assert ds2.num_rows == 12


def test_dataset_card_has_a_parsing_yaml_header_and_valid_markdown(released_world, tmp_path):
    campaign = released_world.campaign
    campaign.name = "Code <script>alert(1)</script> | Arena"
    campaign.save(update_fields=["name"])
    release_build(
        campaign=campaign, out_dir=tmp_path / "rel", parameters=ReleaseParameters(name="v2")
    )
    card = (tmp_path / "rel" / "README.md").read_text()
    assert card.startswith("---\n")
    _, front, body = card.split("---\n", 2)
    header = yaml.safe_load(front)
    assert header["language"] == ["en", "zh"]
    assert header["size_categories"] == ["n<1K"]
    assert header["configs"][0]["data_files"] == [{"split": "test", "path": "benchmark.jsonl"}]
    assert "<script>" in header["pretty_name"]  # YAML is data; it is escaped where rendered

    tokens = MarkdownIt("commonmark").enable("table").parse(body)
    tables = [t for t in tokens if t.type == "table_open"]
    assert len(tables) >= 7
    assert not [t for t in tokens if t.type in ("html_block", "html_inline")]
    rendered = MarkdownIt("commonmark").enable("table").render(body)
    assert "<script>" not in rendered
    assert "| Development and Programming | 4 | 33.3% |" in body
    for figure in ["categories", "difficulty_by_category", "programming_languages"]:
        assert f"(figures/{figure}.svg)" in body
        svg = (tmp_path / "rel" / "figures" / f"{figure}.svg").read_text()
        assert svg.startswith("<svg") and "<script" not in svg


def test_smaller_than_size_is_an_error_unless_allowed(released_world, tmp_path):
    with pytest.raises(Exception, match="Only 12 accepted, uncontaminated rewrites"):
        release_build(
            campaign=released_world.campaign,
            out_dir=tmp_path / "r",
            parameters=ReleaseParameters(size=397),
        )
    assert not (tmp_path / "r").exists()
    result = release_build(
        campaign=released_world.campaign,
        out_dir=tmp_path / "r",
        parameters=ReleaseParameters(size=397, allow_smaller=True),
    )
    assert result.total == 12


def publish(out: Path, files: dict[str, bytes]) -> None:
    """What ``release_build`` does with its files: each written (``HashedFile``: fsynced on
    close) into a staging folder beside ``out``, which then replaces ``out``."""
    staging = release_staging_open(out)
    try:
        for rel, data in files.items():
            target = HashedFile(staging / rel)
            target.write(data)
            target.close()
        release_staging_publish(out, staging, written=files)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# ``publish`` in a process killed after its ``after``-th fsync or ``after_renames``-th rename.
KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {root!r})
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import django
    django.setup()
    from exports.services import publishing as releases
    from exports.services.formats import HashedFile
    calls = 0
    real_fsync = os.fsync
    def fsync_then_die(fd):
        global calls
        real_fsync(fd)
        calls += 1
        if calls == {after}:
            os.kill(os.getpid(), signal.SIGKILL)
    releases.os.fsync = fsync_then_die
    renames = 0
    real_rename = os.rename
    def rename_then_die(src, dst):
        global renames
        real_rename(src, dst)
        renames += 1
        if renames == {after_renames}:
            os.kill(os.getpid(), signal.SIGKILL)
    releases.os.rename = rename_then_die
    files = {{
        "benchmark.jsonl": b"new\\n" * 1000, "stats.json": b"{{}}", "figures/a.svg": b"<svg/>"
    }}
    out = releases.Path({out!r})
    staging = releases.release_staging_open(out)
    for rel, data in files.items():
        target = HashedFile(staging / rel)
        target.write(data)
        target.close()
    releases.release_staging_publish(out, staging, written=files)
    """
)


@pytest.mark.parametrize("existing", [False, True])
def test_killing_an_export_half_way_leaves_no_partial_file(tmp_path, existing):
    out = tmp_path / "release"
    if existing:
        publish(out, {"benchmark.jsonl": b"old\n", "stats.json": b"{}"})
    root = str(Path(__file__).resolve().parents[1])
    script = KILL_SCRIPT.format(root=root, out=str(out), after=2, after_renames=0)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    if existing:
        # The old release is untouched: nothing new was moved in before the kill.
        assert sorted(os.listdir(out)) == ["benchmark.jsonl", "stats.json"]
        assert (out / "benchmark.jsonl").read_bytes() == b"old\n"
    else:
        assert not out.exists()
    # The half-written staging folder sits beside the output, and the next run removes it once
    # stale and publishes normally.
    staging = [p for p in tmp_path.iterdir() if ".staging-" in p.name]
    assert len(staging) == 1
    os.utime(staging[0], (0, 0))
    publish(out, {"benchmark.jsonl": b"new\n", "stats.json": b"{}"})
    assert (out / "benchmark.jsonl").read_bytes() == b"new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["release"]


def test_killing_an_export_between_the_folder_swap_keeps_the_old_release_whole(tmp_path):
    out = tmp_path / "release"
    publish(out, {"benchmark.jsonl": b"old\n", "notes.txt": b"ours"})
    root = str(Path(__file__).resolve().parents[1])
    script = KILL_SCRIPT.format(root=root, out=str(out), after=99, after_renames=1)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    # Killed after the old folder moved aside: no output folder, never a mix of releases, and
    # the previous release is whole beside it.
    assert not out.exists()
    aside = [p for p in tmp_path.iterdir() if ".previous-" in p.name]
    assert len(aside) == 1 and (aside[0] / "benchmark.jsonl").read_bytes() == b"old\n"
    # Uninterrupted, a new release replaces the old files and keeps files it does not write.
    publish(out, {"benchmark.jsonl": b"v1\n", "notes.txt": b"ours"})
    publish(out, {"benchmark.jsonl": b"v2\n", "stats.json": b"{}"})
    assert sorted(os.listdir(out)) == ["benchmark.jsonl", "notes.txt", "stats.json"]
    assert (out / "benchmark.jsonl").read_bytes() == b"v2\n"


# --- baseline responses -----------------------------------------------------------------------


def test_import_responses_by_seed_id_and_arena_hard_uid(released_world, tmp_path):
    campaign = released_world.campaign
    first = release_build(campaign=campaign, out_dir=tmp_path / "r1")
    records = read_jsonl(tmp_path / "r1" / "benchmark.jsonl")
    assert first.total == 12
    path = tmp_path / "answers.jsonl"
    lines = []
    for i, rec in enumerate(records):
        if i % 2:
            lines.append(
                json.dumps({"seed_id": rec["seed_id"], "response": f"Answer {i} " * (i + 1)})
            )
        else:  # arena-hard-auto model-answer format, keyed by the release's uid
            lines.append(
                json.dumps(
                    {
                        "uid": rec["id"],
                        "model": "gpt-4-0314",
                        "messages": [
                            {"role": "user", "content": rec["messages"][0]["content"]},
                            {"role": "assistant", "content": {"answer": f"Answer {i} " * (i + 1)}},
                        ],
                    }
                )
            )
    path.write_text("\n".join(lines) + "\n")
    out = run(
        "import_responses", campaign.slug, str(path), "--model", "gpt-4-0314", "--no-progress"
    )
    assert "imported 12 responses of gpt-4-0314" in out
    release_build(campaign=campaign, out_dir=tmp_path / "r2")
    again = read_jsonl(tmp_path / "r2" / "benchmark.jsonl")
    assert list(again[0]) == [*BENCHMARK_KEYS, "gpt-4-0314_response", "provenance"]
    encoding = tiktoken.get_encoding("o200k_base")
    lengths = []
    for i, rec in enumerate(records):
        match = next(r for r in again if r["id"] == rec["id"])
        assert match["gpt-4-0314_response"] == f"Answer {i} " * (i + 1)
        lengths.append(len(encoding.encode(match["gpt-4-0314_response"])))
    stats = json.loads((tmp_path / "r2" / "stats.json").read_text())
    assert stats["response_tokens"]["gpt-4-0314"]["min"] == min(lengths)
    assert stats["response_tokens"]["gpt-4-0314"]["max"] == max(lengths)
    assert stats["response_tokens"]["gpt-4-0314"]["count"] == 12
    assert "`gpt-4-0314_response`" in (tmp_path / "r2" / "README.md").read_text()


def test_bad_response_lines_are_named_and_nothing_imports(released_world, tmp_path):
    campaign = released_world.campaign
    seed = campaign.seeds.order_by("pk").first()
    bad = [
        json.dumps({"seed_id": seed.external_id, "response": "ok"}),
        "{broken",
        json.dumps({"seed_id": "nope", "response": "x"}),
        json.dumps({"response": "no key"}),
        json.dumps({"seed_id": seed.external_id, "response": "twice"}),
        json.dumps({"uid": seed.external_id, "messages": [{"role": "user", "content": "q"}]}),
    ]
    with pytest.raises(Exception) as err:
        responses_import(campaign=campaign, lines=bad, model="m1")
    message = str(err.value)
    for expected in [
        "5 bad line(s)",
        "line 2: not valid JSON",
        "line 3: 'nope' is neither a seed id nor a sample id",
        "line 4: no seed_id, id, uid or question_id",
        "line 5: a second response",
        "line 6: no response text",
    ]:
        assert expected in message
    with pytest.raises(Exception, match="becomes the field"):
        responses_import(campaign=campaign, lines=bad[:1], model="bad name/x")
    from exports.models import BaselineResponse

    assert not BaselineResponse.objects.exists()


# --- the release job API ----------------------------------------------------------------------


def test_curator_starts_a_release_and_downloads_its_files(
    released_world, make_world, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.RELEASES_DIR = tmp_path / "releases"
    world = released_world
    curator = api_for(world.curator)
    url = f"/api/v1/campaigns/{world.campaign.slug}/releases/"
    with django_capture_on_commit_callbacks(execute=True):
        res = curator.post(url, {"name": "v1.0", "size": 6, "seed": 1}, format="json")
    assert res.status_code == 202, res.content
    body = res.json()
    assert body["status"] == "queued" and body["name"] == "v1.0"
    detail = curator.get(f"/api/v1/releases/{body['id']}/").json()
    assert detail["status"] == "done" and detail["progress"] == 100
    assert detail["message"] == "6 samples" and detail["parameters"]["size"] == 6
    assert detail["stats"]["total"] == 6
    names = [f["name"] for f in detail["files"]]
    assert "benchmark.jsonl" in names and "manifest.json" in names
    manifest = None
    for f in detail["files"]:
        res = curator.get(f["url"])
        assert res.status_code == 200
        data = b"".join(res.streaming_content)
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]
        assert "attachment" in res["Content-Disposition"]
        if f["name"] == "manifest.json":
            manifest = json.loads(data)
    assert manifest["release"] == "v1.0" and manifest["counts"]["samples"] == 6
    listed = curator.get(url).json()
    assert listed["count"] == 1 and "stats" not in listed["results"][0]

    # Errors a person can act on.
    res = curator.post(url, {"name": "v1.0"}, format="json")
    assert res.status_code == 409 and "already exists" in res.json()["detail"]
    res = curator.post(url, {"name": "big", "size": 5000}, format="json")
    assert res.status_code == 400 and "Only 12" in res.json()["detail"]
    res = curator.post(url, {"name": "../etc", "stratify": "diagonal"}, format="json")
    assert res.status_code == 400 and set(res.json()["errors"]) == {"name", "stratify"}
    # Only the files the release wrote are served: not a file beside its folder.
    (settings.RELEASES_DIR / world.campaign.slug / "secret.txt").write_text("TOP-SECRET-CONTENT")
    for name in ["../secret.txt", "..%2Fsecret.txt", "/etc/passwd", "figures"]:
        res = curator.get(f"/api/v1/releases/{body['id']}/files/{name}")
        assert res.status_code == 404 and b"TOP-SECRET" not in b"".join(
            getattr(res, "streaming_content", [res.content])
        ), name

    # Other roles get 403, members of other campaigns and strangers 404.
    for user in [world.annotators[0], world.reviewers[0]]:
        client = api_for(user)
        assert client.post(url, {"name": "x"}, format="json").status_code == 403
        assert client.get(f"/api/v1/releases/{body['id']}/").status_code == 403
        assert client.get(detail["files"][0]["url"]).status_code == 403
    other = make_world(slug="other")
    client = api_for(other.curator)
    assert client.post(url, {"name": "x"}, format="json").status_code == 404
    assert client.get(f"/api/v1/releases/{body['id']}/").status_code == 404
    assert client.get(detail["files"][0]["url"]).status_code == 404
    assert client.get("/api/v1/releases/999999/").status_code == 404


def test_release_job_reports_progress_while_it_runs(
    released_world, tmp_path, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from exports.models import Release
    from exports.services import job as releases

    settings.RELEASES_DIR = tmp_path / "releases"
    curator = api_for(released_world.curator)
    url = f"/api/v1/campaigns/{released_world.campaign.slug}/releases/"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        res = curator.post(url, {"name": "nightly"}, format="json")
    assert res.status_code == 202 and res.json()["status"] == "queued"
    assert res.json()["files"] == [] and len(jobs(callbacks)) == 1
    seen = []
    real = releases._release_progress

    def watch(release_id, percent, message):
        real(release_id, percent, message)
        seen.append(curator.get(f"/api/v1/releases/{release_id}/").json())

    monkeypatch.setattr(releases, "_release_progress", watch)
    jobs(callbacks)[0]()
    assert [s["status"] for s in seen] == ["running"] * len(seen) and len(seen) >= 5
    assert [s["progress"] for s in seen] == sorted(s["progress"] for s in seen)
    assert seen[-1]["progress"] == 100 and seen[0]["files"] == []
    final = Release.objects.get(name="nightly")
    assert final.status == "done" and final.stats["total"] == 12
    kinds = list(
        released_world.campaign.events.filter(object_type="release").values_list("kind", flat=True)
    )
    assert kinds == ["release.queued", "release.started", "release.done"]


def test_a_failing_release_job_is_marked_failed_with_its_reason(
    released_world, tmp_path, settings, django_capture_on_commit_callbacks
):
    from exports.jobs import release_start
    from exports.models import Release

    settings.RELEASES_DIR = tmp_path / "releases"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        release = release_start(
            campaign=released_world.campaign,
            actor=released_world.curator,
            parameters=ReleaseParameters(name="big", size=12),
        )
    # Between queueing and running, a benchmark containing two of the four question texts is
    # loaded: the six accepted rewrites built on those texts become contaminated.
    for rewrite in Rewrite.objects.filter(status="accepted").order_by("pk")[:2]:
        reference_text = rewrite.text
        path = tmp_path / f"ref{rewrite.pk}.jsonl"
        path.write_text(json.dumps({"task_id": "x", "prompt": reference_text}) + "\n")
        reference_set_load(name=f"leak{rewrite.pk}", paths=[path])
    jobs(callbacks)[0]()
    release.refresh_from_db()
    assert release.status == Release.Status.FAILED
    assert "Only 6 accepted, uncontaminated rewrites" in release.error
    assert not (tmp_path / "releases" / released_world.campaign.slug / "big").exists()
    body = api_for(released_world.curator).get(f"/api/v1/releases/{release.pk}/").json()
    assert body["status"] == "failed" and "Only 6" in body["error"] and body["files"] == []
