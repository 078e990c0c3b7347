"""The review loop in real Chromium (Playwright): four reviewers log in and vote a rewrite to
acceptance with the keyboard, the outcome shows on the curator's dashboard, a 2-2 split appears
in the revision list, the curator returns it, the author reads the comments, revises and
resubmits, and a fresh panel votes. Screenshots of the ballot queue, the vote page (before and
after voting) and the dashboard (1366x768) go to test-artifacts/screenshots/."""

import json
import re

import pytest

from annotation.models import Rewrite
from annotation.services import seeds_import, seeds_sample

from .browser import screenshot
from .conftest import GOOD_DRAFT, World

pytestmark = pytest.mark.django_db(transaction=True)

SEEDS = [
    {
        "id": "so-merge",
        "title": "Merge two sorted lists",
        "text": "I have two sorted lists `a` and `b`. `sorted(a + b)` feels slow; better way?",
        "subcategory": "Algorithm Design and Implementation",
    },
    {
        "id": "so-regex",
        "title": "Regex for dates",
        "text": "What regex matches 2024-01-31 but not 2024-13-01?",
        "subcategory": "Algorithm Design and Implementation",
    },
    {
        "id": "so-spare",
        "title": "Spare seed",
        "text": "How do I reverse a linked list in place?",
        "subcategory": "Data Structures",
    },
]
ACCEPTED_TEXT = (
    "Write a Python function `merge(a, b)` that merges two sorted lists of integers into one "
    "sorted list in O(len(a) + len(b)) time, without calling `sorted()`.\n\n"
    "```python\nassert merge([1, 4, 9], [2, 3, 10]) == [1, 2, 3, 4, 9, 10]\n```"
)
SPLIT_TEXT = "Write a regex that matches ISO dates, valid months only."


def login(new_page, user):
    return new_page(user.username, "pw-" + user.username)


def vote_in_page(page, *, decision: str, comment: str = "") -> None:
    """Vote on the open ballot with the keyboard: V or I, a reason for invalid, Ctrl+Enter."""
    page.keyboard.press("KeyV" if decision == "valid" else "KeyI")
    if decision == "invalid":
        page.check("input[name=reasons][value=not_self_contained]")
    if comment:
        page.fill("#comment", comment)
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#tally")


def test_four_reviewers_vote_split_is_returned_revised_and_voted_again(new_page, live_server):
    world = World(slug="rv", reviewers=4)
    seeds_import(campaign=world.campaign, lines=[json.dumps(s) for s in SEEDS])
    seeds_sample(campaign=world.campaign, size=len(SEEDS), seed=1)
    author_a, author_b = world.annotators[0], world.annotators[1]
    accepted = world.submitted(author_a, text=ACCEPTED_TEXT)
    split = world.submitted(author_b, text=SPLIT_TEXT)
    reviewers = world.reviewers

    # Each reviewer works through the queue: the accepted candidate first (oldest), then the
    # one the panel splits on (two valid, two invalid with comments).
    for i, reviewer in enumerate(reviewers):
        page = login(new_page, reviewer)
        assert page.url.endswith("/campaigns/rv/ballots/")  # a reviewer lands on their ballots
        page.wait_for_selector("#pending-ballots")
        assert page.locator("#pending-ballots tbody tr").count() == 2
        if i == 0:
            screenshot(page, "review-queue")
        page.keyboard.press("n")
        page.wait_for_url(re.compile(r"/ballots/\d+/$"))
        # Blind: no tally, no other votes, no author before I vote.
        assert page.locator("#tally").count() == 0
        content = page.content()
        assert author_a.username not in content
        for other in reviewers:
            if other != reviewer:
                assert other.username not in content
        assert "merge(a, b)" in page.locator("#rewrite-body").inner_text()
        assert page.locator("#rewrite-body pre.highlight").count() == 1
        # The original seed beside it (claim-next picks which seed each rewrite came from).
        assert page.locator(".seed-title").inner_text() == accepted.seed.title
        if i == 3:
            screenshot(page, "vote-page")
        vote_in_page(page, decision="valid", comment=f"fine by reviewer {i + 1}")
        # After voting: the tally so far and the author.
        tally = page.locator("#tally").inner_text()
        assert f"{i + 1} valid" in tally
        assert page.locator("#author").inner_text() == author_a.username
        if i == 3:
            assert page.locator("#rewrite-status").inner_text() == "accepted"
            screenshot(page, "vote-page-after")
        page.keyboard.press("n")
        page.wait_for_url(re.compile(r"/ballots/\d+/$"))
        assert "ISO dates" in page.locator("#rewrite-body").inner_text()
        if i < 2:
            vote_in_page(page, decision="valid")
        else:
            vote_in_page(page, decision="invalid", comment=f"Which year range? (reviewer {i + 1})")
        page.context.close()

    accepted.refresh_from_db()
    split.refresh_from_db()
    assert accepted.status == "accepted"
    assert split.status == "no_consensus"

    # The curator's dashboard shows the fourth vote's outcome and the split in the revision list.
    page = login(new_page, world.curator)
    page.goto(f"{live_server.url}/campaigns/rv/dashboard/")
    assert page.locator("#funnel-table tr[data-key=accepted] td.num").inner_text() == "1"
    assert page.locator("#funnel-table tr[data-key=no_consensus] td.num").inner_text() == "1"
    assert page.locator(f"#split-list tr[data-rewrite='{split.pk}']").count() == 1
    item = page.locator(f"#revision-loop article[data-rewrite='{split.pk}']")
    assert "Which year range? (reviewer 3)" in item.inner_text()
    assert page.locator("svg rect.bar").count() > 0
    screenshot(page, "dashboard")
    page.locator("#coverage").scroll_into_view_if_needed()
    screenshot(page, "dashboard-coverage")
    page.locator("#revision-loop").scroll_into_view_if_needed()
    screenshot(page, "dashboard-revision-loop")
    item.locator("textarea[name=note]").fill("Say which years count as valid.")
    item.locator("button:has-text('Return for revision')").click()
    page.wait_for_selector(f"text=Returned to {author_b.username} as revision 2")
    assert page.locator(f"#revision-loop article[data-rewrite='{split.pk}']").count() == 0
    page.context.close()

    # The author sees the comments (not who wrote them), revises and resubmits.
    revision = Rewrite.objects.get(previous=split)
    page = login(new_page, author_b)
    page.wait_for_selector("text=Returned to you for revision")
    queue = page.content()
    assert "Say which years count as valid." in queue
    assert "Which year range? (reviewer 4)" in queue
    assert not any(r.username in queue for r in reviewers)
    page.goto(f"{live_server.url}/assignments/{revision.assignment_id}/")
    page.wait_for_selector("#feedback")
    assert "Which year range? (reviewer 3)" in page.locator("#feedback").inner_text()
    revised = SPLIT_TEXT + " Accept years 1900 to 2099 and reject month 13 or day 32."
    page.fill("#rewrite-text", revised)
    page.wait_for_selector("#save-state[data-state=saved]")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(lambda url: f"/assignments/{revision.assignment_id}/" not in url)
    page.context.close()
    revision.refresh_from_db()
    assert revision.status == "submitted" and revision.text == revised
    assert revision.revision == 2

    # A fresh panel: four new ballots on the new revision; the old votes stay on revision 1.
    fresh = list(revision.ballots.select_related("reviewer").order_by("id"))
    assert len(fresh) == 4 and all(b.status == "pending" for b in fresh)
    assert split.ballots.filter(status="cast").count() == 4
    for i, ballot in enumerate(fresh):
        page = login(new_page, ballot.reviewer)
        page.goto(f"{live_server.url}/campaigns/rv/ballots/next/")
        page.wait_for_url(f"**/ballots/{ballot.pk}/")
        assert "1900 to 2099" in page.locator("#rewrite-body").inner_text()
        assert page.locator("#tally").count() == 0  # blind again on the new revision
        vote_in_page(page, decision="valid" if i < 3 else "invalid")
        page.context.close()
    revision.refresh_from_db()
    assert revision.status == "accepted"

    page = login(new_page, world.curator)
    page.goto(f"{live_server.url}/campaigns/rv/dashboard/")
    assert page.locator("#funnel-table tr[data-key=accepted] td.num").inner_text() == "2"
    assert page.locator("#funnel-table tr[data-key=returned] td.num").inner_text() == "1"
    assert page.locator("#loop-empty").count() == 1


def test_vote_page_shortcuts_and_guidelines_dialog(new_page, live_server):
    world = World(slug="kb", reviewers=4, guidelines="Judge **self-containment** first.")
    seeds_import(campaign=world.campaign, lines=[json.dumps(SEEDS[0])])
    seeds_sample(campaign=world.campaign, size=1, seed=1)
    rewrite = world.submitted(world.annotators[0], text=GOOD_DRAFT["text"])
    ballot = rewrite.ballots.select_related("reviewer").order_by("id").first()
    page = login(new_page, ballot.reviewer)
    page.goto(f"{live_server.url}/ballots/{ballot.pk}/")
    page.keyboard.press("KeyI")
    assert page.is_checked("input[name=decision][value=invalid]")
    # Typing in the comment box does not trigger shortcuts.
    page.fill("#comment", "")
    page.focus("#comment")
    page.keyboard.type("vin")
    assert page.is_checked("input[name=decision][value=invalid]")
    assert page.url.endswith(f"/ballots/{ballot.pk}/")
    # Invalid without a reason is refused by the server, which names what is missing.
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#vote-error")
    assert "give at least one reason" in page.locator("#vote-error").inner_text()
    assert page.input_value("#comment") == "vin"
    ballot.refresh_from_db()
    assert ballot.status == "pending"
    page.click("#open-guidelines")
    assert "self-containment" in page.locator("#guidelines-dialog").inner_text()
    page.keyboard.press("KeyV")  # ignored while the dialog is open
    assert page.is_checked("input[name=decision][value=invalid]")
    page.keyboard.press("Escape")
    page.keyboard.press("KeyV")
    assert page.is_checked("input[name=decision][value=valid]")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#tally")
    ballot.refresh_from_db()
    assert ballot.decision == "valid" and ballot.comment == "vin"
