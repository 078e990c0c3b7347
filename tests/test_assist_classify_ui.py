"""Model classification of seeds in real Chromium (Playwright): the curator opens the seeds
page, starts a classification with the campaign's model (tests/fake_openai.py's server), follows
its progress bar until the job is done (the job runs in a thread of its own, as a worker would,
so the page polls it while it runs), accepts every suggestion at once, and the seeds have their
subcategories."""

import json
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connections, transaction

from annotation import jobs as annotation_jobs
from annotation.models import AssistSettings, Seed, SeedClassificationJob, Subcategory
from annotation.services import seeds_import

from .browser import screenshot
from .conftest import World
from .fake_openai import FakeOpenAI

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[threading.Thread]]:
    """Jobs run in a thread of their own once the start commits, as on a worker: the request
    that starts one returns at once and the page follows the job while it runs."""
    threads: list[threading.Thread] = []

    def run(task: Any, *args: Any) -> None:
        try:
            task(*args)
        finally:
            connections.close_all()

    def enqueue_on_commit(task: Any, *args: Any, on_failure: Any = None) -> None:
        def start() -> None:
            thread = threading.Thread(target=partial(run, task, *args), name="fake-worker")
            threads.append(thread)
            thread.start()

        transaction.on_commit(start)

    monkeypatch.setattr(annotation_jobs, "enqueue_on_commit", enqueue_on_commit)
    yield threads
    for thread in threads:
        thread.join(30)


def test_a_curator_classifies_seeds_and_accepts_every_suggestion(
    new_page: Any, live_server: Any, worker: list[threading.Thread]
) -> None:
    cache.clear()
    world = World(slug="clsui", reviewers=1)
    seeds_import(
        campaign=world.campaign,
        lines=[
            json.dumps({"id": f"q{i}", "title": f"Question {i}", "text": f"How to parse {i}?"})
            for i in range(6)
        ],
    )
    with FakeOpenAI(slow_seconds=0.4) as fake:
        AssistSettings.objects.create(
            campaign=world.campaign,
            enabled=True,
            base_url=fake.base_url,
            model="fake-slow",
            concurrency=2,
        )
        page = new_page("clsui-curator", "pw-clsui-curator")
        page.goto(f"{live_server.url}/campaigns/clsui/seeds/")
        section = page.locator("#classification")
        assert "6 seeds without a subcategory" in section.inner_text()
        section.scroll_into_view_if_needed()
        screenshot(page, "seeds-page-classification")
        with page.expect_navigation():
            page.click("#classify-start-form-summary button")
        assert page.url.endswith("/campaigns/clsui/seeds/classification/")
        # The job runs while the page follows it: the bar moves, then the page reloads.
        job = page.locator("[data-classification-job]")
        assert job.get_attribute("data-status") in {"queued", "running"}
        page.wait_for_function(
            "() => { const n = document.querySelector('[data-classification-job]');"
            " return n && n.dataset.status === 'done'; }",
            timeout=30_000,
        )
        assert "6 of 6 seeds: 6 suggested" in page.locator("#classification-job").inner_text()
        screenshot(page, "seed-classification-done")
        page.locator("#suggestions-form").scroll_into_view_if_needed()
        screenshot(page, "seed-classification-suggestions")
        assert page.locator('#suggestions-form input[name="ids"]').count() == 6
        # A bulk change with no undo asks first: dismissing the question changes nothing.
        asked: list[str] = []
        page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        page.click("#accept-all-form button")
        page.wait_for_timeout(300)
        assert asked and asked[0].startswith("Accept all 6 suggestions?")
        assert page.locator('#suggestions-form input[name="ids"]').count() == 6
        page.once("dialog", lambda d: d.accept())
        with page.expect_navigation():
            page.click("#accept-all-form button")
        assert "6 suggestions accepted" in page.locator(".messages").inner_text()
        assert page.locator("#no-suggestions").is_visible()
        screenshot(page, "seed-classification-accepted")

    for thread in worker:
        thread.join(30)
    assert SeedClassificationJob.objects.get().status == "done"
    first = (
        Subcategory.objects.filter(campaign=world.campaign)
        .order_by("category__position", "category__name", "position", "name")
        .first()
    )
    assert first is not None
    assert set(
        Seed.objects.filter(campaign=world.campaign).values_list("subcategory_id", flat=True)
    ) == {first.pk}
