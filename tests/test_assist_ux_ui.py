"""Model assistance as people see it, in real Chromium (Playwright) against tests/fake_openai.py:
Discard while a suggestion streams in stops it for good (the server records the abandoned
call), a rate limit is told once, and a curator reads the outcome of "Test the connection" or
a prompt save where the page comes back, not at the top of a long page. Kept short: the suite
runs near its CI limit."""

import json
import time
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from annotation.models import AssistSettings, DraftSuggestion, ModelCall
from annotation.services import seeds_import, seeds_sample

from .browser import screenshot
from .conftest import World
from .fake_openai import FakeOpenAI
from .test_accessibility import audit, describe

pytestmark = pytest.mark.django_db(transaction=True)

SLOW_SECONDS = 2.0  # how long fake-slow takes to stream its answer
SEED = {
    "id": "py-chunks",
    "title": "Split a list",
    "text": "How do I split a Python list into pieces of n items each?",
    "subcategory": "Algorithm Design and Implementation",
}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    cache.clear()  # the campaigns' call counters
    with FakeOpenAI(slow_seconds=SLOW_SECONDS) as server:
        yield server
    cache.clear()


def assist_on(world: World, fake: FakeOpenAI, model: str) -> None:
    AssistSettings.objects.create(
        campaign=world.campaign, enabled=True, base_url=fake.base_url, model=model
    )


def test_discard_stops_a_streaming_suggestion_for_good(new_page, live_server, fake):
    world = World(slug="stop")
    seeds_import(campaign=world.campaign, lines=[json.dumps(SEED)])
    seeds_sample(campaign=world.campaign, size=1, seed=1)
    assist_on(world, fake, "fake-slow")
    assignment = world.claim()
    user = assignment.annotator
    page = new_page(user.username, "pw-" + user.username)
    page.goto(f"{live_server.url}/assignments/{assignment.pk}/")
    page.wait_for_selector("#save-state[data-state=saved]")
    # Open at first, so Suggest is found without looking for it.
    assert page.locator("#assist").get_attribute("open") is not None
    assert page.is_visible("#suggest")

    page.click("#suggest")
    page.wait_for_function(
        "() => document.getElementById('suggestion-text').textContent.length > 10"
    )
    # While it streams, Suggest and Insert look disabled.
    for button in ("#suggest", "#suggestion-insert"):
        assert page.is_disabled(button)
        style = page.eval_on_selector(
            button, "(b) => [getComputedStyle(b).opacity, getComputedStyle(b).cursor]"
        )
        assert style == ["0.55", "not-allowed"], (button, style)
    screenshot(page, "assist-ux-streaming")
    asked = time.monotonic()
    page.click("#suggestion-discard")
    assert not page.is_visible("#suggestion")
    status = "Stopped and discarded. Ask again or write your own."
    assert page.inner_text("#suggest-status") == status
    assert page.is_enabled("#suggest")

    # The server notices the request went away: the call is recorded as abandoned, and no
    # suggestion is stored.
    deadline = time.monotonic() + 10
    while not ModelCall.objects.filter(error_code="abandoned").exists():
        assert time.monotonic() < deadline, list(ModelCall.objects.values("status", "error_code"))
        time.sleep(0.1)
    call = ModelCall.objects.get()
    assert (call.purpose, call.status, call.streamed) == ("draft", "failed", True)
    # After the answer would have ended, the panel is still as Discard left it.
    page.wait_for_timeout(max(0, SLOW_SECONDS - (time.monotonic() - asked)) * 1000 + 300)
    assert not page.is_visible("#suggestion")
    assert page.inner_text("#suggest-status") == status
    assert page.inner_text("#suggest-error") == ""
    assert not DraftSuggestion.objects.exists()
    screenshot(page, "assist-ux-discarded")

    # A rate limit is told once: the server's message, with no second "again" after it.
    AssistSettings.objects.update(model="fake-ratelimit")
    page.click("#suggest")
    page.wait_for_function("() => document.getElementById('suggest-error').textContent !== ''")
    error = page.inner_text("#suggest-error")
    assert error.lower().count(" again") == 1 and ".." not in error, error

    # Closing the panel is remembered in this browser.
    page.click("#assist summary")
    page.reload()
    page.wait_for_selector("#save-state[data-state=saved]")
    assert page.locator("#assist").get_attribute("open") is None


def test_the_outcome_of_a_form_shows_where_the_curator_is(new_page, live_server, fake):
    world = World(slug="where")
    assist_on(world, fake, "fake-good")
    page = new_page(world.curator.username, "pw-" + world.curator.username)
    page.goto(f"{live_server.url}/campaigns/where/settings/")

    page.locator("#assist-test").scroll_into_view_if_needed()
    with page.expect_navigation():
        page.click("#assist-test")
    assert page.url.endswith("#assist-test-form")
    message = page.locator("#assist-test-messages [role=status]")
    expect(message).to_be_in_viewport()
    assert "fake-good answered in" in message.inner_text()
    assert page.locator("main > .messages").count() == 0  # shown once, not also at the top
    screenshot(page, "assist-ux-test-ok")
    found = audit(page, "settings, connection tested", expand=False, dark=True)
    assert not found, describe(found)

    # A model that answers but not as asked: a warning, in the same place.
    AssistSettings.objects.update(model="fake-malformed")
    with page.expect_navigation():
        page.click("#assist-test")
    warning = page.locator("#assist-test-messages .section-message-warning")
    expect(warning).to_be_in_viewport()
    assert "But not as asked" in warning.inner_text()
    screenshot(page, "assist-ux-test-not-as-asked")

    # A failure is an alert, in the same place.
    AssistSettings.objects.update(model="fake-fail")
    with page.expect_navigation():
        page.click("#assist-test")
    alert = page.locator("#assist-test-messages [role=alert]")
    expect(alert).to_be_in_viewport()
    assert "Connection test failed" in alert.inner_text()
    screenshot(page, "assist-ux-test-failed")

    # A prompt saved: its message is in its own section.
    page.fill("#prompt-hint-text", "Judge the rewrite strictly.")
    with page.expect_navigation():
        page.click("#prompt-hint button[value=save]")
    assert page.url.endswith("#prompt-hint")
    saved = page.locator("#prompt-hint-messages [role=status]")
    expect(saved).to_be_in_viewport()
    assert "prompt in use is now campaign-v1" in saved.inner_text()
    screenshot(page, "assist-ux-prompt-saved")
