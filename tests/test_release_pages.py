"""The curator's releases page: permissions, starting a release, and (in Chromium) following a
release job's progress until its files can be downloaded."""

import json

import pytest
from django.test import Client

from exports import tasks
from exports.jobs import release_start
from exports.models import Release
from exports.services import ReleaseParameters, release_run

from .browser import screenshot
from .conftest import World, cast_panel

TEXTS = [
    "How do I stream a 20 GB CSV into PostgreSQL with psycopg 3 COPY without loading it all?",
    "Write a TypeScript debounce helper with proper generics and a cancel method, plus tests.",
    "Why does my Go HTTP server leak goroutines when clients disconnect mid-response?",
]


def accepted_world(slug: str = "camp") -> World:
    world = World(slug=slug)
    world.add_seeds(3)
    for i, text in enumerate(TEXTS):
        rewrite = world.submitted(annotator=world.annotators[i], text=text)
        cast_panel(rewrite, ["valid"] * 4)
    return world


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_releases_page_permissions_and_start(
    db, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.RELEASES_DIR = tmp_path
    world = accepted_world()
    other = World(slug="other")
    url = f"/campaigns/{world.campaign.slug}/releases/"
    assert Client().get(url).status_code == 302  # to the log-in page
    assert login(world.annotators[0]).get(url).status_code == 403
    assert login(world.reviewers[0]).get(url).status_code == 403
    assert login(other.curator).get(url).status_code == 404
    page = login(world.curator).get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "No reference set is loaded" in html and ">3</div>" in html

    curator = login(world.curator)
    with django_capture_on_commit_callbacks(execute=True):
        res = curator.post(url, {"name": "v1", "size": "2", "seed": "42", "stratify": "none"})
    assert res.status_code == 302
    release = Release.objects.get(name="v1")
    assert release.status == "done" and release.stats["total"] == 2
    html = curator.get(url).content.decode()
    assert f"/api/v1/releases/{release.pk}/files/benchmark.jsonl" in html

    res = curator.post(url, {"name": ".hidden", "size": "2"})
    assert res.status_code == 400 and "name:" in res.content.decode()
    res = curator.post(url, {"name": "big", "size": "50"})
    assert res.status_code == 400 and "Only 3 accepted" in res.content.decode()
    assert not Release.objects.filter(name__in=[".hidden", "big"]).exists()

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.curator)
    assert strict.post(url, {"name": "v2"}).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_curator_follows_a_release_job_in_the_browser(
    new_page,
    live_server,
    settings,
    tmp_path,
    monkeypatch,  # noqa: F811
):
    settings.RELEASES_DIR = tmp_path
    world = accepted_world()
    page = new_page(world.curator.username, "pw-" + world.curator.username)
    page.click("text=releases")
    page.wait_for_selector("h1:has-text('Releases')")

    # Built at once (in-process task queue): its files are listed after the redirect.
    page.fill("input[name=name]", "v1.0")
    page.fill("input[name=size]", "3")
    page.click("button:has-text('Build release')")
    row = page.locator("tr[data-status=done]")
    row.wait_for()
    assert "3 samples" in row.inner_text()
    with page.expect_download() as download:
        row.locator("a:has-text('manifest.json')").click()
    manifest = json.loads(download.value.path().read_text())
    assert manifest["release"] == "v1.0" and manifest["counts"]["samples"] == 3

    # A job waiting for a worker: the page polls its progress and shows the files when done.
    queued: list[int] = []
    monkeypatch.setattr(tasks.run_release, "apply_async", lambda args: queued.append(args[0]))
    release = release_start(
        campaign=world.campaign, actor=world.curator, parameters=ReleaseParameters(name="nightly")
    )
    page.reload()
    page.wait_for_selector("tr[data-status=queued] progress")
    screenshot(page, "releases-queued")
    release_run(release_id=queued[0])  # what the worker does
    done = page.locator(f"tr[data-release='{release.pk}'][data-status=done]")
    done.wait_for(timeout=10_000)
    assert "benchmark.jsonl" in done.inner_text()
    screenshot(page, "releases")
