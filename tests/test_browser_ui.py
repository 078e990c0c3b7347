"""The data browser in real Chromium (Playwright): a curator opens Data from the workspace
navigation, searches seeds, switches to rewrites, filters by status, sorts, pages through the
results by cursor, ticks rows and returns them for revision in bulk (one ineligible row is
skipped with its reason), then puts an untouched assignment back in the pool. Screenshots
(1366x768) go to test-artifacts/screenshots/."""

import json
import re

import pytest

from annotation.models import Assignment, Rewrite, Seed
from annotation.services import seeds_import, seeds_sample

from .browser import screenshot
from .conftest import World, cast_panel

pytestmark = pytest.mark.django_db(transaction=True)


def build() -> tuple[World, list[Rewrite], Rewrite, Assignment]:
    world = World(slug="dm", reviewers=4)
    lines = [
        {
            "id": f"q{i}",
            "title": f"Question {i}: {topic}",
            "text": f"How do I {topic} in Python? Attempt {i}.",
            "subcategory": "Algorithm Design and Implementation",
        }
        for i, topic in enumerate(
            [
                "merge sorted lists",
                "reverse a linked list",
                "parse dates",
                "walk a tree",
                "count words",
                "dedupe a list",
                "<b>bold</b> markup",
                "sum a column",
            ]
        )
    ]
    seeds_import(campaign=world.campaign, lines=[json.dumps(line) for line in lines])
    seeds_sample(campaign=world.campaign, size=len(lines), seed=1)
    rejected = []
    for i in range(3):
        rewrite = world.submitted(world.annotators[i], text=f"Rewrite {i}: make it precise.")
        cast_panel(rewrite, ["invalid"] * 4, comments=["vague", "", "", ""])
        rejected.append(rewrite)
    accepted = world.submitted(world.annotators[3], text="Rewrite 3: a good question.")
    cast_panel(accepted, ["valid"] * 4)
    untouched = world.claim(world.annotators[0])
    return world, rejected, accepted, untouched


def test_curator_filters_searches_sorts_pages_and_acts_in_bulk(new_page, live_server):
    world, rejected, accepted, untouched = build()
    page = new_page(world.curator.username, "pw-" + world.curator.username)
    page.goto(f"{live_server.url}/campaigns/dm/people/")
    page.click("nav.workspace-nav >> text=Data")
    page.wait_for_url(re.compile(r"/campaigns/dm/browse/$"))
    assert page.locator("#browse-results tbody tr").count() == 8
    assert page.locator(".browse-tabs [data-count=rewrites]").inner_text() == "4"

    # Search seeds: the query and the result stay in the URL; markup in a title is text.
    page.fill("#f-q", "linked list")
    page.press("#f-q", "Enter")
    page.wait_for_url(re.compile(r"q=linked\+list"))
    rows = page.locator("#browse-results tbody tr")
    assert rows.count() == 1 and "reverse a linked list" in rows.first.inner_text()
    href = rows.first.locator("a").first.get_attribute("href")
    seed = Seed.objects.get(external_id="q1")
    assert href == f"/campaigns/dm/items/{seed.pk}/"
    screenshot(page, "browser-seeds-search")
    page.fill("#f-q", "bold")
    page.press("#f-q", "Enter")
    page.wait_for_url(re.compile(r"q=bold"))
    assert "<b>bold</b> markup" in page.locator("#browse-results tbody").inner_text()

    # Rewrites: status filter, sort newest first, two per page.
    page.click("text=Reset")
    page.click(".browse-tabs a[data-kind=rewrites]")
    page.wait_for_url(re.compile(r"/browse/rewrites/"))
    page.check("input[name=status][value=rejected]")
    page.click("#browse-filters button[type=submit]")
    page.wait_for_url(re.compile(r"status=rejected"))
    page.select_option("#f-sort", "-id")  # a select submits the form by itself
    page.wait_for_url(re.compile(r"sort=-id"))
    page.goto(page.url + "&page_size=2")  # smaller than the form offers, kept by the links
    ids = [
        int(x)
        for x in page.locator("#browse-results tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.id)"
        )
    ]
    assert ids == [rejected[2].pk, rejected[1].pk]
    page.click("#page-next")
    page.wait_for_url(re.compile(r"cursor="))
    assert "status=rejected" in page.url and "sort=-id" in page.url
    ids = page.locator("#browse-results tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.id)"
    )
    assert [int(x) for x in ids] == [rejected[0].pk]
    page.click("#page-previous")
    page.wait_for_function(
        "() => document.querySelectorAll('#browse-results tbody tr').length === 2"
    )
    csv_href = page.get_attribute("#download-csv", "href")
    assert "status=rejected" in csv_href and "cursor" not in csv_href

    # Select the page's rows (and the accepted one, which is skipped) and return them.
    page.goto(
        f"{live_server.url}/campaigns/dm/browse/rewrites/?status=rejected&status=accepted&sort=-id"
    )
    page.check("#select-page")
    assert page.locator("input[name=ids]:checked").count() == 4
    page.fill("#bulk-note", "Please say which input format you mean.")
    screenshot(page, "browser-rewrites-selected")
    page.click("#bulk-submit")
    page.wait_for_selector("ul.messages")
    text = page.locator("ul.messages").inner_text()
    assert "3 rewrites returned." in text
    assert f"#{accepted.pk}: it is accepted" in text
    assert "status=rejected" in page.url  # back on the same filtered list
    screenshot(page, "browser-bulk-result")
    for r in rejected:
        r.refresh_from_db()
        assert r.status == Rewrite.Status.RETURNED
    accepted.refresh_from_db()
    assert accepted.status == Rewrite.Status.ACCEPTED

    # Assignments: the untouched one goes back to the pool; the annotator field shows only
    # for reassigning.
    page.goto(f"{live_server.url}/campaigns/dm/browse/assignments/?started=no&status=active")
    assert page.locator(".bulk-annotator").is_visible()  # reassign is the first action
    page.select_option("#bulk-action", "release")
    assert page.locator(".bulk-annotator").is_hidden()
    page.check("input[name=scope][value=all]")
    page.click("#bulk-submit")
    page.wait_for_selector("ul.messages")
    assert "1 assignment put back in the pool." in page.locator("ul.messages").inner_text()
    untouched.refresh_from_db()
    assert untouched.status == Assignment.Status.RELEASED
    screenshot(page, "browser-assignments")
