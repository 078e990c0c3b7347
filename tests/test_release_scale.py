"""A release streams its samples (issue 18): the builder reads them a chunk at a time and appends
each chunk to every file, so its queries do not grow with the number of samples (up to a chunk:
five more per RELEASE_CHUNK samples), its memory does not hold every sample, its samples are
those the builder made before it streamed (every rewrite an object with its tags), and its files
are the same bytes on every rerun and whatever the chunk size (test_release_golden pins them)."""

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
from exports.services.formats import ParquetRows, benchmark_row, jsonl_lines, parquet_schema
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


def benchmark_record(rewrite: Rewrite, **fields) -> dict:
    """A sample the way the builder made it before it streamed: from the rewrite object, with
    its seed, tags and programming languages loaded."""
    return benchmark_row(
        sample=hashlib.sha256(
            f"{rewrite.campaign.slug}\x00{rewrite.seed.external_id}".encode()
        ).hexdigest()[:32],
        text=rewrite.text,
        category=rewrite.subcategory.category.name,
        subcategory=rewrite.subcategory.name,
        difficulty=rewrite.difficulty,
        programming_languages=[link.language.name for link in rewrite.language_links.all()],
        natural_language=rewrite.natural_language,
        question_tokens=rewrite.question_tokens,
        seed_id=rewrite.seed.external_id,
        **fields,
    )


def test_streamed_samples_are_those_of_the_whole_release_code_path(
    campaign_of_12, tmp_path, monkeypatch
):
    """benchmark.jsonl, read a chunk at a time, holds the samples built the way the builder
    did before it streamed (every rewrite as an object with its tags, every record in memory),
    line for line."""
    monkeypatch.setattr(build_module, "RELEASE_CHUNK", 5)
    params = _params()
    result = release_build(campaign=campaign_of_12, out_dir=tmp_path / "r", parameters=params)
    campaign = campaign_of_12
    rewrites = list(
        Rewrite.objects.filter(campaign=campaign, status="accepted")
        .select_related("subcategory__category", "seed", "campaign")
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
                r,
                votes={"valid": valid, "invalid": ballots.count() - valid},
                responses={MODEL: answers[r.seed_id]},
                task_type=task_type_for(r.subcategory.category.name, r.subcategory.name),
                baseline=answers[r.seed_id],
            )
        )
    records.sort(key=lambda rec: rec["id"])
    assert [rec["id"] for rec in records] == [s for s, _ in result.samples]
    streamed = (tmp_path / "r" / "benchmark.jsonl").read_text(encoding="utf-8")
    assert streamed.splitlines() == jsonl_lines(records).splitlines()


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
    schema = parquet_schema(columns)

    def write_table(table: pa.Table, **options) -> bytes:
        # How the builder wrote the file before it streamed: one write_table of every row.
        reference = io.BytesIO()
        pq.write_table(
            table,
            reference,
            compression="zstd",
            write_statistics=False,
            store_schema=True,
            **options,
        )
        return reference.getvalue()

    table = pa.Table.from_pylist(
        [{name: row.get(name) for name in columns} for row in rows], schema=schema
    )
    for group, row_groups in [(7, 8), (1024 * 1024, 1)]:
        sink = io.BytesIO()
        writer = ParquetRows(sink, columns=columns, row_group_rows=group)
        for start in range(0, len(rows), 6):
            writer.add(rows[start : start + 6])
        writer.close()
        # Row groups of ``group`` rows, as write_table cuts them (by default 1024 * 1024).
        options = {} if group == 1024 * 1024 else {"row_group_size": group}
        assert sink.getvalue() == write_table(table, **options), group
        assert pq.ParquetFile(io.BytesIO(sink.getvalue())).metadata.num_row_groups == row_groups
        assert pq.read_table(io.BytesIO(sink.getvalue())).to_pylist() == table.to_pylist()
    empty = io.BytesIO()
    ParquetRows(empty, columns=columns).close()
    assert empty.getvalue() == write_table(schema.empty_table())
    assert pq.read_table(io.BytesIO(empty.getvalue())).schema == schema


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
