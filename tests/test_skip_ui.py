"""Skip, the submit confirmation and My work in real Chromium (Playwright): an annotator skips
a seed with a reason and lands on another; submits and sees the confirmation; opens My work
and a revision read-only; a returned rewrite cannot be skipped and is continued from My work.
Screenshots go to test-artifacts/screenshots/."""

import re

import pytest

from annotation.models import Assignment, Event, Rewrite
from review.services import rewrite_return

from .browser import screenshot
from .conftest import cast_panel
from .test_annotator_ui import GOOD_SEEDS, fill_everything, login, seed_world, wait_state

pytestmark = pytest.mark.django_db(transaction=True)

ASSIGNMENT_URL = re.compile(r"/assignments/(\d+)/$")


def test_skip_with_a_reason_then_submit_and_see_the_confirmation(new_page, live_server):
    world = seed_world(GOOD_SEEDS)
    annotator = world.annotators[0]
    page = login(new_page, annotator)
    page.click("#next-seed")
    page.wait_for_url(ASSIGNMENT_URL)
    first = Assignment.objects.get(annotator=annotator, status="active")
    first_url = page.url

    page.click("#skip")
    page.wait_for_selector("#skip-dialog[open]")
    page.fill("#skip-reason", "Outside my expertise: I do not know <CSS> grid.")
    assert page.inner_text("#skip-reason-left") == str(300 - 47)
    screenshot(page, "skip-dialog")
    page.click("#skip-confirm")
    page.wait_for_url(lambda url: url != first_url and ASSIGNMENT_URL.search(url) is not None)
    first.refresh_from_db()
    assert first.status == "skipped"
    assert first.skip_reason == "Outside my expertise: I do not know <CSS> grid."
    assert first.seed.status == "sampled"  # back in the pool for someone else
    assert Event.objects.filter(kind="assignment.skipped", object_id=first.pk).exists()
    # The next page confirms the skip, escaped as text.
    name = first.seed.title
    assert f"Skipped \u201c{name}\u201d" in page.inner_text("ul.messages")
    second = Assignment.objects.get(annotator=annotator, status="active")
    assert second.seed_id != first.seed_id

    text = (
        "A table `orders(id, customer_id, created_at)` has 50M rows. From Python, this query "
        'is slow:\n\n```python\ncur.execute("SELECT * FROM orders WHERE created_at > %s", '
        "(since,))\n```\n\nWhich index makes it fast, and why?"
    )
    fill_everything(page, text)
    wait_state(page, "saved")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(lambda url: f"/assignments/{second.pk}/" not in url)
    message = page.inner_text("ul.messages")
    assert f"Submitted revision 1 of \u201c{second.seed.title}\u201d for review." in message
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "submit-confirmation")
    # The skipped seed is never offered to this annotator again: the last seed is what is left.
    third = Assignment.objects.get(annotator=annotator, status="active")
    assert third.seed_id not in {first.seed_id, second.seed_id}

    # My work, from the queue's "submitted" card; the revision opens read-only.
    page.goto(f"{live_server.url}/campaigns/ui/queue/")
    page.click("#submitted-link")
    page.wait_for_url(re.compile(r"/campaigns/ui/my-work/$"))
    rewrite = Rewrite.objects.get(assignment=second)
    item = page.locator(f"#rewrite-{rewrite.pk}")
    assert "In review" in item.inner_text()
    screenshot(page, "my-work")
    page.click("#tab-skipped")
    page.wait_for_url(re.compile(r"tab=skipped"))
    assert "Outside my expertise: I do not know <CSS> grid." in page.inner_text("table.list")
    screenshot(page, "my-work-skipped")
    page.click("#tab-all")
    page.click(f"#rewrite-{rewrite.pk} h2 a")
    page.wait_for_url(re.compile(rf"/rewrites/{rewrite.pk}/view/$"))
    assert page.locator("textarea").count() == 0
    assert "orders(id, customer_id, created_at)" in page.inner_text("#rewrite-body")
    assert page.locator("#rewrite-body code").count() >= 2  # rendered markdown
    assert "In review" in page.inner_text("#outcome")
    tags = page.inner_text("#tags")
    assert "Medium" in tags and "python, ts" in tags
    screenshot(page, "my-rewrite")


def test_a_returned_rewrite_cannot_be_skipped_and_is_continued_from_my_work(new_page, live_server):
    world = seed_world(GOOD_SEEDS)
    annotator = world.annotators[0]
    rewrite = world.submitted(annotator)
    cast_panel(
        rewrite,
        ["invalid", "invalid", "invalid", "valid"],
        ["Which Python version?", "", "Name the input size.", ""],
    )
    new = rewrite_return(rewrite_id=rewrite.pk, actor=world.curator, note="Please say n.")
    page = login(new_page, annotator)
    page.goto(f"{live_server.url}/campaigns/ui/my-work/?tab=returned")
    item = page.locator(f"#rewrite-{rewrite.pk}")
    assert "Please say n." in item.inner_text() and "Name the input size." in item.inner_text()
    for reviewer in world.reviewers:
        assert reviewer.username not in page.content()
    screenshot(page, "my-work-returned")
    item.locator("a.button").click()
    page.wait_for_url(re.compile(rf"/assignments/{new.assignment_id}/$"))
    assert page.is_disabled("#skip")
    assert "cannot be skipped" in page.inner_text("#skip-note")
    page.keyboard.press("Alt+k")  # the shortcut does nothing either
    assert page.locator("#skip-dialog[open]").count() == 0
    assert Assignment.objects.get(pk=new.assignment_id).status == "active"
