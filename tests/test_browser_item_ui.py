"""The item page and the revision diff in real Chromium (Playwright): a reviewer of revision 2
sees what changed since revision 1 and the curator's note (never the first panel); the curator
opens the seed's item page, switches the seed between rendered and raw, reads the diff,
adjudicates the split revision from the page and returns it for a revision, each time coming
back to the page with the outcome shown. Screenshots (1366x768) go to
test-artifacts/screenshots/."""

import pytest

from annotation.services import DraftInput, draft_save
from review.services import ballot_cast, rewrite_return, rewrite_submit

from .browser import screenshot
from .conftest import GOOD_DRAFT, World, cast_panel

pytestmark = pytest.mark.django_db(transaction=True)

SEED_TEXT = (
    "How do I split a list into chunks?\n\n"
    "```python\nxs = list(range(10))\n# want [[0, 1, 2], [3, 4, 5], ...]\n```\n\n"
    "I tried **slicing** but got lost. <script>window.__pwned = 1</script>"
)
FIRST = "Write a function `chunks(xs, n)`.\nIt splits a list."
SECOND = (
    "Write a Python function `chunks(xs, n)`.\nIt splits a list.\n"
    "Each chunk has `n` items; the last one may be shorter."
)
EARLY = ["zz-first-panel-a", "zz-first-panel-b", "zz-first-panel-c", "zz-first-panel-d"]


def login(new_page, user):
    return new_page(user.username, "pw-" + user.username)


def test_reviewer_sees_the_diff_and_curator_decides_from_the_item_page(new_page, live_server):
    world = World(slug="it", reviewers=5)
    world.add_seeds(1, text=SEED_TEXT, title="Chunks")
    first = world.submitted(text=FIRST)
    seed = first.seed
    cast_panel(first, ["invalid", "invalid", "invalid", "valid"], EARLY)
    draft = rewrite_return(rewrite_id=first.pk, actor=world.curator, note="Say it is Python.")
    draft_save(
        assignment_id=draft.assignment_id,
        actor=draft.author,
        data=DraftInput(**{**GOOD_DRAFT, "text": SECOND}),
        version=draft.version,
    )
    second = rewrite_submit(assignment_id=draft.assignment_id, actor=draft.author)
    ballots = list(second.ballots.select_related("reviewer").order_by("id"))
    for ballot, decision in zip(ballots[:3], ["valid", "valid", "invalid"], strict=True):
        ballot_cast(
            ballot_id=ballot.pk,
            actor=ballot.reviewer,
            decision=decision,
            reasons=[] if decision == "valid" else ["wrong_tags"],
            comment=f"second panel {decision}",
        )

    # The last reviewer of revision 2: the diff and the note, nothing of the first panel.
    last = ballots[3]
    page = login(new_page, last.reviewer)
    page.goto(f"{live_server.url}/ballots/{last.pk}/")
    context = page.locator("#revision-context")
    context.wait_for()
    assert "what changed since revision 1" in context.inner_text().lower()
    assert page.locator("#curator-note").inner_text().count("Say it is Python.") == 1
    assert context.locator("table.diff tr.diff-insert").count() == 2
    assert context.locator("table.diff ins").first.inner_text().strip() == "Python"
    body = page.content()
    for comment in EARLY:
        assert comment not in body
    assert "second panel" not in body  # blind until this reviewer votes
    context.scroll_into_view_if_needed()
    screenshot(page, "vote-revision-2-diff")
    page.check("input[name=decision][value=invalid]")
    page.check("input[name=reasons][value=unclear]")
    page.click("#cast-vote")
    page.wait_for_selector("#tally")
    assert "no consensus" in page.inner_text("#rewrite-status")
    page.context.close()

    # The curator's item page.
    page = login(new_page, world.curator)
    page.goto(f"{live_server.url}/campaigns/it/items/{seed.pk}/")
    page.wait_for_selector("#seed-text")
    rendered = page.locator("#seed-text .view-rendered")
    raw = page.locator("#seed-text .view-raw")
    assert rendered.is_visible() and not raw.is_visible()
    assert rendered.locator("strong").inner_text() == "slicing"  # markdown rendered
    screenshot(page, "item-page-top")
    page.locator("#seed-text label", has_text="Raw").click()
    assert raw.is_visible() and not rendered.is_visible()
    assert raw.inner_text() == SEED_TEXT  # the exact text, markup shown as text
    assert page.evaluate("window.__pwned") is None  # the seed's script never ran

    revision_2 = page.locator(f"#revision-{second.pk}")
    diff = revision_2.locator("table.diff")
    diff.scroll_into_view_if_needed()
    assert diff.is_visible()
    assert revision_2.locator("[data-role=status]").inner_text() == "no consensus"
    assert "Changes from revision 1" in revision_2.locator("figcaption").inner_text()
    assert revision_2.locator(".votes li").count() == 4
    assert page.locator(f"#revision-{first.pk} .votes blockquote").count() == 4
    screenshot(page, "item-page-revision-2")
    assert page.locator("#timeline tbody tr").count() > 20

    # Adjudicate the split from the page: rejected, with a reason; back on the page.
    revision_2.locator("summary", has_text="Adjudicate").click()
    form = revision_2.locator("form[data-action=adjudicate]")
    form.locator("input[name=decision][value=rejected]").check()
    form.locator("textarea[name=reason]").fill("Tags are wrong and the question stays vague.")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/campaigns/it/items/{seed.pk}/")
    revision_2 = page.locator(f"#revision-{second.pk}")
    assert revision_2.locator("[data-role=status]").inner_text() == "rejected"
    assert revision_2.locator("[data-role=curator-decided]").is_visible()
    assert "Tags are wrong" in revision_2.locator("[data-role=curator-note]").inner_text()
    assert "Adjudicated by a curator" in page.locator("#timeline").inner_text()
    assert "Tags are wrong" in page.locator("#notes").inner_text()

    # A curator-rejected revision can still be returned: from the page, back to the page.
    revision_2.locator("summary", has_text="Return for revision").click()
    form = revision_2.locator("form[data-action=return]")
    form.locator("textarea[name=note]").fill("Fix the tags, then it can pass.")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/campaigns/it/items/{seed.pk}/")
    assert "Returned to it-ann1 as revision 3" in page.locator("ul.messages").inner_text()
    assert page.locator(".item-revision").count() == 3
    revision_3 = page.locator(".item-revision[data-revision='3']")
    assert "Fix the tags" in revision_3.locator("[data-role=feedback]").inner_text()
    assert (
        "Fix the tags"
        in page.locator(f"#revision-{second.pk} [data-role=return-note]").inner_text()
    )
    revision_3.scroll_into_view_if_needed()
    screenshot(page, "item-page-after-return")
    page.locator("#timeline tbody tr").nth(14).scroll_into_view_if_needed()
    screenshot(page, "item-page-timeline")
