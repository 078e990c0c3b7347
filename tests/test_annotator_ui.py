"""The annotator's web UI in real Chromium (Playwright): log in, claim, write, tag, submit;
hostile seeds render inert; autosave survives going offline; two tabs conflict visibly; submit
names what is missing; reject moves on; no access to other people's work. Screenshots of the
queue and annotate pages (1366x768) go to test-artifacts/screenshots/."""

import json
import re

import pytest

from annotation.models import Assignment, Rewrite
from annotation.services import seeds_import, seeds_sample
from annotation.tokens import count_tokens

from .browser import screenshot
from .conftest import World

pytestmark = pytest.mark.django_db(transaction=True)

GOOD_SEEDS = [
    {
        "id": "py-merge",
        "title": "Merge two sorted lists",
        "text": "I have two sorted lists in Python and want one sorted list.\n\n"
        "```python\na = [1, 4, 9]\nb = [2, 3, 10]\n```\n\nsorted(a + b) feels slow. Better way?",
        "subcategory": "Algorithm Design and Implementation",
        "source_url": "https://stackoverflow.com/q/464342",
        "answer": "Use `heapq.merge(a, b)`.",
    },
    {
        "id": "sql-index",
        "title": "Slow join",
        "text": "My PostgreSQL join on orders and customers is slow. Which index helps?",
        "subcategory": "Database Management",
    },
    {
        "id": "css-center",
        "title": "Center a div",
        "text": "How do I center a div vertically and horizontally with CSS grid?",
        "subcategory": "Frontend Technologies",
    },
]

# Seeds are scraped web pages: every classic way to run script through markdown or HTML.
XSS_PAYLOADS = [
    "<script>window.__xss = 'script'; alert('script')</script>",
    "<img src=x onerror=\"window.__xss='img'; alert('img')\">",
    "<svg onload=\"window.__xss='svg'; alert('svg')\"><circle r=10 /></svg>",
    "<svg><script>window.__xss='svg-script'</script></svg>",
    "[click me](javascript:window.__xss='link';alert('link'))",
    "<a href=\"javascript:window.__xss='a'\">a link</a>",
    "![pic](javascript:window.__xss='imgmd')",
    "<iframe src=\"javascript:window.__xss='iframe'\"></iframe>",
    "<body onload=\"window.__xss='body'\">",
    "<details open ontoggle=\"window.__xss='details'\">x</details>",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"window.__xss='mxss'\">",
    "[ref]: javascript:window.__xss='ref'\n\n[ref]",
    '<a href="data:text/html,<script>alert(1)</script>">data link</a>',
    "```html\n<script>window.__xss='fenced'</script>\n```",
    "<input autofocus onfocus=\"window.__xss='focus'\">",
    "<style>body{background:url(javascript:alert(1))}</style>",
]


LOCAL_COPIES = """(pk) => Object.keys(localStorage)
    .filter((k) => k.startsWith(`codearena:draft:${pk}:`))
    .map((k) => localStorage.getItem(k))"""


def seed_world(seeds: list[dict]) -> World:
    world = World(slug="ui")
    seeds_import(campaign=world.campaign, lines=[json.dumps(s) for s in seeds])
    seeds_sample(campaign=world.campaign, size=len(seeds), seed=1)
    return world


def login(new_page, user):
    return new_page(user.username, "pw-" + user.username)


def wait_state(page, state: str, timeout: int = 10_000) -> None:
    page.wait_for_selector(f"#save-state[data-state={state}]", timeout=timeout)


def fill_everything(page, text: str) -> None:
    page.fill("#rewrite-text", text)
    page.click("input[name=difficulty][value=medium]")
    page.wait_for_selector("#language-suggestions button:has-text('python')")
    page.click("#language-suggestions button:has-text('python')")
    page.fill("#language-input", "ts")  # an alias, resolved to the vocabulary name
    page.press("#language-input", "Enter")
    page.wait_for_selector("#natural-suggestion button:has-text('en')")
    page.click("#natural-suggestion button")
    for item in ["clear", "ethical", "solvable"]:
        page.check(f"input[data-item={item}]")


def test_annotator_logs_in_claims_writes_tags_and_submits(new_page, live_server):
    world = seed_world(GOOD_SEEDS)
    annotator = world.annotators[0]
    page = login(new_page, annotator)
    # An annotator lands on their queue.
    assert page.url.endswith("/campaigns/ui/queue/")
    page.wait_for_selector("h1:has-text('My queue')")
    screenshot(page, "queue-empty")
    page.click("#next-seed")
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    assignment = Assignment.objects.get(annotator=annotator)
    seed = assignment.seed
    # The subcategory is pre-filled from the seed, and the seed is rendered with its code.
    assert page.input_value("#subcategory") == seed.subcategory.name
    assert page.locator("#seed-body").inner_text().strip() != ""
    # An untouched draft does not claim to be saved.
    wait_state(page, "saved")
    assert page.locator("#save-state").inner_text() == "Nothing to save yet"
    # Typing and taking it back before the autosave leaves nothing saved, and says so.
    page.locator("#rewrite-text").press("x")
    page.locator("#rewrite-text").press("Backspace")
    assert page.locator("#save-state").inner_text() == "Nothing to save yet"

    text = (
        "Given two sorted Python lists `a` and `b`, write a function `merge(a, b)` that returns "
        "one sorted list in O(len(a) + len(b)) time without calling sorted().\n\n"
        "```python\nassert merge([1, 4, 9], [2, 3, 10]) == [1, 2, 3, 4, 9, 10]\n```"
    )
    fill_everything(page, text)
    wait_state(page, "saved")
    tokens = count_tokens(text, "o200k_base")
    page.wait_for_function(
        f"() => document.getElementById('token-count').textContent === '{tokens}'"
    )
    assert page.locator("#missing li").count() == 0
    assert page.locator("#preview pre.highlight").count() == 1
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "annotate")

    page.keyboard.press("Control+Enter")
    # Straight to the next seed.
    page.wait_for_url(lambda url: f"/assignments/{assignment.pk}/" not in url)
    rewrite = Rewrite.objects.get(assignment=assignment)
    assert rewrite.status == "submitted"
    assert rewrite.text == text
    assert rewrite.difficulty == "medium"
    assert [link.language.name for link in rewrite.language_links.order_by("position")] == [
        "python",
        "ts",
    ]
    assert rewrite.natural_language == "en"
    assert rewrite.subcategory == seed.subcategory
    assert (rewrite.check_clear, rewrite.check_ethical, rewrite.check_solvable) == (True,) * 3
    assert rewrite.question_tokens == count_tokens(text, "o200k_base")
    assert rewrite.ballots.count() == 4

    page.goto(f"{live_server.url}/campaigns/ui/queue/")
    page.wait_for_selector("h1:has-text('My queue')")
    screenshot(page, "queue")


def test_hostile_seed_renders_inert(new_page, live_server):
    body = "\n\n".join(XSS_PAYLOADS)
    world = seed_world(
        [
            {
                "id": "xss",
                "title": "<script>alert('title')</script>",
                "text": body,
                "subcategory": "Security",
                "answer": body,
            }
        ]
    )
    page = login(new_page, world.annotators[0])
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.click("#next-seed")
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    # The payloads also go through the live preview.
    page.fill("#rewrite-text", body)
    page.wait_for_function(
        "() => document.getElementById('preview').textContent.includes('a link')"
    )
    page.wait_for_timeout(500)
    assert dialogs == []
    assert page.evaluate("window.__xss") is None
    page.click("details.answer summary")
    for pane in ["#seed-body", "#seed-answer", "#preview"]:
        found = page.evaluate(
            """(sel) => {
                const root = document.querySelector(sel);
                const bad = [];
                root.querySelectorAll('*').forEach((el) => {
                    if (['SCRIPT', 'IFRAME', 'SVG', 'IMG', 'STYLE', 'INPUT', 'MATH'].includes(
                        el.tagName.toUpperCase())) bad.push(el.tagName);
                    for (const a of el.attributes) {
                        if (a.name.startsWith('on')) bad.push(a.name);
                        if (/^\\s*(javascript|data):/i.test(a.value)) bad.push(a.value);
                    }
                });
                return bad;
            }""",
            pane,
        )
        assert found == [], (pane, found)
    # The payloads are shown as text, so the annotator can judge the seed.
    assert "<script>" in page.locator("#seed-body").inner_text()
    assert "<script>" in page.locator(".seed-title").inner_text()


def test_offline_typing_is_kept_and_the_state_tells_the_truth(new_page, live_server):
    world = seed_world(GOOD_SEEDS)
    page = login(new_page, world.annotators[0])
    page.click("#next-seed")
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    assignment = Assignment.objects.get()
    page.fill("#rewrite-text", "First part, typed online.")
    wait_state(page, "saved")
    assert Rewrite.objects.get(assignment=assignment).text == "First part, typed online."

    page.context.set_offline(True)
    page.type("#rewrite-text", " Second part, typed offline.")
    wait_state(page, "offline")
    page.wait_for_timeout(2500)  # an autosave attempt has failed by now
    assert page.locator("#save-state").get_attribute("data-state") == "offline"
    assert "device" in page.locator("#save-state").inner_text()
    assert Rewrite.objects.get(assignment=assignment).text == "First part, typed online."
    stored = page.evaluate(LOCAL_COPIES, assignment.pk)
    assert len(stored) == 1 and "Second part, typed offline." in stored[0]

    page.context.set_offline(False)
    wait_state(page, "saved")
    full = "First part, typed online. Second part, typed offline."
    assert Rewrite.objects.get(assignment=assignment).text == full
    assert page.input_value("#rewrite-text") == full
    assert page.evaluate(LOCAL_COPIES, assignment.pk) == []


def test_two_tabs_editing_one_draft_show_the_conflict_and_lose_nothing(new_page, live_server):
    world = seed_world(GOOD_SEEDS)
    first = login(new_page, world.annotators[0])
    first.click("#next-seed")
    first.wait_for_url(re.compile(r"/assignments/\d+/$"))
    first.fill("#rewrite-text", "Version from the first tab.")
    wait_state(first, "saved")
    second = first.context.new_page()
    second.goto(first.url)
    second.wait_for_selector("#save-state[data-state=saved]")
    assert second.input_value("#rewrite-text") == "Version from the first tab."

    first.fill("#rewrite-text", "The first tab moved on.")
    wait_state(first, "saved")
    second.fill("#rewrite-text", "The second tab's own words.")
    wait_state(second, "conflict")
    assert second.is_visible("#conflict")
    assert second.inner_text("#conflict-mine") == "The second tab's own words."
    assert second.inner_text("#conflict-theirs") == "The first tab moved on."
    rewrite = Rewrite.objects.get()
    assert rewrite.text == "The first tab moved on."  # nothing overwritten silently
    screenshot(second, "annotate-conflict")

    # While the choice is open the form is frozen, so nothing typed can fall between versions.
    assert second.evaluate("document.getElementById('rewrite-text').readOnly")

    second.click("#keep-mine")
    wait_state(second, "saved")
    rewrite.refresh_from_db()
    assert rewrite.text == "The second tab's own words." and rewrite.version == 3
    assert not second.evaluate("document.getElementById('rewrite-text').readOnly")


def test_keep_mine_restores_the_whole_draft_after_a_reload(new_page, live_server):
    world = seed_world(GOOD_SEEDS)
    page = login(new_page, world.annotators[0])
    page.click("#next-seed")
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    page.fill("#rewrite-text", "Saved once.")
    wait_state(page, "saved")
    # Offline, the annotator tags the draft and rewrites it...
    page.context.set_offline(True)
    page.fill("#rewrite-text", "Typed on the laptop while offline.")
    page.click("input[name=difficulty][value=hard]")
    page.check("input[data-item=clear]")
    wait_state(page, "offline")
    # ...while another device saves a newer version.
    rewrite = Rewrite.objects.get()
    from annotation.services import DraftInput, draft_save

    draft_save(
        assignment_id=rewrite.assignment_id,
        actor=world.annotators[0],
        data=DraftInput(text="Typed on the phone.", difficulty="easy"),
        version=rewrite.version,
    )
    page.context.set_offline(False)
    wait_state(page, "conflict")
    page.reload()
    # After a reload the choice is asked again, never decided silently.
    wait_state(page, "conflict")
    assert page.inner_text("#conflict-mine") == "Typed on the laptop while offline."
    page.click("#keep-mine")
    wait_state(page, "saved")
    rewrite.refresh_from_db()
    assert rewrite.text == "Typed on the laptop while offline."
    assert rewrite.difficulty == "hard" and rewrite.check_clear


def test_saved_is_shown_only_after_the_server_answers(new_page, live_server):
    world = seed_world(GOOD_SEEDS)
    page = login(new_page, world.annotators[0])
    page.click("#next-seed")
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    held = []
    page.route("**/draft/", lambda route: held.append(route))
    page.fill("#rewrite-text", "A slow server.")
    wait_state(page, "saving")
    page.wait_for_timeout(1500)
    assert page.get_attribute("#save-state", "data-state") == "saving"
    assert not Rewrite.objects.exists()
    # Submit pressed while the save is in flight waits for it (it does not fail).
    fill_everything(page, "A slow server, and a complete rewrite:\n\n```python\nx = 1\n```")
    for route in held:
        route.continue_()
    page.unroute("**/draft/")
    wait_state(page, "saved")
    url = page.url
    page.keyboard.press("Control+Enter")
    page.wait_for_url(lambda u: u != url)
    assert Rewrite.objects.get().status == "submitted"


def test_a_reload_restores_what_the_server_never_received(new_page, live_server):
    world = seed_world(GOOD_SEEDS)
    page = login(new_page, world.annotators[0])
    page.click("#next-seed")
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    page.context.route("**/draft/", lambda route: route.abort())  # every save fails
    page.fill("#rewrite-text", "Words the server never saw.")
    wait_state(page, "offline")
    assert not Rewrite.objects.exists()
    # A crash or a closed tab: the page goes away with nothing saved (the save on leaving is
    # blocked too, as it would be without a network), then the annotator comes back.
    page.evaluate("window.addEventListener('pagehide', (e) => e.stopImmediatePropagation(), true)")
    page.reload()
    wait_state(page, "offline")
    assert page.input_value("#rewrite-text") == "Words the server never saw."
    page.context.unroute("**/draft/")
    wait_state(page, "saved", timeout=15_000)  # the retry saves it
    assert page.input_value("#rewrite-text") == "Words the server never saw."
    assert Rewrite.objects.get().text == "Words the server never saw."


def test_page_shortcuts_do_not_fire_inside_a_dialog(new_page, live_server):
    world = seed_world(GOOD_SEEDS)
    page = login(new_page, world.annotators[0])
    page.click("#next-seed")
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    fill_everything(page, "Complete:\n\n```python\nx = 1\n```")
    wait_state(page, "saved")
    page.keyboard.press("Alt+r")
    page.fill("#reject-note", "Thinking")
    page.keyboard.press("Control+Enter")
    page.keyboard.press("Alt+1")
    page.wait_for_timeout(800)
    assert Rewrite.objects.get().status == "draft"
    assert page.is_checked("input[name=difficulty][value=medium]")
    page.keyboard.press("Escape")
    assert not page.is_visible("#reject-dialog")


def test_submit_is_refused_with_each_missing_item_named(new_page, live_server):
    world = seed_world(GOOD_SEEDS)
    page = login(new_page, world.annotators[0])
    page.click("#next-seed")
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    page.fill("#rewrite-text", "Only the text is written so far.")
    wait_state(page, "saved")
    assert page.is_disabled("#submit")
    missing = page.locator("#missing li").all_inner_texts()
    assert missing == [
        "choose a difficulty",
        "add at least one programming language",
        "choose the natural language",
        'confirm "clear"',
        'confirm "ethical"',
        'confirm "solvable"',
    ]
    page.keyboard.press("Control+Enter")
    assert "Not yet: choose a difficulty" in page.inner_text("#action-error")
    assert Rewrite.objects.get().status == "draft"


def test_reject_with_a_reason_moves_to_the_next_seed(new_page, live_server):
    world = seed_world(GOOD_SEEDS)
    page = login(new_page, world.annotators[0])
    page.click("#next-seed")
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    first_url = page.url
    page.keyboard.press("Alt+r")
    page.select_option("#reject-reason", "not_self_contained")
    page.fill("#reject-note", "Refers to a screenshot we do not have.")
    page.click("#reject-confirm")
    page.wait_for_url(lambda url: url != first_url and "/assignments/" in url)
    rejected = Assignment.objects.get(status="rejected")
    assert rejected.reject_reason == "not_self_contained"
    assert rejected.reject_note == "Refers to a screenshot we do not have."
    assert Assignment.objects.filter(status="active").count() == 1


def test_annotator_cannot_open_others_work_or_reviewer_and_curator_pages(new_page, live_server):
    world = seed_world(GOOD_SEEDS)
    from annotation.services import assignment_claim_next

    theirs = assignment_claim_next(campaign=world.campaign, actor=world.annotators[1])
    page = login(new_page, world.annotators[0])
    response = page.goto(f"{live_server.url}/assignments/{theirs.pk}/")
    assert response.status == 404
    response = page.goto(f"{live_server.url}/api/v1/campaigns/ui/ballots/")
    assert response.status == 403
    response = page.goto(f"{live_server.url}/campaigns/ui/releases/")
    assert response.status == 403
    response = page.goto(f"{live_server.url}/campaigns/other/queue/")
    assert response.status == 404
