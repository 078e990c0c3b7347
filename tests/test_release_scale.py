"""A release streams its samples (issue 18): the builder reads them a chunk at a time and appends
each chunk to every file, so its queries do not grow with the number of samples (up to a chunk:
five more per RELEASE_CHUNK samples), its memory does not hold every sample, and its files are
the bytes the whole-release code path writes (``formats.benchmark_record`` / ``jsonl`` /
``benchmark_parquet`` / ``arena_hard_*`` / ``release_zip``, which take every record at once), on
every rerun and whatever the chunk size."""

import hashlib
import io
import json
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.db import connection
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext

from annotation.codearena import task_type_for
from annotation.models import Rewrite, RewriteLanguage
from exports.services import ReleaseParameters, release_build, responses_import
from exports.services import build as build_module
from exports.services.formats import (
    ParquetRows,
    arena_hard_answers,
    arena_hard_questions,
    benchmark_parquet,
    benchmark_record,
    jsonl,
    parquet_schema,
    release_zip,
)
from review.models import Ballot

from .conftest import cast_panel

SUBCATEGORIES = [
    "Algorithm Design and Implementation",
    "Frontend Technologies",
    "Database Management",
]
MODEL = "gpt-4-0314"
SAMPLE_FILES = ["benchmark.jsonl", "benchmark.parquet", "questions.jsonl"]


def _accepted(world, i: int, capture) -> Rewrite:
    with capture(execute=True):
        rewrite = world.submitted(
            text=f"Question {i}: how do I {['sort', 'merge', 'parse'][i % 3]} item {i} fast?",
            difficulty=["easy", "medium", "hard"][i % 3],
            programming_languages=[["python"], ["javascript", "typescript"], ["sql"]][i % 3],
            subcategory=SUBCATEGORIES[i % 3],
        )
    cast_panel(rewrite, ["valid", "valid", "valid", "invalid"] if i % 2 else ["valid"] * 4)
    rewrite.refresh_from_db()
    assert rewrite.status == "accepted"
    return rewrite


@pytest.fixture
def campaign_of_12(world, django_capture_on_commit_callbacks):
    """12 accepted rewrites over 3 subcategories, each answered by MODEL."""
    for i, sub in enumerate(SUBCATEGORIES):
        world.add_seeds(4, start=10 * i, subcategory=sub)
    rewrites = [_accepted(world, i, django_capture_on_commit_callbacks) for i in range(12)]
    responses_import(
        campaign=world.campaign,
        model=MODEL,
        lines=[
            json.dumps(
                {"seed_id": r.seed.external_id, "response": f"# Answer {i}\n- **yes** " * (i + 1)}
            )
            for i, r in enumerate(rewrites)
        ],
    )
    return world.campaign


def _params(**changes) -> ReleaseParameters:
    return ReleaseParameters(name="v1", baseline_model=MODEL, **changes)


def _digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def test_queries_do_not_grow_with_the_number_of_samples(campaign_of_12, tmp_path):
    counts = []
    for size in (3, 12):
        with CaptureQueriesContext(connection) as ctx:
            result = release_build(
                campaign=campaign_of_12,
                out_dir=tmp_path / str(size),
                parameters=_params(size=size, stratify="none"),
            )
        assert result.total == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_queries_grow_by_one_batch_per_chunk(campaign_of_12, tmp_path, monkeypatch):
    monkeypatch.setattr(build_module, "RELEASE_CHUNK", 4)
    counts = []
    for size in (4, 12):
        with CaptureQueriesContext(connection) as ctx:
            release_build(
                campaign=campaign_of_12,
                out_dir=tmp_path / str(size),
                parameters=_params(size=size, stratify="none"),
            )
        counts.append(len(ctx.captured_queries))
    # Texts, languages, votes, provenance and answers of each further chunk of 4 samples.
    assert counts[1] - counts[0] == 2 * 5, counts


def test_reruns_and_chunk_sizes_give_the_same_bytes(campaign_of_12, tmp_path, monkeypatch):
    first = release_build(campaign=campaign_of_12, out_dir=tmp_path / "a", parameters=_params())
    again = release_build(campaign=campaign_of_12, out_dir=tmp_path / "b", parameters=_params())
    monkeypatch.setattr(build_module, "RELEASE_CHUNK", 5)  # three chunks, the last one short
    chunked = release_build(campaign=campaign_of_12, out_dir=tmp_path / "c", parameters=_params())
    assert first.total == 12
    assert first.files == again.files == chunked.files
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b") == _digests(tmp_path / "c")
    # The manifest's sha256 are those of the files on disk.
    for name, meta in first.files.items():
        data = (tmp_path / "a" / name).read_bytes()
        assert meta == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert [s for s, _ in first.samples] == sorted(s for s, _ in first.samples)


def test_streamed_files_are_those_of_the_whole_release_code_path(
    campaign_of_12, tmp_path, monkeypatch
):
    """The files of the samples, built the way the builder did before it streamed (every
    rewrite as an object with its tags, every record in memory, each file from all records),
    are byte for byte the streamed ones; the zip too."""
    monkeypatch.setattr(build_module, "RELEASE_CHUNK", 5)
    params = _params()
    result = release_build(campaign=campaign_of_12, out_dir=tmp_path / "r", parameters=params)
    campaign = campaign_of_12
    rewrites = list(
        Rewrite.objects.filter(campaign=campaign, status="accepted")
        .select_related("subcategory__category", "seed")
        .prefetch_related(
            Prefetch(
                "language_links",
                queryset=RewriteLanguage.objects.select_related("language").order_by("position"),
            )
        )
        .order_by("id")
    )
    answers = {
        seed_id: text
        for seed_id, text in campaign.seeds.filter(baseline_responses__model=MODEL).values_list(
            "pk", "baseline_responses__text"
        )
    }
    records = []
    for r in rewrites:
        ballots = Ballot.objects.filter(rewrite=r, status="cast")
        valid = ballots.filter(decision="valid").count()
        records.append(
            benchmark_record(
                campaign,
                r,
                votes={"valid": valid, "invalid": ballots.count() - valid},
                responses={MODEL: answers[r.seed_id]},
                task_type=task_type_for(r.subcategory.category.name, r.subcategory.name),
                baseline=answers[r.seed_id],
            )
        )
    records.sort(key=lambda rec: rec["id"])
    assert [rec["id"] for rec in records] == [s for s, _ in result.samples]
    columns = [*list(records[0])[:10], "meta", "baseline", f"{MODEL}_response", "provenance"]
    bench = "camp-v1"
    expected = {
        "benchmark.jsonl": jsonl(records),
        "benchmark.parquet": benchmark_parquet(records, columns=columns),
        "questions.jsonl": arena_hard_questions(records),
        f"arena-hard-auto/data/{bench}/question.jsonl": arena_hard_questions(records),
        f"arena-hard-auto/data/{bench}/model_answer/{MODEL}.jsonl": arena_hard_answers(
            records,
            model=MODEL,
            answers={rec["id"]: rec[f"{MODEL}_response"] for rec in records},
            bench=bench,
        ),
    }
    out = tmp_path / "r"
    for name, data in expected.items():
        assert (out / name).read_bytes() == data, name
    in_zip = {name: (out / name).read_bytes() for name in result.files if name != "camp-v1.zip"}
    assert (out / "camp-v1.zip").read_bytes() == release_zip(in_zip, folder="camp-v1")


def test_parquet_written_in_chunks_is_one_write_table_of_all_rows():
    rows = [
        {
            "id": f"{i:04d}",
            "messages": [{"role": "user", "content": f"question {i} " * (i % 7 + 1)}],
            "programming_language": ["python", "sql"][: i % 3],
            "provenance": {"origin": "human", "model": None, "prompt_version": None},
            "m_response": None if i % 4 else f"answer {i}",
        }
        for i in range(50)
    ]
    columns = ["id", "messages", "programming_language", "m_response", "provenance"]
    whole = benchmark_parquet(rows, columns=columns)
    for group in (7, 1024 * 1024):
        sink = io.BytesIO()
        writer = ParquetRows(sink, columns=columns, row_group_rows=group)
        for start in range(0, len(rows), 6):
            writer.add(rows[start : start + 6])
        writer.close()
        if group > len(rows):
            assert sink.getvalue() == whole
        else:
            # Row groups of ``group`` rows, as write_table(row_group_size=group) cuts them.
            table = pa.Table.from_pylist(
                [{name: row.get(name) for name in columns} for row in rows],
                schema=parquet_schema(columns),
            )
            reference = io.BytesIO()
            pq.write_table(
                table,
                reference,
                row_group_size=group,
                compression="zstd",
                write_statistics=False,
                store_schema=True,
            )
            assert sink.getvalue() == reference.getvalue()
            assert pq.ParquetFile(io.BytesIO(sink.getvalue())).metadata.num_row_groups == 8
    empty = io.BytesIO()
    ParquetRows(empty, columns=columns).close()
    assert empty.getvalue() == benchmark_parquet([], columns=columns)


def test_the_builder_does_not_hold_every_sample(campaign_of_12, tmp_path, monkeypatch):
    """With large texts, the peak of Python allocations of a release of 12 samples is not that
    of 3 plus the 9 more texts: the builder holds a chunk (here 2) at a time. (The last
    decontamination before the build reads every accepted text once, the same in both.)"""
    monkeypatch.setattr(build_module, "RELEASE_CHUNK", 2)
    text_bytes = 400_000
    for i, rewrite in enumerate(Rewrite.objects.filter(campaign=campaign_of_12)):
        Rewrite.objects.filter(pk=rewrite.pk).update(
            text=f"Question {i}: " + ("x" * 999 + " ") * (text_bytes // 1000)
        )
    # A first build loads what any build loads once (modules, the tokenizer, fonts).
    release_build(campaign=campaign_of_12, out_dir=tmp_path / "warm", parameters=_params(size=3))
    peaks = []
    for size in (3, 12):
        tracemalloc.start()
        release_build(
            campaign=campaign_of_12,
            out_dir=tmp_path / str(size),
            parameters=_params(size=size, stratify="none"),
        )
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert (tmp_path / "12" / "benchmark.jsonl").stat().st_size > 12 * text_bytes
    # Holding the 9 more samples' records alone would add 9 texts (the builder that held every
    # sample held each text several times over: records, jsonl, parquet, zip).
    assert peaks[1] - peaks[0] < 3 * text_bytes, peaks
    # At most the decontamination's one copy of every text, and a chunk's.
    assert peaks[1] < 2 * 12 * text_bytes, peaks


def test_a_build_that_fails_half_way_leaves_the_previous_release_whole(
    campaign_of_12, tmp_path, monkeypatch
):
    out = tmp_path / "release"
    first = release_build(campaign=campaign_of_12, out_dir=out, parameters=_params())
    before = _digests(out)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(build_module, "RELEASE_CHUNK", 5)
    monkeypatch.setattr(build_module, "release_zip_write", broken)
    with pytest.raises(OSError, match="disk full"):
        release_build(campaign=campaign_of_12, out_dir=out, parameters=_params(size=6))
    # The files streamed so far were in a staging folder, which is gone; the release in place
    # is the first one, whole.
    assert _digests(out) == before and len(before) == len(first.files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release"]
