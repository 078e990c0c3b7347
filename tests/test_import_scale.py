"""Seed imports at scale (issue 18): on PostgreSQL the command and the jobs stream the parsed
seeds with COPY into a staging table and sort them with SQL (``seed_staging``); they must give
the same rows, events and reports as the row-by-row path SQLite keeps, with a number of queries
that does not grow with the file, bad lines named in file order, and one transaction (a worker
that dies leaves nothing)."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation.models import Event, Seed, SeedImport
from annotation.services import SeedImportError, seed_staging, seeds_import
from annotation.services.seed_formats import FieldMapping, lines_rows
from annotation.services.seed_imports import (
    seed_import_approve,
    seed_import_check,
    seed_import_create,
    seed_import_run,
)
from annotation.services.seeds import SeedLines
from annotation.vocabulary import Vocabulary, builtin_taxonomy

from .conftest import World

SUBS = [s["name"] for s in builtin_taxonomy("codearena")["subcategories"]]
FIELDS = (
    "external_id",
    "title",
    "body",
    "answer",
    "source_url",
    "cluster",
    "subcategory__name",
    "language_hint",
    "metadata",
    "content_hash",
    "status",
    "sample_rank",
)


def line(i: int, **extra: Any) -> str:
    record = {
        "id": f"s{i}",
        "title": f"Title {i}",
        "text": f"Question {i}: how do I make this work?",
        "subcategory": SUBS[i % len(SUBS)],
        "source_url": f"https://example.org/q/{i}",
        "metadata": {"votes": i},
        **extra,
    }
    return json.dumps({k: v for k, v in record.items() if v is not None})


def mixed_lines(existing: World | None = None) -> list[str]:
    """Every outcome: new, already present (s0, s1 imported first), duplicate content of an
    existing seed and of an earlier seed of the file, a duplicate id, bad lines, a blank line,
    task types known, unknown and outside the taxonomy, a classified seed."""
    return [
        line(0),  # present
        line(10),
        line(11, text="Question 0: how do I make this work?", title="Title 0"),  # = s0's content
        "not json",
        line(12),
        line(13, text="Question 10: how do I   MAKE this work?", title="title 10"),  # = s10
        line(10, text="another text"),  # duplicate id
        "",
        line(14, subcategory=None, task_type="code debugging"),  # unknown task type
        line(15, subcategory=None, task_type="Web-Development"),
        line(16, source_url="ftp://nope"),  # bad
        line(1),  # present
        line(17, metadata={"tags": ["a"], "deep": {"x": 1}}),
        line(12),  # duplicate id again
        line(18, title=None),
    ]


def import_both(make_world, monkeypatch, lines: list[str], **kwargs: Any):
    """The same lines imported by the staged path and by the row path, each into a campaign
    holding s0 and s1 already: (reports, worlds)."""
    out = []
    for slug, staged in (("staged", True), ("rows", False)):
        world = make_world(slug=slug)
        seeds_import(campaign=world.campaign, lines=[line(0), line(1)])
        monkeypatch.setattr(seed_staging, "available", lambda staged=staged: staged)
        report = seeds_import(campaign=world.campaign, lines=lines, **kwargs)
        monkeypatch.undo()
        out.append((report, world))
    return out


def rows_of(world: World) -> list[tuple]:
    return list(Seed.objects.filter(campaign=world.campaign).order_by("id").values_list(*FIELDS))


def events_of(world: World) -> list[tuple]:
    return list(
        Event.objects.filter(campaign=world.campaign, kind="seeds.imported")
        .order_by("id")
        .values_list("kind", "object_type", "data")
    )


def report_view(report) -> dict[str, Any]:
    return {
        "lines": report.lines,
        "created": report.created,
        "seeds": report.seeds,
        "already_present": (report.already_present, report.already_present_total),
        "duplicate_content": (report.duplicate_content, report.duplicate_content_total),
        "repeated": (report.repeated, report.repeated_total),
        "errors": [(e.line, e.messages) for e in report.errors],
        "bad_lines": report.bad_lines,
        "task_types": report.task_types.notes(),
        "classified": report.task_types.classified,
        "why": report.nothing_imported_because(),
    }


def test_the_staged_import_writes_the_rows_events_and_report_of_the_row_path(
    postgres, make_world, monkeypatch
):
    (staged, a), (rows, b) = import_both(
        make_world, monkeypatch, mixed_lines(), skip_bad_lines=True
    )
    assert report_view(staged) == report_view(rows)
    assert staged.created == 6 and staged.already_present == ["s0", "s1"]
    assert staged.duplicate_content == [(3, "s0"), (6, "s10")]
    assert [(e.line, e.message) for e in staged.errors] == [
        (4, "invalid JSON (Expecting value at column 1)"),
        (7, "duplicate id 's10' (first seen on line 2)"),
        (11, "'source_url' is not an http(s) URL: 'ftp://nope'"),
        (14, "duplicate id 's12' (first seen on line 5)"),
    ]
    assert rows_of(a) == rows_of(b)
    # In file order, as bulk_create wrote them.
    assert [r[0] for r in rows_of(a)] == ["s0", "s1", "s10", "s12", "s14", "s15", "s17", "s18"]
    assert [e[2] for e in events_of(a)] == [e[2] for e in events_of(b)]


def test_the_staged_dry_run_and_refusal_match_the_row_path(postgres, make_world, monkeypatch):
    (staged, a), (rows, b) = import_both(
        make_world, monkeypatch, mixed_lines(), dry_run=True, skip_bad_lines=True
    )
    assert staged.created == 6 and Seed.objects.filter(campaign=a.campaign).count() == 2
    # Bad lines without skipping: refused, nothing written, the same named lines.
    assert report_view(staged) == report_view(rows)
    for slug in ("staged2", "rows2"):
        world = make_world(slug=slug)
        monkeypatch.setattr(seed_staging, "available", lambda slug=slug: slug == "staged2")
        with pytest.raises(SeedImportError) as exc:
            seeds_import(campaign=world.campaign, lines=mixed_lines())
        monkeypatch.undo()
        assert exc.value.report.bad_lines == 4
        assert [e.line for e in exc.value.report.errors] == [4, 7, 11, 14]
        assert not Seed.objects.filter(campaign=world.campaign).exists()


def test_bad_lines_are_named_in_file_order_and_capped(postgres, world, settings):
    settings.CURATION_IMPORT_MAX_REPORTED_ERRORS = 3
    lines = [line(1), line(1), "{", line(2), line(2), line(2), "[1]"]
    with pytest.raises(SeedImportError) as exc:
        seeds_import(campaign=world.campaign, lines=lines)
    report = exc.value.report
    assert report.bad_lines == 5 and report.unlisted == 2
    assert [str(e) for e in report.errors] == [
        "line 2: duplicate id 's1' (first seen on line 1)",
        "line 3: invalid JSON (Expecting property name enclosed in double quotes at column 2)",
        "line 5: duplicate id 's2' (first seen on line 4)",
    ]


def test_repeated_tasks_of_a_json_min_export_are_kept_once(postgres, make_world, monkeypatch):
    tasks = [{"id": 1, "prompt": "a?"}, {"id": 2, "prompt": "b?"}, {"id": 1, "prompt": "a?"}]
    lines = [json.dumps(t) for t in tasks]
    mapping = FieldMapping.build(preset="label-studio-min", fields=["text=prompt"])
    (staged, _), (rows, _) = import_both(make_world, monkeypatch, lines, mapping=mapping)
    assert report_view(staged) == report_view(rows)
    assert staged.repeated == [(3, "1", 1)] and staged.created == 2


def test_queries_do_not_grow_with_the_file(postgres, make_world):
    counts = []
    for n in (40, 400):
        world = make_world(slug=f"q{n}")
        lines = [line(i) for i in range(n)] + [line(0)]  # one duplicate id
        with CaptureQueriesContext(connection) as queries:
            report = seeds_import(campaign=world.campaign, lines=lines, skip_bad_lines=True)
        assert report.created == n and report.bad_lines == 1
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def _job(world: World, lines: list[str], name: str = "s.jsonl") -> SeedImport:
    content = ("\n".join(lines) + "\n").encode()
    return seed_import_create(
        campaign=world.campaign, actor=world.curator, upload=ContentFile(content, name=name)
    )


def _run_job(world: World, lines: list[str]) -> SeedImport:
    seed_import = _job(world, lines)
    seed_import_check(import_id=seed_import.pk)
    seed_import_approve(import_id=seed_import.pk, actor=world.curator, skip_bad_lines=True)
    return seed_import_run(import_id=seed_import.pk)


def test_the_staged_jobs_report_what_the_row_jobs_do(postgres, make_world, monkeypatch):
    done = []
    for slug, staged in (("jstaged", True), ("jrows", False)):
        world = make_world(slug=slug)
        seeds_import(campaign=world.campaign, lines=[line(0), line(1)])
        monkeypatch.setattr(seed_staging, "available", lambda staged=staged: staged)
        seed_import = _run_job(world, mixed_lines())
        monkeypatch.undo()
        assert seed_import.status == "done", seed_import.error
        done.append((seed_import, world))
    (a, wa), (b, wb) = done
    # (the taxonomy's fingerprint names each campaign's own subcategory rows)
    assert {**a.check_report, "taxonomy": ""} == {**b.check_report, "taxonomy": ""}
    report_b = {k: v for k, v in b.report.items() if k != "resume_after"}
    assert a.report == report_b
    assert a.report["new"] == 6 and [s["outcome"] for s in a.report["sample"][:3]] == [
        "already_present",
        "new",
        "duplicate_content",
    ]
    assert rows_of(wa) == rows_of(wb)
    kinds = ("seeds.imported", "seed_import.done", "seed_import.checked")
    for kind in kinds:
        got = [
            list(Event.objects.filter(campaign=w.campaign, kind=kind).values_list("data"))
            for w in (wa, wb)
        ]
        for rows in got:
            for (data,) in rows:
                data.pop("seed_import", None)
        assert got[0] == got[1], kind


def test_job_queries_do_not_grow_with_the_file(postgres, make_world):
    counts = []
    for n in (30, 300):
        world = make_world(slug=f"j{n}")
        seed_import = _job(world, [line(i) for i in range(n)])
        with CaptureQueriesContext(connection) as check_queries:
            seed_import_check(import_id=seed_import.pk)
        seed_import_approve(import_id=seed_import.pk, actor=world.curator)
        with CaptureQueriesContext(connection) as run_queries:
            seed_import = seed_import_run(import_id=seed_import.pk)
        assert seed_import.status == "done" and seed_import.report["new"] == n
        counts.append((len(check_queries), len(run_queries)))
    assert counts[0] == counts[1], counts


def test_a_worker_that_dies_leaves_nothing_and_the_job_starts_again(postgres, world, monkeypatch):
    seed_import = _job(world, [line(i) for i in range(35)])
    seed_import_check(import_id=seed_import.pk)
    seed_import_approve(import_id=seed_import.pk, actor=world.curator)
    real_insert = seed_staging.Stage.insert_new

    def dying_insert(self, campaign_id):
        real_insert(self, campaign_id)
        raise SystemExit("worker killed")

    monkeypatch.setattr(seed_staging.Stage, "insert_new", dying_insert)
    with pytest.raises(SystemExit):
        seed_import_run(import_id=seed_import.pk)
    monkeypatch.undo()
    seed_import.refresh_from_db()
    assert seed_import.status == "importing" and not Seed.objects.exists()
    assert seed_import_run(import_id=seed_import.pk).status == "importing"  # still fresh
    SeedImport.objects.filter(pk=seed_import.pk).update(
        started_at=timezone.now() - timedelta(minutes=31)
    )
    seed_import = seed_import_run(import_id=seed_import.pk)
    assert seed_import.status == "done" and seed_import.report["new"] == 35
    assert Seed.objects.count() == 35
    assert Event.objects.filter(kind="seeds.imported").count() == 1


def test_a_bad_line_the_check_missed_stops_the_import_naming_the_first(postgres, world):
    seed_import = _job(world, [line(1), line(2)])
    seed_import_check(import_id=seed_import.pk)
    seed_import_approve(import_id=seed_import.pk, actor=world.curator)
    # The stored file changes under the job: a duplicate id on line 3, invalid JSON on line 4.
    with seed_import.file.open("wb") as fh:
        fh.write(("\n".join([line(1), line(2), line(1), "nope", line(3)]) + "\n").encode())
    seed_import = seed_import_run(import_id=seed_import.pk)
    assert seed_import.status == "failed"
    assert "Line 3 is bad although the check passed (duplicate id 's1'" in seed_import.error
    assert not Seed.objects.exists()


def test_the_lookups_use_the_unique_indexes_of_a_large_campaign(postgres, world):
    """Staging a small file against a campaign of 30,000 seeds: the sort finds the seeds present
    and the duplicate content through the unique indexes, never a scan of the seed table."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO annotation_seed (campaign_id, external_id, title, body, answer, "
            "source_url, cluster, language_hint, metadata, content_hash, status, created_at) "
            "SELECT %s, 'big-' || i, '', 'body ' || i, '', '', '', '', '{}', md5(i::text) || "
            "md5((i + 1)::text), 'pooled', now() FROM generate_series(1, 30000) i",
            [world.campaign.pk],
        )
        cursor.execute("ANALYZE annotation_seed")
    parser = SeedLines(Vocabulary.for_campaign(world.campaign))
    stage = seed_staging.Stage(full=False)
    stage.create()
    with stage.copying() as write:
        for row in lines_rows([line(i) for i in range(50)] + [line(1, id="big-7")]):
            parsed = parser.parse_alone(row)
            assert parsed.fields is not None
            write(row.number, parsed.fields)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {seed_staging.STAGE}")
        cursor.execute("EXPLAIN " + seed_staging.classify_sql(), {"c": world.campaign.pk})
        plan = "\n".join(r[0] for r in cursor.fetchall())
    assert "Seq Scan on annotation_seed" not in plan, plan
    assert "seed_unique_external_id" in plan and "seed_unique_content" in plan, plan
    stage.classify(world.campaign.pk)
    counts = stage.counts()
    assert counts[seed_staging.Outcome.PRESENT] == 1
    assert counts[seed_staging.Outcome.NEW] == 50
