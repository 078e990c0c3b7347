"""Seeds and code blocks in real Chromium (Playwright), measured rather than read from the CSS:
the first line of a multi-line code block starts at the same x as the others; the JSX a `js`
fence cannot lex has no red box; code pasted without fences is a focusable <pre>; the seed's
rendered / raw switch shows the exact text (markup as text), switches back, and is remembered
across reloads and pages (annotate, vote, item, my-rewrite). Screenshots (1366x768) go to
test-artifacts/screenshots/."""

import pytest
from django.urls import reverse

from annotation.models import Seed

from .browser import screenshot
from .conftest import World

pytestmark = pytest.mark.django_db(transaction=True)

# A seed as scraped: it starts with a newline, has a fenced Python block whose lines are
# indented differently, a `js` fence with JSX in it, code pasted without a fence and markup
# that must stay text.
SEED_TEXT = (
    "\nHow do I flatten nested lists?\n\n"
    "```python\n"
    "def flatten(xs):\n"
    "    for x in xs:\n"
    "        if isinstance(x, list):\n"
    "            yield from flatten(x)\n"
    "        else:\n"
    "            yield x\n"
    "```\n\n"
    "My React table:\n\n"
    "```js\n"
    "const cells = rows.map((row) => <TableCell key={row.id}>{row.name}</TableCell>);\n"
    "return <Table>{cells}</Table>;\n"
    "```\n\n"
    "And the C version I tried:\n\n"
    "int sum(int *xs, int n) {\n"
    "    int total = 0;\n"
    "    for (int i = 0; i < n; i++) total += xs[i];\n"
    "    return total;\n"
    "}\n\n"
    "It prints <script>window.__pwned = 1</script> & nothing else."
)

# For each <pre> in `root`: the x of the first character of every non-empty line, measured
# with a Range over that character.
LINE_STARTS = """(root) => [...document.querySelectorAll(root + ' pre')].map((pre) => {
    const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
    const starts = [];
    let atLineStart = true;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (let i = 0; i < node.data.length; i++) {
            const ch = node.data[i];
            if (ch === '\\n') { atLineStart = true; continue; }
            if (atLineStart) {
                const range = document.createRange();
                range.setStart(node, i);
                range.setEnd(node, i + 1);
                starts.push(range.getBoundingClientRect().left);
                atLineStart = false;
            }
        }
    }
    return starts;
})"""

# Elements under `root` drawn with a reddish border.
RED_BORDERS = """(root) => [...document.querySelectorAll(root + ' *')].filter((el) => {
    const style = getComputedStyle(el);
    return ['Top', 'Right', 'Bottom', 'Left'].some((side) => {
        if (parseFloat(style['border' + side + 'Width']) === 0) return false;
        if (style['border' + side + 'Style'] === 'none') return false;
        const [r, g, b] = style['border' + side + 'Color'].match(/\\d+/g).map(Number);
        return r > 150 && g < 100 && b < 100;
    });
}).map((el) => el.outerHTML.slice(0, 80))"""


def login(new_page, user):
    return new_page(user.username, "pw-" + user.username)


def raw_text(page, box: str) -> str:
    return page.locator(f"{box} .view-raw").evaluate("(el) => el.textContent")


def assert_first_lines_aligned(page, root: str) -> None:
    blocks = page.evaluate(LINE_STARTS, root)
    multi = [starts for starts in blocks if len(starts) >= 2]
    assert len(multi) >= 3, blocks  # python, js and the unfenced C block
    for starts in multi:
        assert max(starts) - min(starts) < 0.5, starts


def test_code_blocks_and_the_raw_view_on_the_annotate_page(new_page, live_server):
    world = World(slug="sd")
    world.add_seeds(1, text=SEED_TEXT, title="Flatten")
    seed = Seed.objects.get(campaign=world.campaign)
    assert seed.body == SEED_TEXT  # stored as scraped, leading newline included
    assignment = world.claim()
    page = login(new_page, assignment.annotator)
    page.goto(f"{live_server.url}{reverse('annotate', kwargs={'pk': assignment.pk})}")
    body = page.locator("#seed-body")
    body.wait_for()

    # The first line of each block starts where the others start (the inline code's padding
    # used to push it 4.8 px right).
    assert_first_lines_aligned(page, "#seed-body")

    # The JSX is an error token for the js lexer, drawn without a box.
    assert body.locator(".hl-err").count() >= 1
    assert page.evaluate(RED_BORDERS, "#seed-body") == []

    # The C code pasted without a fence is a block, focusable with the keyboard; prose stays.
    blocks = body.locator("pre")
    assert blocks.count() == 3
    c_block = blocks.nth(2)
    assert c_block.inner_text().startswith("int sum(int *xs, int n) {\n    int total = 0;")
    assert [blocks.nth(i).get_attribute("tabindex") for i in range(3)] == ["0", "0", "0"]
    assert body.locator("p", has_text="And the C version I tried:").count() == 1
    assert "<script>" in body.locator("p").last.inner_text()
    c_block.focus()
    assert page.evaluate("document.activeElement.tagName") == "PRE"
    screenshot(page, "seed-rendered")

    # Raw: the exact text, markup as text; the rendered view is hidden.
    box = "#seed-text"
    raw = page.locator(f"{box} .view-raw")
    assert not raw.is_visible()
    page.locator(f"{box} label", has_text="Raw").click()
    assert raw.is_visible() and not body.is_visible()
    assert raw_text(page, box) == SEED_TEXT
    assert raw.get_attribute("tabindex") == "0"
    assert page.evaluate("window.__pwned") is None
    screenshot(page, "seed-raw")

    # Remembered across a reload; back to rendered, remembered too.
    page.reload()
    page.wait_for_function("() => document.querySelector('#seed-text .view-raw').offsetParent")
    assert raw.is_visible() and not body.is_visible()
    page.locator(f"{box} label", has_text="Rendered").click()
    assert body.is_visible() and not raw.is_visible()
    assert_first_lines_aligned(page, "#seed-body")
    page.reload()
    body.wait_for()
    page.wait_for_timeout(300)  # the module has run; it must leave the view rendered
    assert body.is_visible() and not raw.is_visible()


def test_seed_panes_share_the_switch_on_vote_item_and_my_rewrite_pages(new_page, live_server):
    world = World(slug="sv")
    world.add_seeds(1, text=SEED_TEXT, title="Flatten", answer="Use\n\nimport itertools")
    rewrite = world.submitted()
    ballot = rewrite.ballots.select_related("reviewer").first()
    pages = [
        ("vote", ballot.reviewer, reverse("vote-page", kwargs={"pk": ballot.pk})),
        (
            "item",
            world.curator,
            reverse("item-page", kwargs={"slug": "sv", "seed_id": rewrite.seed_id}),
        ),
        ("my-rewrite", rewrite.author, reverse("my-rewrite-page", kwargs={"pk": rewrite.pk})),
    ]
    for name, user, url in pages:
        page = login(new_page, user)
        page.goto(f"{live_server.url}{url}")
        rendered = page.locator("#seed-text .view-rendered")
        rendered.wait_for()
        # The same rendering everywhere: aligned blocks, the unfenced code as a block.
        assert_first_lines_aligned(page, "#seed-text .view-rendered")
        assert rendered.locator("pre").count() == 3
        assert page.evaluate(RED_BORDERS, "#seed-text") == []
        # Switch to raw here; the next page of this browser opens raw.
        page.locator("#seed-text label", has_text="Raw").click()
        assert raw_text(page, "#seed-text") == SEED_TEXT
        answer = page.locator("#answer-text")
        if answer.count():
            # The answer follows the seed's choice (raw now).
            assert answer.locator("input[value=raw]").is_checked()
        page.goto(f"{live_server.url}{url}")
        page.wait_for_function("() => document.querySelector('#seed-text .view-raw').offsetParent")
        assert not rendered.is_visible()
        screenshot(page, f"seed-raw-{name}")
        page.context.close()
