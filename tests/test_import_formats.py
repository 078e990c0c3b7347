"""Seed files in other tools' formats: every format (and its .gz), the BOM, unsupported files
named as such, presets on real-shaped files, the field mapping, CodeArena task types, the bad
line count, importing nothing as a failure, the API and the upload page; then the real
arena-hard-auto and InfiBench files in ../shared/data/seed_pools."""

import copy
import csv
import gzip
import io
import json
import re
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from annotation.models import Seed, SeedImport
from annotation.services import campaign_create
from annotation.services.seed_formats import FieldMapping, UnsupportedFile, detect
from annotation.vocabulary import builtin_taxonomy

from .conftest import api_for, require
from .test_schema import check, schema  # noqa: F401 - the schema fixture
from .test_workspace_seeds import API, assert_denied, principals

pytestmark = pytest.mark.django_db

SEED_POOLS = Path(__file__).resolve().parents[2] / "shared" / "data" / "seed_pools"

RECORDS = [
    {
        "id": "f1",
        "text": "How do I reverse a list in Python?",
        "subcategory": "Code Debugging",
        "title": "Lists",
    },
    {"id": "f2", "text": "Why does my SQL join return duplicates?\nSee below.", "cluster": "sql"},
    {
        "id": "f3",
        "text": "Écrire un « parser » CSV, avec des virgules, en Rust",
        "language": "rust",
    },
]


def as_jsonl(records) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def as_json(records, indent=2) -> bytes:
    return json.dumps(records, ensure_ascii=False, indent=indent).encode()


def as_delimited(records, delimiter=",") -> bytes:
    names = sorted({k for r in records for k in r})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names, delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode()


def as_parquet(records) -> bytes:
    names = sorted({k for r in records for k in r})
    table = pa.table({n: [r.get(n) for r in records] for n in names})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


WRITERS = {
    "jsonl": as_jsonl,
    "json": as_json,
    "csv": as_delimited,
    "tsv": lambda rs: as_delimited(rs, "\t"),
    "parquet": as_parquet,
}
DESCRIBED = {
    "jsonl": "JSON lines",
    "json": "JSON array",
    "csv": "CSV",
    "tsv": "TSV",
    "parquet": "Parquet",
}


def run(*args, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_seeds", *args, "--no-progress", stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def fails(*args):
    err = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("import_seeds", *args, "--no-progress", stderr=err, stdout=io.StringIO())
    return str(exc.value), err.getvalue()


def seeds():
    return {
        s.external_id: s for s in Seed.objects.select_related("subcategory").order_by("pk").all()
    }


# --- every format, gzipped or not, with or without a BOM ------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("fmt", list(WRITERS))
def test_every_format_imports_the_same_seeds(world, tmp_path, fmt, gz):
    content = WRITERS[fmt](RECORDS)
    # A neutral name: the format is told from the content.
    path = tmp_path / ("upload.gz" if gz else "upload.dat")
    path.write_bytes(gzip.compress(content) if gz else content)
    out, _ = run("camp", str(path))
    expected = DESCRIBED[fmt] + (", gzip-compressed" if gz else "")
    assert f"({expected}): 3 " in out and "imported 3 seeds" in out, out
    got = seeds()
    assert list(got) == ["f1", "f2", "f3"]
    assert got["f1"].subcategory.name == "Code Debugging" and got["f1"].title == "Lists"
    assert got["f2"].body == RECORDS[1]["text"] and got["f2"].cluster == "sql"
    assert got["f3"].body == RECORDS[2]["text"] and got["f3"].language_hint == "rust"
    assert got["f3"].metadata == {}


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "tsv"])
def test_a_utf8_bom_is_read_past(world, tmp_path, fmt):
    path = tmp_path / f"bom.{fmt}"
    path.write_bytes(b"\xef\xbb\xbf" + WRITERS[fmt](RECORDS))
    out, _ = run("camp", str(path))
    assert "with a byte-order mark" in out and "imported 3 seeds" in out
    # The BOM is not part of the first key (a CSV's first column would be "\ufeffid").
    assert set(seeds()) == {"f1", "f2", "f3"}


def test_a_compact_json_array_on_one_line_and_a_big_one_stream(world, tmp_path):
    records = [{"id": f"n{i}", "text": f"question {i} " + "x" * (i % 50)} for i in range(3000)]
    path = tmp_path / "one-line.json"
    path.write_bytes(as_json(records, indent=None))
    out, _ = run("camp", str(path))
    assert "3000 records, imported 3000 seeds" in out


def test_a_broken_json_array_names_where(world, tmp_path):
    path = tmp_path / "broken.json"
    path.write_bytes(b'[\n {"id": "a", "text": "t"},\n {"id": "b", "text": }\n]\n')
    message, _ = fails("camp", str(path))
    assert "is not a valid JSON array: element 2" in message and "line 3" in message


def test_a_pretty_printed_json_object_is_named_as_such(world, tmp_path):
    path = tmp_path / "dataset.json"
    path.write_bytes(json.dumps({"rows": RECORDS}, indent=2).encode())
    message, err = fails("camp", str(path))
    assert "is one JSON object spread over several lines" in message and err == ""


# --- unsupported files, named as such --------------------------------------------------------

JSONL = as_jsonl(RECORDS).decode()


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("seeds.jsonl", JSONL)
    return out.getvalue()


UNSUPPORTED = {
    "utf16-bom": (JSONL.encode("utf-16"), "UTF-16 (little-endian, with a byte-order mark)"),
    "utf16-be-bom": (
        b"\xfe\xff" + JSONL.encode("utf-16-be"),
        "UTF-16 (big-endian, with a byte-order mark)",
    ),
    "utf16-no-bom": (JSONL.encode("utf-16-le"), "UTF-16 (little-endian, no byte-order mark)"),
    "utf32-no-bom": (JSONL.encode("utf-32-le"), "UTF-32 (little-endian, no byte-order mark)"),
    "zip": (_zip(), "a zip archive"),
    "binary": (bytes(range(256)) * 8, "a binary file"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(100), "a PNG image"),
    "gz-of-zip": (gzip.compress(_zip()), "a zip archive"),
    "plain-text": (b"just some words\nno header here\n", "has no comma- or tab-separated header"),
}


@pytest.mark.parametrize("kind", list(UNSUPPORTED))
def test_an_unsupported_file_is_named_in_one_message(world, tmp_path, kind):
    content, what = UNSUPPORTED[kind]
    path = tmp_path / "seeds.jsonl"
    path.write_bytes(content)
    message, err = fails("camp", str(path))
    assert what in message, message
    assert "which seed import does not read" in message
    assert err == ""  # one message, not one per line
    with pytest.raises(UnsupportedFile, match=re.escape(what)):
        detect(io.BytesIO(content), "seeds.jsonl")
    assert Seed.objects.count() == 0


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_invalid_utf8_names_the_byte_and_line(world, tmp_path, fmt, gz):
    good = WRITERS[fmt](RECORDS)
    # A Latin-1 "é" far enough in that the head the format is told from is clean UTF-8.
    padding = [{"id": f"p{i}", "text": f"padding question {i} " + "y" * 200} for i in range(400)]
    content = WRITERS[fmt](padding + RECORDS).replace("É".encode(), b"\xc9")
    assert len(good) and b"\xc9" in content
    path = tmp_path / "latin.bin"
    path.write_bytes(gzip.compress(content) if gz else content)
    message, _ = fails("camp", str(path))
    offset = content.index(b"\xc9")
    line = content[:offset].count(b"\n") + 1
    assert f"at byte {offset}, line {line}" in message, message
    assert "is not UTF-8" in message


# --- presets on real-shaped files -----------------------------------------------------------


def test_arena_hard_auto_preset_keeps_its_categories_in_metadata(world, tmp_path):
    path = tmp_path / "question.jsonl"
    path.write_bytes(
        as_jsonl(
            [
                {
                    "uid": "2edbb5f36f5b42be",
                    "category": "hard_prompt",
                    "subcategory": "coding",
                    "prompt": "Write me a zig program that reads input.txt.",
                },
                {
                    "uid": "328c149ed45a41c0b9d6f14659e63599",
                    "category": "arena-hard-v0.1",
                    "cluster": "ABC Sequence Puzzles & Groups",
                    "prompt": "Use ABC notation to write a melody.",
                },
            ]
        )
    )
    # Without the preset every line is bad (no id, no text, unknown category), each once.
    message, err = fails("camp", str(path))
    assert "2 bad line(s) of 2" in message
    assert err.count("question.jsonl:1:") == 1 and "missing 'id'" in err
    assert "unknown category 'hard_prompt'" in err
    out, _ = run("camp", str(path), "--preset", "arena-hard-auto")
    assert "imported 2 seeds" in out
    got = seeds()
    first, second = got["2edbb5f36f5b42be"], got["328c149ed45a41c0b9d6f14659e63599"]
    assert first.body.startswith("Write me a zig") and first.subcategory is None
    assert first.metadata == {"category": "hard_prompt", "subcategory": "coding"}
    assert second.cluster == "ABC Sequence Puzzles & Groups"
    assert second.metadata == {"category": "arena-hard-v0.1"}


LABEL_STUDIO_TASKS = [
    {
        "id": 11,
        "data": {"question": "How do I mock time in pytest?", "source": "so", "title": "Mocking"},
        "annotations": [
            {
                "id": 1001,
                "result": [{"from_name": "answer", "type": "textarea", "value": {"text": ["x"]}}],
                "was_cancelled": False,
                "completed_by": 10,
                "created_at": "2024-03-09T21:52:49.513742Z",
                "lead_time": 4.2,
            }
        ],
        "predictions": [],
        "project": 83,
        "created_at": "2024-03-09T21:52:49.513742Z",
        "updated_at": "2024-03-09T22:16:08.746926Z",
    },
    {
        "id": 12,
        "data": {"text": "Why is my Rust borrow checker angry?", "source": "so"},
        "annotations": [],
        "predictions": [],
        "project": 83,
    },
]


def test_label_studio_preset_reads_the_task_id_and_data(world, tmp_path):
    path = tmp_path / "project-83.json"
    path.write_bytes(as_json(LABEL_STUDIO_TASKS))
    out, _ = run("camp", str(path), "--preset", "label-studio")
    assert "(JSON array): 2 records, imported 2 seeds" in out
    got = seeds()
    assert got["11"].body == "How do I mock time in pytest?" and got["11"].title == "Mocking"
    # The rest of data and the task's own fields are kept; the labelers' work is not.
    assert got["11"].metadata == {
        "data": {"source": "so"},
        "project": 83,
        "created_at": "2024-03-09T21:52:49.513742Z",
        "updated_at": "2024-03-09T22:16:08.746926Z",
    }
    assert got["12"].body == "Why is my Rust borrow checker angry?"


def test_label_studio_preset_reads_a_chosen_data_key(world, tmp_path):
    tasks = [{"id": 5, "data": {"my_prompt": "Explain Go channels."}}]
    path = tmp_path / "ls.json"
    path.write_bytes(as_json(tasks))
    run("camp", str(path), "--preset", "label-studio", "--field", "text=data.my_prompt")
    assert seeds()["5"].body == "Explain Go channels." and seeds()["5"].metadata == {}


def test_label_studio_min_keeps_the_first_record_of_a_task(world, tmp_path):
    records = [
        {
            "question": "How do I parse dates?",
            "id": 7,
            "answer": "use dateutil",
            "annotator": "a@x.org",
            "annotation_id": 70,
            "created_at": "2024-01-01",
            "updated_at": "2024-01-01",
            "lead_time": 3.1,
        },
        {
            "question": "How do I parse dates?",
            "id": 7,
            "answer": "use pandas",
            "annotator": "b@x.org",
            "annotation_id": 71,
            "created_at": "2024-01-02",
            "updated_at": "2024-01-02",
            "lead_time": 2.0,
        },
        {"question": "What is a monad?", "id": 8, "verdict": "keep", "annotator": "a@x.org"},
    ]
    path = tmp_path / "min.json"
    path.write_bytes(as_json(records))
    out, err = run("camp", str(path), "--preset", "label-studio-min")
    assert "imported 2 seeds" in out and "1 repeated task(s)" in out
    assert "record 2: skipped: task '7' again (kept record 1)" in err
    got = seeds()
    assert got["7"].answer == "use dateutil" and got["7"].metadata == {}
    assert got["8"].metadata == {"verdict": "keep"}
    # Without the preset a repeated id is a bad record.
    Seed.objects.all().delete()
    message, err = fails("camp", str(path), "--field", "text=question")
    assert "1 bad record(s) of 3" in message and "duplicate id '7'" in err


def test_huggingface_preset_reads_common_column_names(world, tmp_path):
    path = tmp_path / "train-00000-of-00001.parquet"
    path.write_bytes(
        as_parquet(
            [
                {"question_id": 101, "question": "Sort a dict by value?", "lang": "python"},
                {"question_id": 102, "question": "Center a div?", "lang": "css"},
            ]
        )
    )
    out, _ = run("camp", str(path), "--preset", "huggingface")
    assert "(Parquet): 2 rows, imported 2 seeds" in out
    got = seeds()
    assert got["101"].body == "Sort a dict by value?" and got["101"].language_hint == "python"
    assert got["101"].metadata == {}


# --- the field mapping ----------------------------------------------------------------------


def test_mapping_reads_dotted_paths_and_overrides_the_preset(world, tmp_path):
    records = [
        {
            "uid": "u1",
            "qid": "Q-1",
            "prompt": "arena text",
            "messages": [{"role": "user", "content": "the real question"}],
            "meta": {"source": {"url": "https://example.org/q/1"}, "votes": 4},
        }
    ]
    path = tmp_path / "nested.jsonl"
    path.write_bytes(as_jsonl(records))
    run(
        "camp",
        str(path),
        "--preset",
        "arena-hard-auto",
        "--field",
        "id=qid",
        "--field",
        "text=messages.0.content",
        "--field",
        "source_url=meta.source.url",
    )
    seed = seeds()["Q-1"]
    assert seed.body == "the real question" and seed.source_url == "https://example.org/q/1"
    # Unread keys (and the unread part of a key read in part) go to metadata.
    assert seed.metadata == {"uid": "u1", "prompt": "arena text", "meta": {"votes": 4}}


def test_an_empty_source_reads_a_target_from_nowhere(world, tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(b"id,text,category\nc1,question one,hard_prompt\n")
    fails("camp", str(path))  # hard_prompt is not a CodeArena category
    run("camp", str(path), "--field", "category=")
    assert seeds()["c1"].metadata == {"category": "hard_prompt"}


def test_unknown_targets_and_sources_in_no_record_are_clear_errors(world, tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(as_jsonl([{"question_id": 1, "prompt": "p"}]))
    message, _ = fails("camp", str(path), "--field", "identifier=question_id", "--field", "oops")
    assert "unknown target 'identifier'" in message and "'oops' is not target=source" in message
    message, _ = fails(
        "camp",
        str(path),
        "--field",
        "id=question_id",
        "--field",
        "text=question",
        "--skip-bad-lines",
    )
    assert "reads 'text=question', but no record of the file has that key" in message
    with pytest.raises(Exception, match="Unknown preset"):
        FieldMapping.build(preset="nope")


# --- CodeArena task types -------------------------------------------------------------------


def test_a_task_type_classifies_a_seed_without_a_subcategory(world, tmp_path):
    path = tmp_path / "tt.jsonl"
    path.write_bytes(
        as_jsonl(
            [
                {"id": "t1", "text": "a", "task_type": "Web-Development"},
                {"id": "t2", "text": "b", "task_type": ["software development", "x"]},
                {"id": "t3", "text": "c", "meta": {"parsed": {"task_type": ["devops"]}}},
                {"id": "t4", "text": "d", "task_type": "code debugging"},
                {"id": "t5", "text": "e", "task_type": "devops", "subcategory": "Code Debugging"},
            ]
        )
    )
    out, err = run("camp", str(path))
    got = seeds()
    assert (got["t1"].subcategory.category.name, got["t1"].subcategory.name) == (
        "Specialized Computing Areas",
        "Web, Mobile Development",
    )
    assert got["t1"].metadata == {"task_type": "Web-Development"}
    assert got["t2"].subcategory.name == "Development Processes and Practices"
    assert got["t2"].metadata == {"task_type": ["software development", "x"]}
    assert got["t3"].subcategory.name == "Automation and DevOps"
    assert got["t4"].subcategory is None and got["t4"].metadata == {"task_type": "code debugging"}
    assert got["t5"].subcategory.name == "Code Debugging"  # its own subcategory wins
    assert "3 seed(s) classified by their CodeArena task type" in err
    assert "task type 'code debugging' (1 seed(s)): not in CodeArena's map" in err


def test_a_task_type_whose_pair_the_taxonomy_lacks_is_kept_in_metadata(db, tmp_path):
    taxonomy = copy.deepcopy(builtin_taxonomy("codearena"))
    taxonomy["subcategories"] = [
        s for s in taxonomy["subcategories"] if s["name"] != "Web, Mobile Development"
    ]
    campaign_create(slug="small", name="Small", taxonomy=taxonomy)
    path = tmp_path / "tt.jsonl"
    path.write_bytes(as_jsonl([{"id": "w", "text": "a", "task_type": "web development"}]))
    _, err = run("small", str(path))
    seed = Seed.objects.get(external_id="w")
    assert seed.subcategory is None and seed.metadata == {"task_type": "web development"}
    assert (
        "task type 'web development' (1 seed(s)): leads to Specialized Computing Areas / "
        "Web, Mobile Development, not in this taxonomy" in err
    )


# --- counting bad lines, importing nothing --------------------------------------------------


def test_each_bad_line_counts_once_with_all_its_reasons(world, tmp_path):
    bad = {"title": 5, "source_url": "ftp://x", "category": "Nope", "subcategory": "Nada"}
    path = tmp_path / "bad.jsonl"
    path.write_bytes(as_jsonl([bad] * 4 + [{"id": "ok", "text": "fine"}]))
    message, err = fails("camp", str(path))
    assert "4 bad line(s) of 5" in message
    lines = err.strip().splitlines()
    assert len(lines) == 4
    for reason in [
        "missing 'id'",
        "missing 'text'",
        "'title' must be a string",
        "'source_url' is not an http(s) URL",
        "unknown subcategory 'Nada'",
        "unknown category 'Nope'",
    ]:
        assert reason in lines[0]


def test_importing_nothing_is_a_failure_even_skipping_bad_lines(world, tmp_path):
    path = tmp_path / "all-bad.jsonl"
    path.write_bytes(as_jsonl([{"uid": i, "prompt": "p"} for i in range(3)]))
    message, _ = fails("camp", str(path), "--skip-bad-lines")
    assert "nothing imported: 3 of 3 lines are bad" in message
    empty = tmp_path / "blank.jsonl"
    empty.write_bytes(b"\n\n")
    message, _ = fails("camp", str(empty))
    assert "has no records" in message
    header_only = tmp_path / "header.csv"
    header_only.write_bytes(b"id,text\n")
    message, _ = fails("camp", str(header_only))
    assert "nothing imported: the file has no records" in message
    # Seeds already present are not a failure (the file was imported before) ...
    good = tmp_path / "good.jsonl"
    good.write_bytes(as_jsonl(RECORDS))
    run("camp", str(good))
    out, _ = run("camp", str(good))
    assert "imported 0 seeds, 3 already present" in out
    # ... but a file whose every seed repeats another's content is.
    copies = tmp_path / "copies.jsonl"
    copies.write_bytes(as_jsonl([{**r, "id": r["id"] + "-copy"} for r in RECORDS]))
    message, _ = fails("camp", str(copies), "--dry-run")
    assert "nothing would be imported: 3 seed(s) repeat the content of others" in message


# --- the API and the upload page ------------------------------------------------------------


def _upload(client, slug, content, name, **extra):
    return client.post(
        f"{API}/campaigns/{slug}/seed-imports/",
        {"file": SimpleUploadedFile(name, content), **extra},
        format="multipart",
    )


def test_api_upload_with_a_preset_and_mapping_over_principals(
    make_world,
    django_capture_on_commit_callbacks,
    schema,  # noqa: F811
):
    world, clients = principals(make_world)
    slug = world.campaign.slug
    content = gzip.compress(
        as_jsonl(
            [
                {"uid": "a1", "category": "hard_prompt", "prompt": "How do I X?", "q": "Q1"},
                {"uid": "a2", "category": "hard_prompt", "prompt": "How do I Y?", "q": "Q2"},
                {"uid": "a3", "category": "hard_prompt", "prompt": "How do I Z?", "q": "Q3"},
            ]
        )
    )
    extra = {"preset": "arena-hard-auto", "fields": ["id=q", "title="]}
    assert_denied(
        {
            n: _upload(c, slug, content, "q.jsonl.gz", **extra)
            for n, c in clients.items()
            if n != "curator"
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        res = _upload(clients["curator"], slug, content, "q.jsonl.gz", **extra)
    assert res.status_code == 202, res.content
    check(schema, "post", "/api/v1/campaigns/{slug}/seed-imports/", res)
    res = clients["curator"].get(f"{API}/seed-imports/{res.json()['id']}/")
    check(schema, "get", "/api/v1/seed-imports/{id}/", res)
    body = res.json()
    assert body["options"] == {
        "format": "auto",
        "preset": "arena-hard-auto",
        "fields": {"id": "q", "title": ""},
    }
    assert body["status"] == "checked", body
    report = body["check_report"]
    assert report["format"]["description"] == "JSON lines, gzip-compressed"
    assert report["new"] == 3 and report["bad_lines"] == 0 and report["nothing_to_import"] is None
    assert [r["id"] for r in report["sample"]] == ["Q1", "Q2", "Q3"]
    seed_import = SeedImport.objects.get(pk=body["id"])
    assert seed_import.options["preset"] == "arena-hard-auto"
    with django_capture_on_commit_callbacks(execute=True):
        res = clients["curator"].post(f"{API}/seed-imports/{seed_import.pk}/confirm/", {})
    assert res.status_code == 202
    res = clients["curator"].get(f"{API}/seed-imports/{seed_import.pk}/")
    check(schema, "get", "/api/v1/seed-imports/{id}/", res)
    assert res.json()["status"] == "done" and res.json()["report"]["new"] == 3
    assert Seed.objects.get(external_id="Q1").metadata == {"uid": "a1", "category": "hard_prompt"}
    # The import read the file as the check did (the same mapping: same ids).
    assert set(Seed.objects.values_list("external_id", flat=True)) == {"Q1", "Q2", "Q3"}


def test_api_refuses_unsupported_files_and_bad_mappings_at_upload(world):
    curator = api_for(world.curator)
    slug = world.campaign.slug
    res = _upload(curator, slug, JSONL.encode("utf-16"), "seeds.jsonl")
    assert res.status_code == 400
    assert "UTF-16 (little-endian, with a byte-order mark)" in res.json()["detail"]
    res = _upload(curator, slug, _zip(), "seeds.zip")
    assert res.status_code == 400 and "a zip archive" in res.json()["detail"]
    res = _upload(curator, slug, JSONL.encode(), "seeds.jsonl", fields=["color=red"])
    assert res.status_code == 400 and "unknown target 'color'" in res.json()["detail"]
    res = _upload(curator, slug, JSONL.encode(), "seeds.jsonl", preset="nope")
    assert res.status_code == 400 and "preset" in res.json()["errors"]
    assert SeedImport.objects.count() == 0


def test_api_check_of_a_csv_with_task_types_and_bad_rows(world, django_capture_on_commit_callbacks):
    content = (
        b"qid,question,task_type\n"
        b"1,How do I deploy with Ansible?,devops\n"
        b"2,,devops\n"
        b'3,"Multi\nline, with comma",code debugging\n'
    )
    with django_capture_on_commit_callbacks(execute=True):
        res = _upload(
            api_for(world.curator),
            world.campaign.slug,
            content,
            "x.csv",
            fields=["id=qid\ntext=question"],
        )
    assert res.status_code == 202, res.content
    res = api_for(world.curator).get(f"{API}/seed-imports/{res.json()['id']}/")
    assert res.json()["status"] == "checked", res.content
    report = res.json()["check_report"]
    assert report["format"]["unit"] == "row" and report["lines"] == 3
    assert report["bad_lines"] == 1
    assert report["errors"] == [
        {
            "line": 3,
            "message": "missing 'text' (a non-empty string; read from 'question')",
            "reasons": ["missing 'text' (a non-empty string; read from 'question')"],
        }
    ]
    assert report["task_types_classified"] == 1
    assert report["task_type_notes"] == [
        {"task_type": "code debugging", "reason": "unknown", "seeds": 1, "pair": None}
    ]


def test_nothing_to_import_cannot_be_confirmed(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        res = _upload(
            api_for(world.curator),
            world.campaign.slug,
            as_jsonl([{"uid": 1, "prompt": "p"}]),
            "q.jsonl",
        )
    body = api_for(world.curator).get(f"{API}/seed-imports/{res.json()['id']}/").json()
    assert body["status"] == "checked", body
    assert body["check_report"]["nothing_to_import"] == "1 of 1 lines are bad"
    with django_capture_on_commit_callbacks(execute=True):
        res = api_for(world.curator).post(
            f"{API}/seed-imports/{body['id']}/confirm/", {"skip_bad_lines": True}, format="json"
        )
    assert res.status_code == 400 and "Nothing to import" in res.json()["detail"]


def test_upload_page_with_a_preset_and_mapping(make_world, django_capture_on_commit_callbacks):
    world = make_world()
    other = make_world(slug="other")
    url = f"/campaigns/{world.campaign.slug}/seeds/"
    content = as_json(LABEL_STUDIO_TASKS)
    form = {"preset": "label-studio", "fields": "title=\ntext=data.question", "format": "auto"}
    for user, status in [
        (world.annotators[0], 403),
        (world.reviewers[0], 403),
        (other.curator, 404),
    ]:
        client = Client()
        client.force_login(user)
        res = client.post(url, {"file": SimpleUploadedFile("ls.json", content), **form})
        assert res.status_code == status, user
    client = Client()
    client.force_login(world.curator)
    page = client.get(url).content.decode()
    assert 'name="preset"' in page and 'value="label-studio"' in page and 'name="fields"' in page
    with django_capture_on_commit_callbacks(execute=True):
        res = client.post(url, {"file": SimpleUploadedFile("ls.json", content), **form})
    assert res.status_code == 302, res.content
    seed_import = SeedImport.objects.get()
    assert seed_import.options == {
        "format": "auto",
        "preset": "label-studio",
        "fields": {"title": "", "text": "data.question"},
    }
    page = client.get(res["Location"]).content.decode()
    assert (
        "Read as <strong>JSON array</strong>" in page and "<code>text=data.question</code>" in page
    )
    # Task 12 has no data.question (the mapping replaced the preset's text sources).
    assert seed_import.check_report["bad_lines"] == 1 and "<th>Record</th>" in page
    # A bad mapping re-renders the form with what was typed.
    res = client.post(
        url, {"file": SimpleUploadedFile("ls.json", content), **form, "fields": "colour=x"}
    )
    assert res.status_code == 400
    text = res.content.decode()
    assert "unknown target &#x27;colour&#x27;" in text and ">colour=x</textarea>" in text


# --- the real files in ../shared/data/seed_pools --------------------------------------------


@pytest.fixture
def seed_pools() -> Path:
    require(SEED_POOLS.is_dir(), f"needs the shared seed pools at {SEED_POOLS}")
    return SEED_POOLS


@pytest.mark.parametrize(
    "name,count",
    [("arena-hard-v2.0_question.jsonl", 750), ("arena-hard-v0.1_question.jsonl", 500)],
)
def test_real_arena_hard_auto_question_files_import_with_the_preset(world, seed_pools, name, count):
    path = seed_pools / "arena_hard_auto" / name
    out, err = run("camp", str(path), "--preset", "arena-hard-auto")
    assert f"{count} lines, imported {count} seeds" in out and "0 bad" in out, (out, err)
    originals = [json.loads(line) for line in path.read_bytes().split(b"\n") if line]
    got = seeds()
    for original in originals:
        seed = got[original["uid"]]
        assert seed.body == original["prompt"] and seed.subcategory is None
        assert seed.metadata["category"] == original["category"]
        assert seed.cluster == original.get("cluster", "")
    if "v2.0" in name:
        assert sum(1 for s in got.values() if s.metadata.get("subcategory") == "coding") == 253


def test_real_infibench_csv_imports_with_a_field_mapping(world, seed_pools):
    path = seed_pools / "infibench" / "suite_v2.0.0_dev.csv"
    # As-is it names what is missing, once per row.
    message, err = fails("camp", str(path))
    assert "135 bad row(s) of 135" in message and "missing 'id'" in err
    out, err = run(
        "camp",
        str(path),
        "--field",
        "id=filename",
        "--field",
        "text=content_prompt",
        "--field",
        "task_type=question_type",
    )
    assert "(CSV): 135 rows, imported 135 seeds" in out, (out, err)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    got = seeds()
    assert len(got) == 135
    for row in rows:
        seed = got[row["filename"]]
        assert seed.body == row["content_prompt"]
        # The unnamed pandas index column and the rest are kept in metadata.
        assert seed.metadata["column_1"] == row[""] and seed.metadata["idx"] == row["idx"]
        assert seed.metadata["task_type"] == row["question_type"]
    completion = [s for s in got.values() if s.metadata["task_type"] == "code completion"]
    assert len(completion) == 43 and all(s.subcategory is not None for s in completion)
    assert "code debugging" in err and "not in CodeArena's map" in err
