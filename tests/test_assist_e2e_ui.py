"""Model-assisted curation end to end in real Chromium (Playwright), against the fake
OpenAI-compatible server of tests/fake_openai.py: an annotator asks for a suggestion, inserts
it, edits it and submits; four reviewers vote on the vote page (one reads the model's view
after voting); the curator builds a release on the Releases page; the downloaded files say
which sample was drafted from the model's suggestion, by which model and prompt, and how far
the annotator moved from it, and which was written by a person."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rapidfuzz.distance import Levenshtein

from annotation.models import AssistSettings, DraftSuggestion, Rewrite
from annotation.services import seeds_import, seeds_sample
from review.models import Ballot

from .browser import screenshot
from .conftest import World
from .fake_openai import FakeOpenAI
from .test_review_ui import vote_in_page

pytestmark = pytest.mark.django_db(transaction=True)

SEEDS = [
    {
        "id": "merge",
        "title": "Merge two lists",
        "text": "how to merge 2 sorted lists in python without sorted()?? mine is slow",
        "subcategory": "Algorithm Design and Implementation",
    },
    {
        "id": "index",
        "title": "Slow query",
        "text": "My PostgreSQL query on orders by customer is slow, which index?",
        "subcategory": "Database Management",
    },
]
DRAFT_ANSWER = (
    "<question>\nWrite a Python function `merge(a, b)` that merges two sorted lists of "
    "integers into one sorted list in O(len(a) + len(b)) time, without calling `sorted()`."
    "\n</question>\n<difficulty>medium</difficulty>\n<languages>Python</languages>"
)
HUMAN_TEXT = (
    "A PostgreSQL 15 query `SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at "
    "DESC LIMIT 20` ignores the index on (created_at). Explain why and give the index that "
    "makes it fast."
)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    cache.clear()  # the campaign's call counters
    with FakeOpenAI(answers={"draft": DRAFT_ANSWER}) as server:
        yield server


def login(new_page: Any, user: Any) -> Any:
    return new_page(user.username, "pw-" + user.username)


def finish_tags(page: Any) -> None:
    page.select_option("#natural-language", "en")
    for item in ["clear", "ethical", "solvable"]:
        page.check(f"input[data-item={item}]")
    page.wait_for_selector("#save-state[data-state=saved]")


def test_suggest_insert_edit_submit_vote_release_and_read_the_provenance(
    new_page, live_server, fake, settings, tmp_path
):
    settings.RELEASES_DIR = tmp_path
    world = World(slug="e2e", reviewers=4)
    seeds_import(campaign=world.campaign, lines=[json.dumps(s) for s in SEEDS])
    seeds_sample(campaign=world.campaign, size=2, seed=1)
    AssistSettings.objects.create(
        campaign=world.campaign,
        enabled=True,
        base_url=fake.base_url,
        model="fake-good",
        reviewer_hint=True,
    )
    annotator = world.annotators[0]

    # --- the annotator: one rewrite from the model's suggestion, one by hand ----------------
    page = login(new_page, annotator)
    page.goto(f"{live_server.url}/campaigns/e2e/queue/")
    page.click("#next-seed")
    page.wait_for_selector("#save-state[data-state=saved]")
    assisted = None
    for _ in range(2):
        current = page.url
        seed_title = page.inner_text(".seed-title")
        if seed_title == "Merge two lists":
            page.click("#suggest")
            page.wait_for_selector("#suggestion-insert:enabled")
            page.click("#suggestion-insert")
            # The annotator makes it their own: a sharper requirement and an example.
            edited = (
                page.input_value("#rewrite-text").replace("two sorted lists", "two ascending lists")
                + "\n\nExample: `merge([1, 4], [2, 3])` returns `[1, 2, 3, 4]`."
            )
            page.fill("#rewrite-text", edited)
            assisted = edited
        else:
            page.fill("#rewrite-text", HUMAN_TEXT)
            page.check("input[name=difficulty][value=hard]")
            page.fill("#language-input", "SQL")
            page.keyboard.press("Enter")
        finish_tags(page)
        screenshot(page, f"e2e-annotate-{len(Rewrite.objects.all())}")
        page.click("#submit")
        page.wait_for_url(lambda url, was=current: url != was, timeout=10_000)
        if Rewrite.objects.filter(status="submitted").count() == 2:
            break
        page.wait_for_selector("#save-state[data-state=saved]")
    assert assisted is not None
    suggestion = DraftSuggestion.objects.get()
    model_drafted = Rewrite.objects.get(suggestion=suggestion)
    human = Rewrite.objects.get(suggestion__isnull=True)
    assert model_drafted.text == assisted and human.text == HUMAN_TEXT
    distance = Levenshtein.distance(suggestion.text, assisted)
    assert model_drafted.suggestion_edit_distance == distance > 0

    # --- four reviewers vote in the browser; the first reads the model's view after voting --
    for i, reviewer in enumerate(world.reviewers):
        page = login(new_page, reviewer)
        for ballot in Ballot.objects.filter(reviewer=reviewer).order_by("id"):
            page.goto(f"{live_server.url}/ballots/{ballot.pk}/")
            if i == 0 and ballot.rewrite_id == model_drafted.pk:
                assert page.locator("#model-hint-after-vote").count() == 1
            vote_in_page(page, decision="valid")
            if i == 0 and ballot.rewrite_id == model_drafted.pk:
                page.click("#ask-model")
                page.wait_for_selector("#model-hint-body", state="visible")
                assert "A model's opinion, not a vote" in page.inner_text("#model-hint")
                screenshot(page, "e2e-vote-hint")
    assert set(Rewrite.objects.values_list("status", flat=True)) == {"accepted"}

    # --- the curator builds the release and downloads it --------------------------------------
    page = login(new_page, world.curator)
    page.goto(f"{live_server.url}/campaigns/e2e/releases/")
    page.fill("input[name=name]", "v1")
    page.fill("input[name=size]", "2")
    page.click("button:has-text('Build release')")
    row = page.locator("tr[data-status=done]")
    row.wait_for()
    screenshot(page, "e2e-release")
    files = {}
    for name in ["benchmark.jsonl", "stats.json", "README.md"]:
        with page.expect_download() as download:
            row.locator(f"a:text-is('{name}')").click()
        files[name] = download.value.path().read_bytes()

    samples = {
        json.loads(line)["seed_id"]: json.loads(line)
        for line in files["benchmark.jsonl"].decode().splitlines()
    }
    assert samples["merge"]["provenance"] == {
        "origin": "model_drafted",
        "model": "fake-good",
        "prompt_version": "builtin-v1",
        "edit_distance": distance,
        "suggestion_chars": len(suggestion.text),
    }
    assert list(samples["merge"])[-1] == "provenance"
    assert samples["merge"]["messages"][0]["content"] == assisted
    assert samples["index"]["provenance"] == {
        "origin": "human",
        "model": None,
        "prompt_version": None,
        "edit_distance": None,
        "suggestion_chars": None,
    }
    stats = json.loads(files["stats.json"])
    assert stats["provenance"]["human_written"] == 1
    assert stats["provenance"]["model_drafted"] == 1
    assert stats["provenance"]["by_model"] == {"fake-good": 1}
    assert stats["provenance"]["edit_distance"]["max"] == distance
    card = files["README.md"].decode()
    assert "## Provenance" in card and "fake-good" in card
