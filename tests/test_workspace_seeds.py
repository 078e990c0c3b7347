"""The seed workspace: uploads checked by a job (a dry run) before a confirmed import job,
sampling and dealing with previews that match what is then committed; the API over every
principal, the pages, progress, resumption and memory."""

import json
import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.models import Assignment, Event, Seed, SeedImport, Subcategory
from annotation.services import seed_imports as seed_imports_module
from annotation.services import seed_staging, seeds_import
from annotation.services.seed_imports import (
    seed_import_approve,
    seed_import_check,
    seed_import_create,
    seed_import_run,
)
from annotation.services.seeds import SeedLines
from annotation.vocabulary import Vocabulary, builtin_taxonomy

from .conftest import api_for, seed_line
from .test_schema import check, schema  # noqa: F401 - the schema fixture

pytestmark = pytest.mark.django_db

API = "/api/v1"
SUBS = [s["name"] for s in builtin_taxonomy("codearena")["subcategories"]]


def jsonl(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def good_lines(n: int, start: int = 0) -> list[str]:
    return [seed_line(i, subcategory=SUBS[i % len(SUBS)]) for i in range(start, start + n)]


def with_two_bad_lines() -> list[str]:
    lines = good_lines(6)
    lines[2] = '{"id": "broken", "text": '
    lines[4] = json.dumps({"id": "x4", "text": "t", "subcategory": "Underwater Basket Weaving"})
    return lines


def upload(client, slug, content: bytes, name="seeds.jsonl", **extra):
    return client.post(
        f"{API}/campaigns/{slug}/seed-imports/",
        {"file": SimpleUploadedFile(name, content, content_type="application/jsonl"), **extra},
        format="multipart",
    )


def start(world, content: bytes, capture, name="seeds.jsonl", **extra):
    """Upload through the API as the world's curator; the check job runs on commit."""
    with capture(execute=True):
        res = upload(api_for(world.curator), world.campaign.slug, content, name, **extra)
    assert res.status_code == 202, res.content
    return SeedImport.objects.get(pk=res.json()["id"])


def confirm(world, seed_import, capture, **body):
    with capture(execute=True):
        return api_for(world.curator).post(
            f"{API}/seed-imports/{seed_import.pk}/confirm/", body, format="json"
        )


def principals(make_world):
    """{name: client} over anonymous, annotator, reviewer, curator, curator elsewhere."""
    world = make_world()
    other = make_world(slug="other")
    clients = {
        "anonymous": APIClient(),
        "annotator": api_for(world.annotators[0]),
        "reviewer": api_for(world.reviewers[0]),
        "other curator": api_for(other.curator),
        "curator": api_for(world.curator),
    }
    return world, clients


DENIED = {"annotator": 403, "reviewer": 403, "other curator": 404}


def assert_denied(res_by_name):
    for name, res in res_by_name.items():
        if name == "anonymous":
            assert res.status_code in (401, 403), (name, res.status_code)
        else:
            assert res.status_code == DENIED[name], (name, res.status_code, res.content)


# --- API: every endpoint over every principal ----------------------------------------------


def test_upload_and_list_over_principals(
    make_world,
    django_capture_on_commit_callbacks,
    schema,  # noqa: F811
):
    world, clients = principals(make_world)
    slug = world.campaign.slug
    content = jsonl(good_lines(3))
    denied = {n: upload(c, slug, content) for n, c in clients.items() if n != "curator"}
    assert_denied(denied)
    assert_denied(
        {
            n: c.get(f"{API}/campaigns/{slug}/seed-imports/")
            for n, c in clients.items()
            if n != "curator"
        }
    )
    assert not SeedImport.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        res = upload(clients["curator"], slug, content)
    assert res.status_code == 202
    check(schema, "post", "/api/v1/campaigns/{slug}/seed-imports/", res)
    assert res.json()["status"] == "checking"  # the job runs once the request commits
    res = clients["curator"].get(f"{API}/campaigns/{slug}/seed-imports/")
    check(schema, "get", "/api/v1/campaigns/{slug}/seed-imports/", res)
    assert [r["status"] for r in res.json()["results"]] == ["checked"]
    assert "check_report" not in res.json()["results"][0]  # lists leave the reports out
    assert Seed.objects.count() == 0
    assert Event.objects.filter(kind="seed_import.uploaded").count() == 1
    assert Event.objects.filter(kind="seed_import.checked").count() == 1


def test_detail_confirm_discard_over_principals(
    make_world,
    django_capture_on_commit_callbacks,
    schema,  # noqa: F811
):
    world, clients = principals(make_world)
    kept = start(world, jsonl(good_lines(3)), django_capture_on_commit_callbacks)
    dropped = start(world, jsonl(good_lines(2, start=50)), django_capture_on_commit_callbacks)
    for path in [f"{API}/seed-imports/{kept.pk}/"]:
        assert_denied({n: c.get(path) for n, c in clients.items() if n != "curator"})
    for action, target in [("confirm", kept), ("discard", dropped)]:
        assert_denied(
            {
                n: c.post(f"{API}/seed-imports/{target.pk}/{action}/", {}, format="json")
                for n, c in clients.items()
                if n != "curator"
            }
        )
    assert set(SeedImport.objects.values_list("status", flat=True)) == {"checked"}

    res = clients["curator"].get(f"{API}/seed-imports/{kept.pk}/")
    check(schema, "get", "/api/v1/seed-imports/{id}/", res)
    assert res.json()["check_report"]["new"] == 3
    with django_capture_on_commit_callbacks(execute=True):
        res = clients["curator"].post(f"{API}/seed-imports/{kept.pk}/confirm/", {}, format="json")
    assert res.status_code == 202
    check(schema, "post", "/api/v1/seed-imports/{id}/confirm/", res)
    res = clients["curator"].get(f"{API}/seed-imports/{kept.pk}/")
    assert res.json()["status"] == "done" and res.json()["report"]["new"] == 3
    check(schema, "get", "/api/v1/seed-imports/{id}/", res)

    res = clients["curator"].post(f"{API}/seed-imports/{dropped.pk}/discard/")
    assert res.status_code == 200 and res.json()["status"] == "discarded"
    check(schema, "post", "/api/v1/seed-imports/{id}/discard/", res)
    # Neither can be confirmed or discarded again.
    for target in (kept, dropped):
        for action in ("confirm", "discard"):
            res = clients["curator"].post(f"{API}/seed-imports/{target.pk}/{action}/")
            assert res.status_code == 409, (action, res.content)
    assert clients["curator"].get(f"{API}/seed-imports/999999/").status_code == 404
    assert Seed.objects.count() == 3


def test_sampling_and_dealing_over_principals(make_world, schema):  # noqa: F811
    world, clients = principals(make_world)
    world.add_seeds(20, sample=False)
    slug = world.campaign.slug
    for path, body in [
        ("sampling/preview/", {"size": 8}),
        ("sampling/", {"size": 8}),
        ("dealing/preview/", {}),
        ("dealing/", {}),
    ]:
        url = f"{API}/campaigns/{slug}/{path}"
        assert_denied(
            {n: c.post(url, body, format="json") for n, c in clients.items() if n != "curator"}
        )
    assert not Seed.objects.exclude(status="pooled").exists()

    curator = clients["curator"]
    for path, body in [
        ("sampling/preview/", {"size": 8}),
        ("sampling/", {"size": 8}),
        ("dealing/preview/", {"seed": 3}),
        ("dealing/", {"seed": 3}),
    ]:
        res = curator.post(f"{API}/campaigns/{slug}/{path}", body, format="json")
        assert res.status_code == 200, (path, res.content)
        check(schema, "post", f"/api/v1/campaigns/{{slug}}/{path}", res)
    assert Assignment.objects.filter(campaign=world.campaign).count() == 8


def test_bad_input_is_a_400_naming_the_field(world):
    curator = api_for(world.curator)
    slug = world.campaign.slug
    res = curator.post(f"{API}/campaigns/{slug}/seed-imports/", {}, format="multipart")
    assert res.status_code == 400 and "file" in res.json()["errors"]
    res = upload(curator, slug, b"")
    assert res.status_code == 400 and "file" in res.json()["errors"]
    for path, body, field in [
        ("sampling/preview/", {"size": 0}, "size"),
        ("sampling/", {"size": "many"}, "size"),
        ("sampling/", {"seed": 1}, "size"),
        ("dealing/preview/", {"seed": "x"}, "seed"),
        ("dealing/", {"seed": "x"}, "seed"),
    ]:
        res = curator.post(f"{API}/campaigns/{slug}/{path}", body, format="json")
        assert res.status_code == 400, (path, res.content)
        assert field in res.json()["errors"], (path, res.json())
    res = curator.get(f"{API}/campaigns/{slug}/seed-imports/?status=nonsense")
    assert res.status_code == 400
    assert not SeedImport.objects.exists() and not Seed.objects.exists()


def queries_of(fn) -> int:
    """SQL statements ``fn`` runs (counted as they run: the debug query log is capped)."""
    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        fn()
    return count


def test_the_list_takes_the_same_queries_for_more_imports(
    world, django_capture_on_commit_callbacks
):
    curator = api_for(world.curator)
    url = f"{API}/campaigns/{world.campaign.slug}/seed-imports/"
    start(world, jsonl(good_lines(2)), django_capture_on_commit_callbacks)
    one = queries_of(lambda: curator.get(url))
    for i in range(5):
        start(world, jsonl(good_lines(2, start=10 * (i + 1))), django_capture_on_commit_callbacks)
    six = queries_of(lambda: curator.get(url))
    assert 0 < one == six <= 6
    assert curator.get(url).json()["count"] == 6


# --- the check and the import ------------------------------------------------------------


def test_two_bad_lines_are_named_nothing_is_imported_and_confirm_needs_skipping(
    world, django_capture_on_commit_callbacks
):
    seed_import = start(world, jsonl(with_two_bad_lines()), django_capture_on_commit_callbacks)
    seed_import.refresh_from_db()
    assert seed_import.status == "checked"
    report = seed_import.check_report
    assert report["lines"] == 6 and report["bad_lines"] == 2 and report["new"] == 4
    assert [(e["line"], e["message"].split(" (")[0]) for e in report["errors"]] == [
        (3, "invalid JSON"),
        (5, "unknown subcategory 'Underwater Basket Weaving'"),
    ]
    # The same messages as the command's.
    with pytest.raises(Exception) as err:
        seeds_import(campaign=world.campaign, lines=with_two_bad_lines(), dry_run=True)
    assert [f"line {e['line']}: {e['message']}" for e in report["errors"]] == (
        err.value.details["errors"]
    )
    assert [r["subcategory"] for r in report["sample"]] == [SUBS[i] for i in (0, 1, 3, 5)]
    assert report["sample"][0]["category"]
    assert Seed.objects.count() == 0

    res = confirm(world, seed_import, django_capture_on_commit_callbacks)
    assert res.status_code == 400, res.content
    assert "skip_bad_lines" in res.json()["errors"]
    assert "2 bad line(s)" in res.json()["detail"]
    seed_import.refresh_from_db()
    assert seed_import.status == "checked" and Seed.objects.count() == 0

    fixed = start(world, jsonl(good_lines(6)), django_capture_on_commit_callbacks, "fixed.jsonl")
    assert confirm(world, fixed, django_capture_on_commit_callbacks).status_code == 202
    fixed.refresh_from_db()
    assert fixed.status == "done" and fixed.progress == 100
    assert fixed.report["new"] == 6 and Seed.objects.count() == 6
    event = Event.objects.get(kind="seeds.imported")
    assert event.data["created"] == 6 and event.data["seed_import"] == fixed.pk
    assert list(
        Event.objects.filter(object_type="seedimport", object_id=fixed.pk).values_list(
            "kind", flat=True
        )
    ) == [
        "seed_import.uploaded",
        "seed_import.checked",
        "seed_import.started",
        "seed_import.done",
    ]


def test_skipping_bad_lines_imports_the_good_ones(world, django_capture_on_commit_callbacks):
    seed_import = start(world, jsonl(with_two_bad_lines()), django_capture_on_commit_callbacks)
    res = confirm(world, seed_import, django_capture_on_commit_callbacks, skip_bad_lines=True)
    assert res.status_code == 202
    seed_import.refresh_from_db()
    assert seed_import.status == "done" and seed_import.skip_bad_lines
    assert seed_import.report["new"] == 4 and seed_import.report["bad_lines"] == 2
    assert Seed.objects.count() == 4


def test_reuploading_the_same_file_imports_nothing_twice(world, django_capture_on_commit_callbacks):
    lines = good_lines(5)
    lines.append(json.dumps({"id": "copy", "text": "Question number 0: how do I do thing 0?"}))
    content = jsonl(lines)
    first = start(world, content, django_capture_on_commit_callbacks)
    first.refresh_from_db()
    assert first.check_report["duplicate_content"] == 1
    assert first.check_report["duplicates"] == [{"line": 6, "id": "copy", "same_as": "s0"}]
    confirm(world, first, django_capture_on_commit_callbacks)
    assert Seed.objects.count() == 5

    again = start(world, content, django_capture_on_commit_callbacks)
    again.refresh_from_db()
    assert again.check_report["new"] == 0
    assert again.check_report["already_present"] == 5
    assert again.check_report["duplicate_content"] == 1
    confirm(world, again, django_capture_on_commit_callbacks)
    again.refresh_from_db()
    assert again.status == "done" and again.report["new"] == 0
    assert Seed.objects.count() == 5
    assert Event.objects.filter(kind="seeds.imported").count() == 1


def test_a_file_that_is_not_utf8_fails_naming_the_byte(world, django_capture_on_commit_callbacks):
    content = jsonl(good_lines(2)) + '{"id": "latin", "text": "caf\xe9"}\n'.encode("latin-1")
    seed_import = start(world, content, django_capture_on_commit_callbacks, "latin.jsonl")
    seed_import.refresh_from_db()
    assert seed_import.status == "failed"
    offset = content.index(b"\xe9")
    assert f"not UTF-8 (invalid continuation byte at byte {offset}, line 3)" in seed_import.error
    assert Event.objects.filter(kind="seed_import.failed", object_id=seed_import.pk).exists()
    res = confirm(world, seed_import, django_capture_on_commit_callbacks)
    assert res.status_code == 409


def test_progress_is_written_every_percent_and_per_batch(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    seen: list[tuple[str, int]] = []
    write = seed_imports_module._write_progress

    def spy(import_id, *, status, claimed, **values):
        seen.append((status, values["progress"]))
        return write(import_id, status=status, claimed=claimed, **values)

    monkeypatch.setattr(seed_imports_module, "_write_progress", spy)
    monkeypatch.setattr(seed_imports_module, "BATCH", 100)
    seed_import = start(world, jsonl(good_lines(1000)), django_capture_on_commit_callbacks)
    checking = [p for s, p in seen if s == "checking"]
    assert checking == sorted(set(checking)) and 95 <= len(checking) <= 99
    assert checking[0] == 1 and checking[-1] == 99
    seed_import.refresh_from_db()
    assert seed_import.progress == 100
    confirm(world, seed_import, django_capture_on_commit_callbacks)
    importing = [p for s, p in seen if s == "importing"]
    assert len(importing) == 11  # ten full batches, then the end of the file
    assert importing == sorted(importing) and importing[0] >= 9 and importing[-1] == 99
    seed_import.refresh_from_db()
    assert seed_import.status == "done" and seed_import.progress == 100


def test_discard_deletes_the_stored_file(world, django_capture_on_commit_callbacks):
    seed_import = start(world, jsonl(good_lines(3)), django_capture_on_commit_callbacks)
    path = Path(django_settings.MEDIA_ROOT) / seed_import.file.name
    assert path.is_file() and path.read_bytes() == jsonl(good_lines(3))
    with django_capture_on_commit_callbacks(execute=True):
        res = api_for(world.curator).post(f"{API}/seed-imports/{seed_import.pk}/discard/")
    assert res.status_code == 200
    assert not path.exists()
    seed_import.refresh_from_db()
    assert seed_import.status == "discarded" and not seed_import.file
    assert Event.objects.filter(kind="seed_import.discarded").count() == 1


def test_a_changed_taxonomy_refuses_the_confirmation(world, django_capture_on_commit_callbacks):
    seed_import = start(world, jsonl(good_lines(3)), django_capture_on_commit_callbacks)
    Subcategory.objects.filter(campaign=world.campaign, name=SUBS[0]).update(short_name="zz")
    res = confirm(world, seed_import, django_capture_on_commit_callbacks)
    assert res.status_code == 409 and "changed since" in res.json()["detail"]
    assert Seed.objects.count() == 0


def _created(world, content: bytes) -> SeedImport:
    return seed_import_create(
        campaign=world.campaign, actor=world.curator, upload=ContentFile(content, name="s.jsonl")
    )


def test_a_stale_import_is_resumed_after_its_last_batch(world, monkeypatch):
    # The batch path (SQLite, or a job an older version left half-done): on PostgreSQL the
    # staged path imports in one transaction, so a dead worker leaves nothing to resume
    # (tests/test_import_scale.py).
    monkeypatch.setattr(seed_staging, "available", lambda: False)
    monkeypatch.setattr(seed_imports_module, "BATCH", 10)
    seed_import = _created(world, jsonl(good_lines(35)))
    seed_import_check(import_id=seed_import.pk)
    seed_import_approve(import_id=seed_import.pk, actor=world.curator)

    # A first worker commits two batches, then dies.
    calls = {"n": 0}
    real_sort = seed_imports_module._Sorter.sort

    def dying_sort(self, batch, tally):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("worker killed")
        return real_sort(self, batch, tally)

    monkeypatch.setattr(seed_imports_module._Sorter, "sort", dying_sort)
    with pytest.raises(SystemExit):
        seed_import_run(import_id=seed_import.pk)
    monkeypatch.setattr(seed_imports_module._Sorter, "sort", real_sort)
    seed_import.refresh_from_db()
    assert seed_import.status == "importing" and Seed.objects.count() == 20
    assert seed_import.report["resume_after"] == 20 and seed_import.report["new"] == 20

    # A redelivered task leaves a job that is still fresh alone...
    assert seed_import_run(import_id=seed_import.pk).status == "importing"
    assert Seed.objects.count() == 20
    # ... and takes over one whose worker went quiet, after its last committed batch.
    SeedImport.objects.filter(pk=seed_import.pk).update(
        started_at=timezone.now() - timedelta(minutes=31)
    )
    seed_import = seed_import_run(import_id=seed_import.pk)
    assert seed_import.status == "done"
    assert seed_import.report["new"] == 35 and seed_import.report["already_present"] == 0
    assert Seed.objects.count() == 35
    # Done is done: running it again changes nothing.
    assert seed_import_run(import_id=seed_import.pk).report["new"] == 35


def test_a_stale_check_is_taken_over_and_a_fresh_one_left_alone(world):
    seed_import = _created(world, jsonl(good_lines(3)))
    SeedImport.objects.filter(pk=seed_import.pk).update(started_at=timezone.now())
    assert seed_import_check(import_id=seed_import.pk).status == "checking"
    SeedImport.objects.filter(pk=seed_import.pk).update(
        started_at=timezone.now() - timedelta(minutes=31)
    )
    assert seed_import_check(import_id=seed_import.pk).status == "checked"


def test_the_check_keeps_memory_flat_not_the_seeds(world):
    """20,000 seeds of ~600 characters: holding them as Seed objects costs tens of MB; the
    check keeps only ids and content hashes."""
    lines = [
        json.dumps(
            {
                "id": f"seed-{i}",
                "title": f"Title {i}",
                "text": f"Question {i}: " + "how do I make this work? " * 24,
                "subcategory": SUBS[i % len(SUBS)],
            }
        )
        for i in range(20_000)
    ]
    seed_import = _created(world, jsonl(lines))
    del lines

    tracemalloc.start()
    try:
        seed_import_check(import_id=seed_import.pk)
        _, check_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        # What keeping every Seed would cost: parse them all and hold them.
        parser = SeedLines(Vocabulary.for_campaign(world.campaign))
        with seed_import.file.open("rb") as fh:
            kept = [parser.parse(n, raw.decode())[0] for n, raw in enumerate(fh, start=1)]
        _, kept_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    seed_import.refresh_from_db()
    assert seed_import.status == "checked" and seed_import.check_report["new"] == 20_000
    assert len(kept) == 20_000
    assert check_peak < 12 * 2**20, check_peak
    assert check_peak * 3 < kept_peak, (check_peak, kept_peak)


# --- sampling and dealing: the previews are what is committed -----------------------------


def test_sampling_preview_matches_the_sample(world):
    # An uneven pool: some subcategories have fewer seeds than an equal share.
    lines = []
    for k, name in enumerate(SUBS[:6]):
        lines += [seed_line(100 * k + i, subcategory=name) for i in range(2 + 5 * k)]
    seeds_import(campaign=world.campaign, lines=lines)
    curator = api_for(world.curator)
    url = f"{API}/campaigns/{world.campaign.slug}/sampling/"
    big = curator.post(url + "preview/", {"size": 200, "seed": 7}, format="json").json()
    rows = {r["subcategory"]: r for r in big["subcategories"]}
    assert len(rows) == len(SUBS) and big["equal_share"] == 5
    assert (rows[SUBS[0]]["available"], rows[SUBS[0]]["quota"], rows[SUBS[0]]["shortfall"]) == (
        2,
        2,
        3,
    )
    assert rows[SUBS[1]]["shortfall"] == 0 and rows[SUBS[10]]["shortfall"] == 5  # empty one
    assert big["pool_short"] == 200 - 87 and big["sampled_total"] == 87

    preview = curator.post(url + "preview/", {"size": 40, "seed": 7}, format="json").json()
    assert Seed.objects.exclude(status="pooled").count() == 0
    rows = {r["subcategory"]: r for r in preview["subcategories"]}
    assert rows[SUBS[0]]["quota"] == 2 and rows[SUBS[5]]["quota"] < 27
    done = curator.post(url, {"size": 40, "seed": 7}, format="json").json()
    assert done["quotas"] == {n: r["quota"] for n, r in rows.items() if r["available"]}
    assert done["sampled_now"] == preview["sampled_now"] == preview["sampled_total"] == 40
    assert Seed.objects.filter(status="sampled").count() == 40
    # A top-up previews the next step; shrinking is refused in the preview as in the step.
    top_up = curator.post(url + "preview/", {"size": 70}, format="json").json()
    assert top_up["already_sampled"] == done["sampled_total"]
    assert curator.post(url + "preview/", {"size": 5}, format="json").status_code == 409
    assert curator.post(url, {"size": 5}, format="json").status_code == 409


def test_dealing_preview_matches_the_deal(world):
    world.add_seeds(30, subcategory=SUBS[1])
    world.add_seeds(13, start=100, subcategory=SUBS[2])
    curator = api_for(world.curator)
    url = f"{API}/campaigns/{world.campaign.slug}/dealing/"
    preview = curator.post(url + "preview/", {"seed": 5}, format="json").json()
    assert preview["seeds"] == 43 and not Assignment.objects.exists()
    done = curator.post(url, {"seed": 5}, format="json").json()
    assert done["assigned"] == 43
    assert done["per_annotator"] == {a["annotator"]: a["seeds"] for a in preview["annotators"]}
    for share in preview["annotators"]:
        dealt: dict[str, int] = {}
        for name in Assignment.objects.filter(annotator__username=share["annotator"]).values_list(
            "seed__subcategory__name", flat=True
        ):
            dealt[name] = dealt.get(name, 0) + 1
        assert dealt == share["subcategories"]


def test_dealing_without_annotators_is_a_409(make_world):
    world = make_world()
    world.campaign.memberships.filter(role="annotator").delete()
    res = api_for(world.curator).post(f"{API}/campaigns/{world.campaign.slug}/dealing/preview/")
    assert res.status_code == 409 and "no annotators" in res.json()["detail"]


def test_sampling_and_dealing_at_2000_seeds_stay_synchronous(world):
    """The issue's campaign size: previews and steps run inside the request, quickly."""
    import time

    seeds_import(campaign=world.campaign, lines=good_lines(4000))
    curator = api_for(world.curator)
    base = f"{API}/campaigns/{world.campaign.slug}"
    began = time.perf_counter()
    for path, body in [
        ("sampling/preview/", {"size": 2000}),
        ("sampling/", {"size": 2000}),
        ("dealing/preview/", {}),
        ("dealing/", {}),
    ]:
        assert curator.post(f"{base}/{path}", body, format="json").status_code == 200
    assert time.perf_counter() - began < 20
    assert Assignment.objects.count() == 2000


# --- pages ----------------------------------------------------------------------------------


def page_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_post(client: Client, url: str, data: dict, referer_get: str):
    client.get(referer_get)
    return client.post(url, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})


def test_pages_are_for_curators_only(make_world):
    world = make_world()
    other = make_world(slug="other")
    slug = world.campaign.slug
    urls = [
        f"/campaigns/{slug}/seeds/",
        f"/campaigns/{slug}/seeds/sample/",
        f"/campaigns/{slug}/seeds/deal/",
    ]
    for url in urls:
        assert Client().get(url).status_code == 302  # to the login page
        assert page_client(world.annotators[0]).get(url).status_code == 403
        assert page_client(world.reviewers[0]).get(url).status_code == 403
        assert page_client(other.curator).get(url).status_code == 404
        res = page_client(world.curator).get(url)
        assert res.status_code == 200
        text = res.content.decode()
        assert 'class="workspace-nav"' in text
        assert f'<a href="{url}" aria-current="page">' in text
        for label in ("Seeds", "Sampling", "Dealing"):
            assert f">{label}</a>" in text


def test_upload_page_check_report_and_confirm(world, django_capture_on_commit_callbacks):
    client = page_client(world.curator)
    url = f"/campaigns/{world.campaign.slug}/seeds/"
    # Without the CSRF token the upload is refused.
    res = client.post(url, {"file": SimpleUploadedFile("s.jsonl", jsonl(good_lines(2)))})
    assert res.status_code == 403
    client.get(url)
    token = client.cookies["csrftoken"].value
    with django_capture_on_commit_callbacks(execute=True):
        res = client.post(
            url,
            {
                "file": SimpleUploadedFile("bad.jsonl", jsonl(with_two_bad_lines())),
                "csrfmiddlewaretoken": token,
            },
        )
    assert res.status_code == 302
    seed_import = SeedImport.objects.get()
    assert res["Location"] == f"/seed-imports/{seed_import.pk}/"
    page = client.get(res["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert (
        "invalid JSON" in text
        and "unknown subcategory &#x27;Underwater Basket Weaving&#x27;" in text
    )
    assert "Discard" in text and 'name="skip_bad_lines"' in text

    # Confirming without skipping is refused (400, nothing imported); skipping imports.
    with django_capture_on_commit_callbacks(execute=True):
        res = client.post(res["Location"], {"action": "confirm", "csrfmiddlewaretoken": token})
    assert res.status_code == 400 and b"2 bad line(s)" in res.content
    assert Seed.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        res = client.post(
            f"/seed-imports/{seed_import.pk}/",
            {"action": "confirm", "skip_bad_lines": "true", "csrfmiddlewaretoken": token},
        )
    assert res.status_code == 302 and Seed.objects.count() == 4
    page = client.get(f"/seed-imports/{seed_import.pk}/").content.decode()
    assert "seeds imported" in page
    listing = client.get(url).content.decode()
    assert "bad.jsonl" in listing and "Imported" in listing


def test_running_import_page_offers_progress_and_a_refresh_link(world):
    seed_import = _created(world, jsonl(good_lines(2)))  # not checked yet: no worker ran
    res = page_client(world.curator).get(f"/seed-imports/{seed_import.pk}/")
    assert res.status_code == 200
    text = res.content.decode()
    assert "<progress" in text and "refresh" in text and "js/seeds/progress.js" in text
    other = page_client(world.annotators[0]).get(f"/seed-imports/{seed_import.pk}/")
    assert other.status_code == 403


def test_upload_page_keeps_the_form_on_an_empty_file(world):
    client = page_client(world.curator)
    url = f"/campaigns/{world.campaign.slug}/seeds/"
    client.get(url)
    res = client.post(
        url,
        {
            "file": SimpleUploadedFile("empty.jsonl", b""),
            "skip_bad_lines": "true",
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    assert res.status_code == 400 and b"file:" in res.content
    assert b'value="true" checked' in res.content
    assert not SeedImport.objects.exists()


def test_discard_from_the_page(world, django_capture_on_commit_callbacks):
    seed_import = start(world, jsonl(good_lines(2)), django_capture_on_commit_callbacks)
    client = page_client(world.curator)
    page = f"/seed-imports/{seed_import.pk}/"
    with django_capture_on_commit_callbacks(execute=True):
        res = csrf_post(client, page, {"action": "discard"}, page)
    assert res.status_code == 302
    seed_import.refresh_from_db()
    assert seed_import.status == "discarded"


def test_sample_page_previews_then_samples(world):
    seeds_import(campaign=world.campaign, lines=good_lines(80))
    client = page_client(world.curator)
    url = f"/campaigns/{world.campaign.slug}/seeds/sample/"
    res = client.get(url, {"size": 40, "seed": 3})
    assert res.status_code == 200 and b"Sample 40 seeds" in res.content
    assert Seed.objects.filter(status="sampled").count() == 0
    assert client.get(url, {"size": "lots"}).status_code == 400
    res = csrf_post(client, url, {"size": 40, "seed": 3}, url)
    assert res.status_code == 302
    assert Seed.objects.filter(status="sampled").count() == 40
    # A sample cannot shrink: the page says so with the API's status.
    assert client.get(url, {"size": 10}).status_code == 409


def test_deal_page_previews_then_deals(world):
    world.add_seeds(12)
    client = page_client(world.curator)
    url = f"/campaigns/{world.campaign.slug}/seeds/deal/"
    res = client.get(url)
    assert res.status_code == 200
    text = res.content.decode()
    assert "Deal 12 seeds" in text and world.annotators[0].username in text
    res = csrf_post(client, url, {"seed": 42}, url)
    assert res.status_code == 302
    assert Assignment.objects.count() == 12
    assert set(Assignment.objects.values_list("annotator__username", flat=True)) == {
        a.username for a in world.annotators
    }


def test_the_periodic_sweep_resumes_a_job_whose_worker_went_quiet(world):
    """A job whose task was refused (a redelivery while it looked fresh) or lost is not stuck
    for good: the beat task enqueues it again once it has been quiet for 30 minutes."""
    from annotation.tasks import resume_stale_seed_imports

    quiet = _created(world, jsonl(good_lines(3)))
    fresh = _created(world, jsonl(good_lines(2, start=10)))
    SeedImport.objects.filter(pk=quiet.pk).update(started_at=timezone.now() - timedelta(minutes=31))
    SeedImport.objects.filter(pk=fresh.pk).update(started_at=timezone.now())
    assert resume_stale_seed_imports() == 1  # tasks run eagerly in tests
    quiet.refresh_from_db()
    fresh.refresh_from_db()
    assert (quiet.status, fresh.status) == ("checked", "checking")
