"""Odd input to the seed import never crashes it: NUL characters, lone surrogates, absurd
nesting, oversized numbers and NaN are bad lines that name the place (command and upload);
one of them with --skip-bad-lines never makes the whole file import nothing. Caps with their
messages: the line length (a long line skipped unread), the decompressed size of a .gz, and the
number of bad lines listed (all still counted)."""

import gzip
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import override_settings

from annotation.models import Seed
from annotation.services.seed_formats import jsonl_row

from .conftest import api_for
from .test_workspace_seeds import API

pytestmark = pytest.mark.django_db

GOOD = '{"id": "ok", "text": "How do I reverse a list?"}'
DEEP = '{"id": "deep", "text": "x", "metadata": {"a": ' + "[" * 100 + "]" * 100 + "}}"
ODD = {
    "nul in text": ('{"id": "n1", "text": "a\\u0000b"}', "'text' contains a NUL character"),
    "nul in a metadata key": (
        '{"id": "n2", "text": "x", "metadata": {"k\\u0000": 1}}',
        "a key in 'metadata' contains a NUL character",
    ),
    "nul in a metadata value": (
        '{"id": "n3", "text": "x", "metadata": {"tags": ["a", "b\\u0000"]}}',
        "'metadata.tags.1' contains a NUL character",
    ),
    "nul in an extra key": ('{"id": "n4", "text": "x", "k\\u0000": 1}', "a key in the record"),
    "lone surrogate": ('{"id": "s1", "text": "\\ud800"}', "'text' contains a lone UTF-16"),
    "surrogate in title": (
        '{"id": "s2", "text": "x", "title": "\\udfff"}',
        "'title' contains a lone UTF-16",
    ),
    "deep nesting": (DEEP, "nested deeper than 64 levels"),
    "absurd nesting": (
        '{"id": "d2", "text": "x", "m": ' + "[" * 50_000 + "]" * 50_000 + "}",
        "nested deeper than 64 levels",
    ),
    "5000-digit integer": (
        '{"id": "i1", "text": "x", "n": ' + "9" * 5000 + "}",
        "'n' holds a number too large",
    ),
    "integer over 2**63": (
        '{"id": "i2", "text": "x", "n": ' + str(2**63) + "}",
        "'n' holds a number too large",
    ),
    "5000-digit id": ('{"id": ' + "1" * 5000 + ', "text": "x"}', "'id' holds a number"),
    "NaN": ('{"id": "f1", "text": "x", "n": NaN}', "'n' holds NaN or Infinity"),
}


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_seeds", *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fails(*args):
    err = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("import_seeds", *args, "--no-progress", stderr=err, stdout=io.StringIO())
    return str(exc.value), err.getvalue()


@pytest.mark.parametrize("name", list(ODD))
def test_each_odd_line_is_a_named_bad_line(world, tmp_path, name):
    line, reason = ODD[name]
    assert jsonl_row(2, line).error is not None
    path = tmp_path / "odd.jsonl"
    path.write_text(f"{GOOD}\n{line}\n", encoding="utf-8")
    message, err = fails("camp", str(path))
    assert "1 bad line(s) of 2" in message
    assert "odd.jsonl:2:" in err or "line 2" in err, err
    assert reason in err, err
    assert not Seed.objects.exists()
    # Skipping bad lines imports the good one: one odd line never voids the file.
    out, err = run("camp", str(path), "--skip-bad-lines")
    assert "imported 1 seeds" in out and "1 bad line(s) skipped" in out, out
    assert reason in err
    assert list(Seed.objects.values_list("external_id", flat=True)) == ["ok"]


def test_odd_values_in_a_json_array_and_a_csv_are_named(world, tmp_path):
    array = tmp_path / "odd.json"
    array.write_text(f"[{GOOD}, {ODD['nul in text'][0]}, {DEEP}]", encoding="utf-8")
    message, err = fails("camp", str(array))
    assert "2 bad record(s) of 3" in message
    assert "NUL character" in err and "nested deeper than 64 levels" in err
    csv_file = tmp_path / "odd.csv"
    csv_file.write_text(
        # a raw NUL past the first 4 KiB (in the head, the file is refused as binary)
        f"id,text,metadata\nc1,{'fine ' * 1000},\n"
        + 'c2,"a\x00b",\nc3,x,"{""k"": '
        + "9" * 5000
        + '}"\n',
        encoding="utf-8",
    )
    message, err = fails("camp", str(csv_file))
    assert "2 bad row(s) of 3" in message, message
    assert "'text' contains a NUL character" in err
    assert "'metadata': 'k' holds a number too large" in err


def test_a_json_array_nested_absurdly_deep_stops_with_a_message(world, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" + "[" * 50_000 + "]" * 50_000 + "]", encoding="utf-8")
    message, _ = fails("camp", str(path))
    assert "element 1 is nested absurdly deep" in message


@override_settings(CURATION_IMPORT_MAX_LINE_BYTES=1000)
def test_a_line_over_the_cap_is_a_bad_line_skipped_unread(world, tmp_path):
    long = json.dumps({"id": "long", "text": "x" * 5000})
    path = tmp_path / "long.jsonl.gz"
    path.write_bytes(
        gzip.compress(
            f"{GOOD}\n{long}\n{GOOD.replace('ok', 'ok2').replace('list', 'dict')}\n".encode()
        )
    )
    message, err = fails("camp", str(path))
    assert "1 bad line(s) of 3" in message
    assert "longer than 1,000 bytes (CURATION_IMPORT_MAX_LINE_BYTES)" in err
    out, _ = run("camp", str(path), "--skip-bad-lines")
    assert "imported 2 seeds" in out
    # A JSON array's element, and a CSV line, over the cap stop the read with the cap's name.
    array = tmp_path / "long.json"
    array.write_text(f"[{GOOD}, {long}]", encoding="utf-8")
    message, err = fails("camp", str(array))
    assert "1 bad record(s) of 2" in message
    assert "record 2" in err and "longer than 1,000 bytes" in err, err
    # An element not yet complete in the buffer stops the read before it grows past the cap.
    array.write_text(f"[{GOOD}, " + json.dumps({"id": "huge", "text": "h" * 3_000_000}) + "]")
    message, _ = fails("camp", str(array))
    assert "element 2 is longer than 1,000 bytes" in message
    csv_file = tmp_path / "long.csv"
    csv_file.write_text(f"id,text\nc1,{'y' * 5000}\n", encoding="utf-8")
    message, _ = fails("camp", str(csv_file))
    assert "CSV line 2 is longer than 1,000 bytes (CURATION_IMPORT_MAX_LINE_BYTES)" in message


@override_settings(CURATION_IMPORT_MAX_DECOMPRESSED_BYTES=100_000)
def test_a_gzip_over_the_decompressed_cap_stops_with_a_message(world, tmp_path):
    body = "".join(
        json.dumps({"id": f"g{i}", "text": f"question {i} " + "z" * 100}) + "\n"
        for i in range(2000)
    )
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(body.encode()))
    assert path.stat().st_size < 100_000
    message, _ = fails("camp", str(path))
    assert "decompresses to more than 100,000 bytes" in message
    assert "CURATION_IMPORT_MAX_DECOMPRESSED_BYTES" in message
    assert not Seed.objects.exists()


@override_settings(CURATION_IMPORT_MAX_REPORTED_ERRORS=5)
def test_many_bad_lines_are_all_counted_but_only_the_first_listed(world, tmp_path):
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(gzip.compress(b"{}\n" * 20_000 + (GOOD + "\n").encode()))
    message, err = fails("camp", str(path))
    assert "20000 bad line(s) of 20001" in message
    assert err.count("missing 'id'") == 5
    assert "... and 19995 more bad line(s)." in err
    out, err = run("camp", str(path), "--skip-bad-lines")
    assert "imported 1 seeds" in out and "20000 bad line(s) skipped" in out
    assert err.count("skipped: missing") == 5


def _upload(client, slug, content, name):
    return client.post(
        f"{API}/campaigns/{slug}/seed-imports/",
        {"file": SimpleUploadedFile(name, content)},
        format="multipart",
    )


def _checked(world, content, name, capture):
    curator = api_for(world.curator)
    with capture(execute=True):
        res = _upload(curator, world.campaign.slug, content, name)
    assert res.status_code == 202, res.content
    res = curator.get(f"{API}/seed-imports/{res.json()['id']}/")
    assert res.status_code == 200
    return res.json()


def test_api_upload_check_names_every_odd_line(world, django_capture_on_commit_callbacks):
    lines = [GOOD] + [line for line, _ in ODD.values()]
    body = ("\n".join(lines) + "\n").encode()
    job = _checked(world, body, "odd.jsonl", django_capture_on_commit_callbacks)
    assert job["status"] == "checked", job
    report = job["check_report"]
    assert report["lines"] == len(lines) and report["bad_lines"] == len(ODD)
    by_line = {e["line"]: e["message"] for e in report["errors"]}
    for number, (_, reason) in enumerate(ODD.values(), start=2):
        assert reason in by_line[number], (number, by_line.get(number))
    assert report["new"] == 1


@override_settings(
    CURATION_IMPORT_MAX_DECOMPRESSED_BYTES=50_000, CURATION_IMPORT_MAX_REPORTED_ERRORS=3
)
def test_api_upload_caps(world, django_capture_on_commit_callbacks):
    bomb = gzip.compress(b"{}\n" * 40_000)
    job = _checked(world, bomb, "bomb.jsonl.gz", django_capture_on_commit_callbacks)
    assert job["status"] == "failed"
    assert "decompresses to more than" in job["error"]
    many = gzip.compress(b"{}\n" * 1000 + (GOOD + "\n").encode())
    job = _checked(world, many, "many.jsonl.gz", django_capture_on_commit_callbacks)
    assert job["status"] == "checked", job
    assert job["check_report"]["bad_lines"] == 1000
    assert len(job["check_report"]["errors"]) == 3


def test_a_huge_line_and_many_bad_lines_stay_in_bounded_memory(world, tmp_path):
    import tracemalloc

    path = tmp_path / "huge.jsonl.gz"
    huge = b'{"id": "h", "text": "' + b"x" * 20_000_000 + b'"}\n'
    path.write_bytes(gzip.compress(huge + b"{}\n" * 50_000 + (GOOD + "\n").encode()))
    tracemalloc.start()
    try:
        out, err = run("camp", str(path), "--skip-bad-lines")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "imported 1 seeds" in out and "50001 bad line(s) skipped" in out
    assert "longer than 1 MiB" in err
    assert peak < 15_000_000, peak  # the 20 MB line never sat in memory


# --- baseline responses ---------------------------------------------------------------------


def test_responses_import_names_odd_lines_and_caps_the_list(world):
    from exports.services.responses import ResponseImportError, responses_import

    Seed.objects.create(campaign=world.campaign, external_id="r1", body="q", content_hash="h1")
    lines = [
        '{"seed_id": "r1", "response": "a\\u0000b"}',
        '{"seed_id": "r1", "response": "\\ud800"}',
        '{"seed_id": "r1", "response": "x", "m": ' + "[" * 50_000 + "]" * 50_000 + "}",
        '{"seed_id": "r1", "response": "x", "n": ' + "9" * 5000 + "}",
        '{"seed_id": "r1", "response": "x", "k\\u0000": 1}',
    ]
    with pytest.raises(ResponseImportError) as exc:
        responses_import(campaign=world.campaign, lines=lines, model="m1")
    errors = exc.value.report.errors
    assert len(errors) == 5
    assert errors[0].startswith("line 1:") and "'response' contains a NUL" in errors[0]
    assert "'response' contains a lone UTF-16" in errors[1]
    assert "nested deeper than 64 levels" in errors[2]
    assert "'n' holds a number too large" in errors[3]
    assert "a key in the record contains a NUL" in errors[4]
    with (
        override_settings(CURATION_IMPORT_MAX_REPORTED_ERRORS=3),
        pytest.raises(ResponseImportError) as exc,
    ):
        responses_import(campaign=world.campaign, lines=["[]"] * 10_000, model="m1")
    assert exc.value.report.bad_lines == 10_000 and len(exc.value.report.errors) == 3
    assert exc.value.message.startswith("10000 bad line(s)")


def test_responses_upload_caps_a_huge_line_in_bounded_memory(world):
    """An answers upload reads each line with a bounded readline: a 20 MB line in a gzip is a
    named bad line, never held in memory, and the rest of the file is still checked."""
    import tracemalloc

    from exports.services.responses import ResponseImportError, responses_upload

    huge = b'{"seed_id": "r1", "response": "' + b"x" * 20_000_000 + b'"}\n'
    body = gzip.compress(b'{"seed_id": "r1", "response": "ok"}\n' + huge + b"\xff\n")
    tracemalloc.start()
    try:
        with pytest.raises(ResponseImportError) as exc:
            responses_upload(
                campaign=world.campaign,
                actor=world.curator,
                model="m1",
                stream=io.BytesIO(body),
                file_name="answers.jsonl.gz",
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    errors = exc.value.report.errors
    assert errors[0] == "line 2: longer than 1,048,576 bytes (CURATION_IMPORT_MAX_LINE_BYTES)"
    assert errors[1].startswith("line 3: not UTF-8")
    assert peak < 8_000_000, peak


def test_responses_upload_over_the_size_cap_is_named(world):
    from exports.services.responses import ResponseImportError, responses_upload

    with (
        override_settings(UPLOAD_MAX_BYTES=1000, CURATION_IMPORT_MAX_LINE_BYTES=100),
        pytest.raises(ResponseImportError) as exc,
    ):
        responses_upload(
            campaign=world.campaign,
            actor=world.curator,
            model="m1",
            stream=io.BytesIO(b'{"seed_id": "r1", "response": "ok"}\n' * 100),
            file_name="answers.jsonl",
        )
    assert exc.value.report.errors == [
        "answers.jsonl: larger than 1,000 bytes (decompressed; CURATION_UPLOAD_MAX_MB)"
    ]
