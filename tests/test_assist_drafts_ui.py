"""The model suggestion panel of the annotate page in real Chromium (Playwright), against
tests/fake_openai.py: ask, watch the question stream in, insert it, edit it, autosave, submit;
the stored rewrite knows the suggestion and how far the annotator moved from it. A failing
endpoint shows its error and the editor keeps working. The panel is axe-clean."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rapidfuzz.distance import Levenshtein

from annotation.models import AssistSettings, DraftSuggestion, Rewrite
from annotation.services import seeds_import, seeds_sample

from .browser import screenshot
from .conftest import World
from .fake_openai import FakeOpenAI
from .test_accessibility import audit, describe

pytestmark = pytest.mark.django_db(transaction=True)

SEEDS = [
    {
        "id": "py-chunks",
        "title": "Split a list",
        "text": "How do I split a Python list into pieces of n items each?",
        "subcategory": "Algorithm Design and Implementation",
    },
    {
        "id": "sql-index",
        "title": "Slow join",
        "text": "My PostgreSQL join on orders and customers is slow. Which index helps?",
        "subcategory": "Database Management",
    },
]
ANSWER = (
    "<question>\nWrite a Python function `chunks(xs, n)` that splits the list `xs` into "
    "lists of `n` items (the last one may be shorter).\n\n```python\nassert chunks([1, 2, 3], 2)"
    " == [[1, 2], [3]]\n```\n</question>\n<difficulty>easy</difficulty>\n"
    "<languages>Python</languages>"
)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    cache.clear()  # the campaigns' call counters
    with FakeOpenAI(answers={"draft": ANSWER}, slow_seconds=1.5) as server:
        yield server


def setup(fake: FakeOpenAI, **options: Any) -> tuple[World, Any]:
    world = World(slug="suggest")
    seeds_import(campaign=world.campaign, lines=[json.dumps(s) for s in SEEDS])
    seeds_sample(campaign=world.campaign, size=len(SEEDS), seed=1)
    AssistSettings.objects.create(
        campaign=world.campaign,
        enabled=True,
        base_url=fake.base_url,
        model=options.pop("model", "fake-slow"),
        timeout_seconds=10,
        **options,
    )
    assignment = world.claim()
    return world, assignment


def open_annotate(new_page: Any, live_server: Any, assignment: Any) -> Any:
    user = assignment.annotator
    page = new_page(user.username, "pw-" + user.username)
    page.goto(f"{live_server.url}/assignments/{assignment.pk}/")
    page.wait_for_selector("#save-state[data-state=saved]")
    return page


def test_ask_watch_it_stream_insert_edit_and_submit(new_page, live_server, fake):
    world, assignment = setup(fake)
    page = open_annotate(new_page, live_server, assignment)
    assert not page.locator("#suggestion").is_visible()
    page.click("#suggest")
    assert page.locator("#suggest-status").inner_text() == "Asking fake-slow\u2026"
    # The question appears while it is being written, before it can be inserted.
    page.wait_for_function(
        """() => document.getElementById('suggestion-text').textContent.length > 10
                 && document.getElementById('suggestion-insert').disabled"""
    )
    assert "<question>" not in page.locator("#suggestion-text").inner_text()
    page.wait_for_selector("#suggestion-insert:enabled")
    suggestion = DraftSuggestion.objects.get()
    assert page.locator("#suggestion-text").inner_text() == suggestion.text
    assert page.locator("#suggestion-label").inner_text() == (
        "Suggested by a model (fake-slow, prompt builtin-v1) \u2014 check it and make it your own"
    )
    assert "difficulty: easy; languages: python" in page.locator("#suggestion-tags").inner_text()
    assert not Rewrite.objects.exists()  # nothing reaches the draft until it is inserted
    found = audit(page, "annotate, model suggestion", expand=False, dark=True)
    assert not found, describe(found)
    screenshot(page, "annotate-suggestion")

    page.click("#suggestion-insert")
    assert page.input_value("#rewrite-text") == suggestion.text
    assert page.is_checked("input[name=difficulty][value=easy]")
    assert page.locator("#language-chips .chip").all_inner_texts() == ["python×"]
    page.wait_for_selector("#save-state[data-state=saved]")
    draft = Rewrite.objects.get()
    assert (draft.suggestion_id, draft.text) == (suggestion.pk, suggestion.text)

    # After a reload the suggestion is shown again; replacing a non-empty editor asks first.
    page.reload()
    page.wait_for_selector("#save-state[data-state=saved]")
    page.wait_for_selector("#suggestion-insert:enabled")
    assert page.locator("#suggest-status").inner_text() == "This suggestion is in your draft."
    final = suggestion.text.replace("splits the list", "splits a non-empty list") + " Keep order."
    page.fill("#rewrite-text", final)
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("#suggestion-insert")
    assert asked == ["Replace the text in the editor with the model's suggestion?"]
    assert page.input_value("#rewrite-text") == final

    page.select_option("#natural-language", "en")
    for item in ["clear", "ethical", "solvable"]:
        page.check(f"input[data-item={item}]")
    page.wait_for_selector("#save-state[data-state=saved]")
    page.click("#submit")
    page.wait_for_url(lambda url: f"/assignments/{assignment.pk}/" not in url)
    rewrite = Rewrite.objects.get(assignment=assignment)
    assert rewrite.status == "submitted" and rewrite.text == final
    assert rewrite.suggestion_id == suggestion.pk
    assert rewrite.suggestion_edit_distance == Levenshtein.distance(suggestion.text, final) == 22
    assert rewrite.difficulty == "easy"
    assert [link.language.name for link in rewrite.language_links.all()] == ["python"]


def test_a_failing_endpoint_shows_its_error_and_the_editor_keeps_working(
    new_page, live_server, fake
):
    world, assignment = setup(fake, model="fake-fail")
    page = open_annotate(new_page, live_server, assignment)
    page.focus("#suggest")
    page.keyboard.press("Enter")  # keyboard works as well as the mouse
    page.wait_for_function("() => document.getElementById('suggest-error').textContent !== ''")
    error = page.locator("#suggest-error").inner_text()
    assert "answered HTTP 500" in error, error
    assert not page.locator("#suggestion").is_visible()
    assert page.is_enabled("#suggest")
    found = audit(page, "annotate, model suggestion failed", expand=False)
    assert not found, describe(found)

    # An answer that goes wrong mid-stream is reported the same way.
    AssistSettings.objects.filter(campaign=world.campaign).update(model="fake-malformed")
    page.click("#suggest")
    page.wait_for_function(
        "() => document.getElementById('suggest-error').textContent.includes('could not be used')"
    )
    assert not page.locator("#suggestion").is_visible()

    # Manual work goes on.
    page.fill("#rewrite-text", "Which index speeds up a join of orders and customers?")
    page.wait_for_selector("#save-state[data-state=saved]")
    draft = Rewrite.objects.get(assignment=assignment)
    assert draft.text == "Which index speeds up a join of orders and customers?"
    assert draft.suggestion_id is None
    assert not DraftSuggestion.objects.exists()
