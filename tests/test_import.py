"""import_seeds: bad lines are named, nothing is half-imported; a big file is fast."""

import json
import time

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Event, Seed

pytestmark = pytest.mark.django_db


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_bad_lines_are_named_and_nothing_is_imported(world, tmp_path, capsys):
    path = write(
        tmp_path / "bad.jsonl",
        [
            json.dumps({"id": "ok1", "text": "fine", "subcategory": "Security"}),
            '{"id": "broken", "text": ',
            json.dumps({"text": "no id"}),
            json.dumps({"id": "no-text"}),
            json.dumps({"id": "x1", "text": "t", "subcategory": "Underwater Basket Weaving"}),
            json.dumps({"id": "ok1", "text": "same id again"}),
            json.dumps({"id": "x2", "text": "t2", "category": "Security", "subcategory": "Debug"}),
            json.dumps({"id": "x3", "text": "t3", "source_url": "javascript:alert(1)"}),
            "[1, 2]",
        ],
    )
    with pytest.raises(CommandError) as err:
        call_command("import_seeds", "camp", str(path), "--no-progress")
    assert "8 bad line(s)" in str(err.value) and "nothing was imported" in str(err.value)
    out = capsys.readouterr().err
    for expected in [
        "bad.jsonl:2: invalid JSON",
        "bad.jsonl:3: missing 'id'",
        "bad.jsonl:4: missing 'text'",
        "bad.jsonl:5: unknown subcategory 'Underwater Basket Weaving'",
        "bad.jsonl:6: duplicate id 'ok1' (first seen on line 1)",
        "bad.jsonl:7: unknown category 'Security'",
        "bad.jsonl:8: 'source_url' is not an http(s) URL",
        "bad.jsonl:9: a seed must be a JSON object",
    ]:
        assert expected in out, expected
    assert Seed.objects.count() == 0
    assert not Event.objects.filter(kind="seeds.imported").exists()


def test_skip_bad_lines_imports_the_good_ones(world, tmp_path):
    path = write(
        tmp_path / "mixed.jsonl",
        [
            json.dumps({"id": "a", "text": "one", "subcategory": "Debug"}),
            "not json",
            json.dumps({"id": "b", "text": "two", "subcategory": "code debugging"}),
        ],
    )
    call_command("import_seeds", "camp", str(path), "--skip-bad-lines", "--no-progress")
    assert sorted(Seed.objects.values_list("external_id", "subcategory__name")) == [
        ("a", "Code Debugging"),
        ("b", "Code Debugging"),
    ]


def test_reimport_and_duplicate_content_are_reported_not_imported(world, tmp_path, capsys):
    path = write(
        tmp_path / "seeds.jsonl",
        [
            json.dumps({"id": "a", "text": "How do I  reverse a list?", "title": "Lists"}),
            json.dumps({"id": "b", "text": "how do i reverse a LIST?", "title": "lists"}),
            json.dumps({"id": "c", "text": "Something else", "metadata": {"votes": 3}, "extra": 1}),
        ],
    )
    call_command("import_seeds", "camp", str(path), "--no-progress")
    out = capsys.readouterr()
    assert "imported 2 seeds" in out.out and "1 duplicate content" in out.out
    assert "seeds.jsonl:2: skipped: same content as seed 'a'" in out.err
    assert Seed.objects.get(external_id="c").metadata == {"votes": 3, "extra": 1}
    call_command("import_seeds", "camp", str(path), "--no-progress")
    assert "imported 0 seeds, 2 already present" in capsys.readouterr().out
    assert Seed.objects.count() == 2


def test_dry_run_writes_nothing(world, tmp_path, capsys):
    path = write(tmp_path / "s.jsonl", [json.dumps({"id": "a", "text": "q"})])
    call_command("import_seeds", "camp", str(path), "--dry-run", "--no-progress")
    assert "would import 1 seeds" in capsys.readouterr().out
    assert Seed.objects.count() == 0


def test_unknown_campaign_and_missing_file(world, tmp_path):
    with pytest.raises(CommandError, match="No campaign 'nope'"):
        call_command("import_seeds", "nope", str(tmp_path / "x.jsonl"))
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_seeds", "camp", str(tmp_path / "x.jsonl"))


def test_ten_thousand_seeds_import_in_seconds_with_progress(world, tmp_path, capsys):
    subs = ["Security", "Code Debugging", "Machine Learning", "Database Management"]
    path = write(
        tmp_path / "big.jsonl",
        [
            json.dumps(
                {
                    "id": f"big-{i}",
                    "title": f"Question {i}",
                    "text": f"How do I solve problem number {i} in my code?\n```py\nx = {i}\n```",
                    "subcategory": subs[i % 4],
                    "source_url": f"https://example.org/q/{i}",
                }
            )
            for i in range(10_000)
        ],
    )
    started = time.monotonic()
    call_command("import_seeds", "camp", str(path))
    elapsed = time.monotonic() - started
    assert Seed.objects.count() == 10_000
    # The progress display (bytes of the file read, whatever its format) reached the end.
    assert "seeds (JSON lines): 100%" in capsys.readouterr().err
    assert elapsed < 30, f"10,000 seeds took {elapsed:.1f}s"
