"""Curator decisions in real Chromium (Playwright): from the dashboard's "for you to decide"
list the curator closes a rejected rewrite, adjudicates a no-consensus one with a reason, and
reopens the closed one from the closed list; the confirmation page of an adjudication refuses a
missing reason. Screenshots (1366x768) go to test-artifacts/screenshots/."""

import pytest

from annotation.models import Event, Rewrite
from core.transitions import EventKind

from .browser import screenshot
from .conftest import World, cast_panel

pytestmark = pytest.mark.django_db(transaction=True)


def test_curator_closes_adjudicates_and_reopens_from_the_dashboard(new_page, live_server):
    world = World(slug="dec", reviewers=4)
    world.add_seeds(3)
    rejected = world.submitted(world.annotators[0], text="Make this page's sidebar collapse.")
    cast_panel(rejected, ["invalid"] * 4, comments=["Which page?", "", "", "No code given."])
    split = world.submitted(
        world.annotators[1], text="Write a regex that matches ISO dates <b>strictly</b>."
    )
    cast_panel(split, ["valid", "invalid", "valid", "invalid"])
    dashboard = f"{live_server.url}/campaigns/dec/dashboard/"

    page = new_page(world.curator.username, "pw-" + world.curator.username)
    page.goto(dashboard)
    assert page.locator("[data-figure=needs_curator]").inner_text() == "2"
    loop = page.locator("#revision-loop")
    loop.scroll_into_view_if_needed()
    split_item = page.locator(f"#revision-loop article[data-rewrite='{split.pk}']")
    rejected_item = page.locator(f"#revision-loop article[data-rewrite='{rejected.pk}']")
    # Adjudication is offered for the no-consensus rewrite only; the tags are escaped text.
    assert split_item.locator("form.adjudicate-form").count() == 1
    assert rejected_item.locator("form.adjudicate-form").count() == 0
    assert "<b>strictly</b>" in split_item.locator("summary").inner_text()
    screenshot(page, "decisions-dashboard-to-decide")

    # Close the rejected one with a note.
    rejected_item.locator("input[name=note]").fill("Not a programming question.")
    rejected_item.locator("button:has-text('Close')").click()
    page.wait_for_selector(f"text=Closed revision 1 of seed {rejected.seed.external_id}.")
    assert page.locator("[data-figure=needs_curator]").inner_text() == "1"
    assert page.locator(f"#revision-loop article[data-rewrite='{rejected.pk}']").count() == 0
    closed_row = page.locator(f"#closed-list tr[data-rewrite='{rejected.pk}']")
    assert "Not a programming question." in closed_row.inner_text()
    assert page.locator("#funnel-table tr[data-key=closed] td.num").inner_text() == "1"
    page.locator("#closed-list").scroll_into_view_if_needed()
    screenshot(page, "decisions-dashboard-closed")

    # Adjudicate the split: the browser asks for the reason before anything is sent.
    split_item = page.locator(f"#revision-loop article[data-rewrite='{split.pk}']")
    split_item.locator("button[value=accepted]").click()
    assert Rewrite.objects.get(pk=split.pk).status == "no_consensus"
    split_item.locator("input[name=reason]").fill(
        "Clear and solvable; the invalid votes misread it."
    )
    split_item.locator("button[value=accepted]").click()
    page.wait_for_selector(f"text=Revision 1 of seed {split.seed.external_id} is now accepted")
    assert page.locator("[data-figure=needs_curator]").inner_text() == "0"
    assert page.locator("#loop-empty").count() == 1
    assert page.locator("#funnel-table tr[data-key=curator_accepted] td.num").inner_text() == "1"
    assert page.locator("#funnel-table tr[data-key=accepted] td.num").inner_text() == "1"
    page.locator("#funnel").scroll_into_view_if_needed()
    screenshot(page, "decisions-dashboard-funnel")

    # Reopen the closed one: back in the list to decide.
    page.locator(f"#closed-list tr[data-rewrite='{rejected.pk}'] button:has-text('Reopen')").click()
    page.wait_for_selector("text=it is rejected again, waiting for your decision")
    assert page.locator(f"#revision-loop article[data-rewrite='{rejected.pk}']").count() == 1
    assert page.locator("#closed-empty").count() == 1
    assert page.locator("[data-figure=needs_curator]").inner_text() == "1"

    # The confirmation page: the rewrite, its votes, and the server's refusal of a blank reason.
    page.goto(f"{live_server.url}/rewrites/{rejected.pk}/close/")
    assert "0 valid, 4 invalid of a panel of 4" in page.locator("#tally").inner_text()
    assert "Which page?" in page.locator("#votes").inner_text()
    screenshot(page, "decisions-close-page")
    page.fill("#close-form textarea[name=note]", "Closing after all.")
    page.click("#close-form button[type=submit]")
    page.wait_for_url(f"{dashboard}#revision-loop")
    assert Rewrite.objects.get(pk=rejected.pk).status == "closed"

    rewrite = Rewrite.objects.get(pk=split.pk)
    assert (rewrite.status, rewrite.decided_by_curator) == ("accepted", True)
    kinds = list(
        Event.objects.filter(object_type="rewrite", object_id=rejected.pk)
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds[-3:] == [
        EventKind.REWRITE_CLOSED,
        EventKind.REWRITE_REOPENED,
        EventKind.REWRITE_CLOSED,
    ]


def test_adjudication_page_without_curator_acceptance(new_page, live_server):
    world = World(slug="noacc", reviewers=4, curator_may_accept=False)
    world.add_seeds(1)
    split = world.submitted(world.annotators[0])
    cast_panel(split, ["valid", "invalid", "valid", "invalid"])
    page = new_page(world.curator.username, "pw-" + world.curator.username)
    page.goto(f"{live_server.url}/campaigns/noacc/dashboard/")
    item = page.locator(f"#revision-loop article[data-rewrite='{split.pk}']")
    assert item.locator("button[value=accepted]").count() == 0
    assert "Accepting is off" in item.inner_text()
    page.goto(f"{live_server.url}/rewrites/{split.pk}/adjudicate/")
    assert page.locator("input[name=decision][value=accepted]").count() == 0
    assert page.locator("#accept-off").is_visible()
    # The reason is required by the server too (the browser's check removed).
    page.eval_on_selector("#adjudicate-form textarea[name=reason]", "el => el.required = false")
    page.click("#adjudicate-form button[type=submit]")
    page.wait_for_selector("#decide-error")
    assert "The decision is incomplete." in page.locator("#decide-error").inner_text()
    screenshot(page, "decisions-adjudicate-refused")
    page.fill("#adjudicate-form textarea[name=reason]", "Two reviewers found it unsolvable.")
    page.click("#adjudicate-form button[type=submit]")
    page.wait_for_url("**/campaigns/noacc/dashboard/#revision-loop")
    assert Rewrite.objects.get(pk=split.pk).status == "rejected"
