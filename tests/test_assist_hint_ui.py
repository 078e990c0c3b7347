"""Model assistance in real Chromium (Playwright), against tests/fake_openai.py's server: a
curator turns assistance on in the campaign settings, tests the connection and reads the usage
table; a reviewer sees that the model's view waits for their vote, votes, asks the model and
reads its three items, problems and label. Screenshots go to test-artifacts/screenshots/."""

from typing import Any

import pytest
from django.core.cache import cache

from annotation.models import AssistSettings, ModelCall
from annotation.services import assist_settings_update
from review.models import Ballot, ReviewHint

from .browser import screenshot
from .conftest import World
from .fake_openai import FakeOpenAI

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake() -> Any:
    cache.clear()
    with FakeOpenAI() as server:
        yield server
    cache.clear()


def login(new_page: Any, user: Any) -> Any:
    return new_page(user.username, "pw-" + user.username)


def test_a_curator_turns_assistance_on_and_reads_the_usage(new_page, live_server, fake):
    world = World(slug="au")
    page = login(new_page, world.curator)
    page.goto(f"{live_server.url}/campaigns/au/settings/#assist")
    assert "off" in page.inner_text("#assist-state")
    assert page.is_visible("#assist-usage-empty")
    assert page.is_disabled("#assist-test")

    page.check("#assist-form input[name=enabled]")
    page.fill("#assist-base-url", fake.base_url + "/chat/completions")
    page.fill("#assist-model", "fake-good")
    page.check("#assist-form input[name=reviewer_hint]")
    with page.expect_navigation():
        page.click("#assist-save")
    assert "Model assistance settings saved." in page.inner_text(".messages")
    assert "on" in page.inner_text("#assist-state")
    assert page.input_value("#assist-base-url") == fake.base_url  # trimmed to the API base
    config = AssistSettings.objects.get(campaign=world.campaign)
    assert (config.enabled, config.model, config.reviewer_hint) == (True, "fake-good", True)

    with page.expect_navigation():
        page.click("#assist-test")
    assert "answered in" in page.inner_text(".messages")
    page.wait_for_selector("#assist-usage")
    usage = page.inner_text("#assist-usage")
    assert "fake-good" in usage and "Connection test" in usage
    assert "connection-test" in page.inner_text("#assist-calls")
    assert ModelCall.objects.filter(campaign=world.campaign, status="ok").count() == 1
    page.locator("#assist").scroll_into_view_if_needed()
    screenshot(page, "assist-settings")
    page.locator("#assist-usage-title").scroll_into_view_if_needed()
    screenshot(page, "assist-usage")

    # A bad key variable is refused, named at its field, and nothing changes.
    page.fill("#assist-api-key-env", "DATABASE_URL")
    with page.expect_navigation():
        page.click("#assist-save")
    assert "CURATION_MODEL_KEY" in page.inner_text("#assist-error")
    config.refresh_from_db()
    assert config.api_key_env == ""


def test_a_reviewer_reads_the_models_view_only_after_voting(new_page, live_server, fake):
    world = World(slug="hu", reviewers=4)
    world.add_seeds(1)
    assist_settings_update(
        campaign=world.campaign,
        actor=world.curator,
        changes={
            "enabled": True,
            "base_url": fake.base_url,
            "model": "fake-good",
            "reviewer_hint": True,
        },
    )
    rewrite = world.submitted()
    ballot = Ballot.objects.filter(rewrite=rewrite).select_related("reviewer").order_by("id")[0]

    page = login(new_page, ballot.reviewer)
    page.goto(f"{live_server.url}/ballots/{ballot.pk}/")
    panel = page.locator("#model-hint")
    assert "an opinion, not a vote" in panel.inner_text().lower()
    assert "appears here after you vote" in page.inner_text("#model-hint-after-vote")
    assert page.locator("#ask-model").count() == 0
    assert fake.requests_to("/v1/chat/completions") == []

    page.keyboard.press("KeyV")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#tally")
    assert page.locator("#model-hint-after-vote").count() == 0
    assert page.is_hidden("#model-hint-body")
    page.click("#ask-model")
    page.wait_for_selector("#model-hint-body", state="visible")

    assert page.inner_text("#model-hint-label strong") == "A model's opinion, not a vote"
    assert page.inner_text("#model-hint-model") == "fake-good"
    assert page.inner_text("#model-hint-version") == "builtin-v1"
    clear = page.inner_text("#model-hint-items li[data-item=clear]")
    assert "Clear" in clear and "ok" in clear and "states inputs and outputs" in clear
    assert "ok" in page.inner_text("#model-hint-items li[data-item=ethical]")
    solvable = page.inner_text("#model-hint-items li[data-item=solvable]")
    assert "concern" in solvable and "output format is not given" in solvable
    assert page.inner_text("#model-hint-problem-list") == "Missing output format"
    assert page.is_hidden("#model-hint-ask")
    assert page.is_hidden("#model-hint-error")
    page.locator("#model-hint").scroll_into_view_if_needed()
    screenshot(page, "review-model-hint")
    assert ReviewHint.objects.get(rewrite=rewrite).status == "ready"

    # Reloaded, the stored view is on the page without asking again.
    page.reload()
    assert "Missing output format" in page.inner_text("#model-hint-problem-list")
    assert page.locator("#ask-model").count() == 0
    assert len(fake.requests_to("/v1/chat/completions")) == 1


def test_an_unusable_answer_shows_inline_and_voting_goes_on(new_page, live_server, fake):
    world = World(slug="hx", reviewers=4)
    world.add_seeds(1)
    assist_settings_update(
        campaign=world.campaign,
        actor=world.curator,
        changes={
            "enabled": True,
            "base_url": fake.base_url,
            "model": "fake-malformed",
            "reviewer_hint": True,
            "hint_before_vote": True,
        },
    )
    rewrite = world.submitted()
    ballot = Ballot.objects.filter(rewrite=rewrite).select_related("reviewer").order_by("id")[0]
    page = login(new_page, ballot.reviewer)
    page.goto(f"{live_server.url}/ballots/{ballot.pk}/")
    page.click("#ask-model")
    page.wait_for_selector("#model-hint-error", state="visible")
    assert "could not be used" in page.inner_text("#model-hint-error")
    assert page.inner_text("#ask-model") == "Ask again"
    assert page.is_enabled("#ask-model")
    # The vote is not blocked.
    page.keyboard.press("KeyV")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#tally")
    ballot.refresh_from_db()
    assert ballot.status == "cast"
