"""The dark theme and the small-screen layouts in real Chromium (Playwright).

For the queue, annotate, vote, dashboard and releases pages, at 1366x768 and 390x844, in the
light and the dark theme: no page-level horizontal scrolling, the theme really applies (the
body's background, and every visible text's contrast with what is behind it, WCAG AA), and a
screenshot in test-artifacts/screenshots/<page>-<w>x<h>-<theme>.png (kept by CI). On narrow
screens the annotate and vote pages' seed and rewrite panes are tabs (real buttons, aria,
keyboard), so the editor is on the first screen. The theme menu overrides the system setting and
is remembered across a reload."""

from typing import Any

import pytest
from django.urls import reverse

from annotation.services import seeds_import, seeds_sample
from exports.jobs import release_start
from exports.models import Release
from exports.services import ReleaseParameters
from review.models import Ballot

from .browser import screenshot
from .conftest import World, cast_panel, seed_line

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = [(1366, 768), (390, 844)]
THEMES = ["light", "dark"]

# A long scraped seed: at 800 px the editor used to start 4,148 px down the annotate page.
LONG_SEED = "\n\n".join(
    [
        f"Paragraph {i}: my service keeps a cache of parsed configuration files and reloads "
        "them when the file changes on disk, but sometimes the reload reads a half-written file "
        "and the whole process falls over with a confusing stack trace in production."
        for i in range(30)
    ]
    + [
        "```python\n"
        + "\n".join(f"def step_{i}(x):\n    return x + {i}" for i in range(30))
        + "\n```"
    ]
)

REWRITES = [
    "How do I stream a 20 GB CSV into PostgreSQL with psycopg 3 COPY without loading it all?",
    "Write a TypeScript debounce helper with proper generics and a cancel method, plus tests.",
    "Why does my Go HTTP server leak goroutines when clients disconnect mid-response?",
    "In Rust, how do I share a mutable cache between Tokio tasks without a lock across an await?",
    "A Python service reloads its YAML config on change; how can it never read a half-written one?",
    "When does a React effect run twice in development, and how do I make one safe to repeat?",
]

# Every visible piece of text against the first opaque background behind it: returns the ones
# below WCAG AA (4.5:1, or 3:1 for large text). Disabled controls are exempt (WCAG 1.4.3).
CONTRAST_FAILURES = """() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = ({ r, g, b }) => {
    const ch = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b);
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a), a: 1,
  });
  const backdrop = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg && bg.a > 0) { layers.push(bg); if (bg.a >= 1) break; }
    }
    let colour = { r: 255, g: 255, b: 255, a: 1 };  // the canvas
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  };
  const failures = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || seen.has(el)) continue;
    seen.add(el);
    const skipped = "svg, [hidden], dialog:not([open]), details:not([open]) > :not(summary), "
      + ":disabled, option, .visually-hidden";
    if (el.closest(skipped)) continue;
    const rect = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!rect.width || !rect.height || style.visibility === "hidden") continue;
    let fade = 1;
    for (let e = el; e; e = e.parentElement) fade *= Number(getComputedStyle(e).opacity);
    if (fade < 1) continue;  // only disabled buttons are faded on these pages
    const bg = backdrop(el);
    const fg = over(parse(style.color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      const text = node.textContent.trim().slice(0, 40);
      failures.push(`${el.tagName.toLowerCase()}.${el.className} "${text}" ${ratio.toFixed(2)}`
        + ` (${style.color} on ${JSON.stringify(bg)})`);
    }
  }
  return failures;
}"""

BODY_COLOURS = """() => {
  const s = getComputedStyle(document.body);
  return [s.color, s.backgroundColor];
}"""


def _rgb(css: str) -> tuple[float, float, float]:
    parts = css[css.index("(") + 1 : css.index(")")].replace(",", " ").split()
    return float(parts[0]), float(parts[1]), float(parts[2])


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted([_luminance(_rgb(a)), _luminance(_rgb(b))], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def make_site(settings: Any, tmp_path: Any) -> dict[str, Any]:
    """A campaign with something on every page: long seeds, an annotator's open assignment, a
    reviewer's pending ballot, accepted, rejected and split rewrites, and a finished release."""
    settings.RELEASES_DIR = tmp_path
    world = World(slug="theme")
    seeds_import(
        campaign=world.campaign,
        lines=[
            seed_line(i, text=f"({i}) {LONG_SEED}", title="Config reload reads a half-written file")
            for i in range(8)
        ],
    )
    seeds_sample(campaign=world.campaign, size=8, seed=1)
    texts = iter(REWRITES)
    for i in range(3):
        accepted = world.submitted(annotator=world.annotators[i], text=next(texts))
        cast_panel(accepted, ["valid"] * 4)
    cast_panel(world.submitted(annotator=world.annotators[3], text=next(texts)), ["invalid"] * 4)
    split = world.submitted(annotator=world.annotators[0], text=next(texts))
    cast_panel(split, ["valid", "valid", "invalid", "invalid"])
    pending = world.submitted(annotator=world.annotators[2], text=next(texts))
    active = world.claim(world.annotators[1])
    world.draft(active, text="How do I reload a config file atomically?")
    ballot = Ballot.objects.filter(rewrite=pending, status="pending").order_by("pk").first()
    assert ballot is not None
    release = release_start(
        campaign=world.campaign,
        actor=world.curator,
        parameters=ReleaseParameters(name="v1", size=2, stratify="none"),
    )
    release.refresh_from_db()
    assert release.status == Release.Status.DONE, release.error
    slug = world.campaign.slug
    return {
        "world": world,
        "active": active,
        "ballot": ballot,
        "pages": {
            "queue": (world.annotators[1], reverse("queue", kwargs={"slug": slug})),
            "annotate": (world.annotators[1], reverse("annotate", kwargs={"pk": active.pk})),
            "vote": (ballot.reviewer, reverse("vote-page", kwargs={"pk": ballot.pk})),
            "dashboard": (world.curator, reverse("dashboard-page", kwargs={"slug": slug})),
            "releases": (world.curator, reverse("releases-page", kwargs={"slug": slug})),
        },
    }


def open_as(new_page: Any, user: Any) -> Any:
    return new_page(user.username, "pw-" + user.username)


def overflow(page: Any) -> int:
    """How far the page scrolls sideways (0 when it fits the window)."""
    return page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")


WIDEST = """() => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
  .filter((e) => {  // inside a box that scrolls (or clips) sideways is fine
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== "visible") return false;
    }
    return true;
  })
  .slice(0, 8)
  .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`
    + ` ${Math.round(e.getBoundingClientRect().right)}`)"""


def fits(page: Any) -> tuple[bool, list[str]]:
    """Whether the page fits the window's width, and what sticks out if not."""
    return overflow(page) <= 0, page.evaluate(WIDEST)


def test_every_page_fits_and_reads_in_both_themes_on_wide_and_narrow_screens(
    new_page, live_server, settings, tmp_path
):
    site = make_site(settings, tmp_path)
    pages: dict[Any, Any] = {}
    for name, (user, url) in site["pages"].items():
        if user.pk not in pages:
            pages[user.pk] = open_as(new_page, user)
        page = pages[user.pk]
        for width, height in VIEWPORTS:
            page.set_viewport_size({"width": width, "height": height})
            for theme in THEMES:
                page.emulate_media(color_scheme=theme)
                page.goto(f"{live_server.url}{url}")
                page.wait_for_load_state("networkidle")
                where = f"{name} {width}x{height} {theme}"
                assert page.evaluate("document.documentElement.dataset.theme") == theme, where
                assert fits(page)[0], (where, fits(page))
                fg, bg = page.evaluate(BODY_COLOURS)
                dark_background = _luminance(_rgb(bg)) < 0.05
                assert dark_background == (theme == "dark"), (where, bg)
                assert _contrast(fg, bg) >= 4.5, (where, fg, bg)
                assert page.evaluate(CONTRAST_FAILURES) == [], where
                if name == "dashboard":
                    canvas = page.eval_on_selector(
                        "figure.chart svg rect.background", "r => getComputedStyle(r).fill"
                    )
                    assert (_luminance(_rgb(canvas)) < 0.05) == (theme == "dark"), (where, canvas)
                if name in {"annotate", "vote"} and width < 1000:
                    # Both panes of a long seed are contrast-checked, not only the open tab.
                    page.click("[role=tab][aria-selected=false]")
                    assert page.evaluate(CONTRAST_FAILURES) == [], where + " other tab"
                    page.click("[role=tab][aria-selected=false]")
                screenshot(page, f"{name}-{width}x{height}-{theme}")


@pytest.mark.parametrize("width,height", [(390, 844), (800, 900)])
def test_on_narrow_screens_the_editor_is_a_tab_on_the_first_screen(
    new_page, live_server, settings, tmp_path, width, height
):
    site = make_site(settings, tmp_path)
    user, url = site["pages"]["annotate"]
    page = open_as(new_page, user)
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live_server.url}{url}")
    page.wait_for_selector("#save-state[data-state=saved]")
    seed_tab, editor_tab = page.locator("#tab-seed"), page.locator("#tab-rewrite")
    assert page.get_attribute("[role=tablist]", "aria-label")
    assert seed_tab.get_attribute("aria-selected") == "true"
    assert page.get_attribute("#seed-pane", "role") == "tabpanel"
    assert page.get_attribute("#seed-pane", "aria-labelledby") == "tab-seed"
    assert page.is_visible("#seed-body") and not page.is_visible("#rewrite-text")
    assert seed_tab.evaluate("b => b.tagName") == "BUTTON"

    # Reading far down the long seed, the tabs stay at hand; the editor opens from its top.
    page.evaluate("window.scrollTo(0, 2500)")
    editor_tab.click()
    assert editor_tab.get_attribute("aria-selected") == "true"
    assert seed_tab.get_attribute("aria-selected") == "false"
    assert not page.is_visible("#seed-body")
    box = page.locator("#rewrite-text").bounding_box()
    assert box is not None and 0 <= box["y"] < height - 100, box
    assert page.evaluate("document.activeElement.id") == "tab-rewrite"
    assert fits(page)[0], fits(page)

    # Keyboard: the selected tab is the one tab stop; arrows move and select.
    assert (
        editor_tab.get_attribute("tabindex") == "0" and seed_tab.get_attribute("tabindex") == "-1"
    )
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("document.activeElement.id") == "tab-seed"
    assert seed_tab.get_attribute("aria-selected") == "true" and page.is_visible("#seed-body")
    page.keyboard.press("End")
    assert page.evaluate("document.activeElement.id") == "tab-rewrite"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#rewrite-pane') !== null")

    # The draft is the editor's: typing in it after switching tabs saves as before.
    page.fill("#rewrite-text", "How do I reload a config file without reading it half-written?")
    page.wait_for_selector("#save-state[data-state=saved]")
    screenshot(page, f"annotate-editor-tab-{width}x{height}")

    # Wide again: both panes side by side, no tabs.
    page.set_viewport_size({"width": 1366, "height": 768})
    # The panes come back when the media query's change event reaches pane_tabs.js.
    page.wait_for_selector("#seed-body", state="visible", timeout=5000)
    assert not page.is_visible("[role=tablist]")
    assert page.is_visible("#seed-body") and page.is_visible("#rewrite-text")
    assert page.get_attribute("#seed-pane", "role") is None


def test_on_a_phone_the_vote_page_opens_on_the_rewrite_with_the_seed_a_tab_away(
    new_page, live_server, settings, tmp_path
):
    site = make_site(settings, tmp_path)
    user, url = site["pages"]["vote"]
    page = open_as(new_page, user)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}{url}")
    assert page.get_attribute("#tab-rewrite", "aria-selected") == "true"
    assert not page.is_visible("#seed-body")
    box = page.locator("#rewrite-body").bounding_box()
    assert box is not None and box["y"] < 844
    page.click("#tab-seed")
    assert page.is_visible("#seed-body") and not page.is_visible("#vote-form")
    page.click("#tab-rewrite")
    page.click("label.pill-valid")
    page.click("#cast-vote")
    page.wait_for_selector("#tally")
    assert fits(page)[0], fits(page)


def test_the_theme_menu_overrides_the_system_and_is_remembered(new_page, live_server, world):
    page = open_as(new_page, world.curator)
    page.emulate_media(color_scheme="light")
    page.goto(f"{live_server.url}{reverse('dashboard-page', kwargs={'slug': 'camp'})}")
    theme = "document.documentElement.dataset.theme"
    assert page.evaluate(theme) == "light"
    assert page.input_value("#theme-choice") == "system"
    assert page.evaluate("document.querySelector('label.theme-choice').textContent").strip()

    page.select_option("#theme-choice", "dark")
    assert page.evaluate(theme) == "dark"
    fg, bg = page.evaluate(BODY_COLOURS)
    assert _luminance(_rgb(bg)) < 0.05 and _contrast(fg, bg) >= 4.5
    page.reload()
    assert page.evaluate(theme) == "dark" and page.input_value("#theme-choice") == "dark"
    # Set before the first paint: the stylesheet's first computed background is already dark.
    page.goto(f"{live_server.url}{reverse('releases-page', kwargs={'slug': 'camp'})}")
    assert page.evaluate(theme) == "dark"
    screenshot(page, "releases-1366x768-dark-menu")
    # The contrast check can fail: grey text that reads on white does not on the dark page.
    assert page.evaluate(CONTRAST_FAILURES) == []
    page.evaluate(
        """() => { const p = document.createElement("p"); p.textContent = "faint";
        p.style.color = "#777777"; document.querySelector("main").append(p); }"""
    )
    assert [f for f in page.evaluate(CONTRAST_FAILURES) if '"faint"' in f]

    # "Light" wins over a dark system; "System" follows it again.
    page.emulate_media(color_scheme="dark")
    page.select_option("#theme-choice", "light")
    page.reload()
    assert page.evaluate(theme) == "light"
    page.select_option("#theme-choice", "system")
    assert page.evaluate(theme) == "dark"
    page.emulate_media(color_scheme="light")
    page.wait_for_function(f"() => {theme} === 'light'")
    page.reload()
    assert page.input_value("#theme-choice") == "system"
    assert page.evaluate("localStorage.getItem('codearena:theme')") is None


def test_every_other_page_of_every_role_fits_a_phone_and_reads_in_the_dark(new_page, live_server):
    """The forms, the data browser and the workspace pages at 390 px in the dark theme."""
    from .test_csp import make_site as csp_site
    from .test_csp import pages_by_role

    checked = {"queue", "annotate", "vote", "dashboard", "releases"}
    for role, (user, urls) in pages_by_role(*csp_site()).items():
        page = open_as(new_page, user)
        page.set_viewport_size({"width": 390, "height": 844})
        page.emulate_media(color_scheme="dark")
        for url in urls:
            if url == "/api/docs/" or any(f"/{name}" in url for name in checked):
                continue  # third-party Swagger UI, or covered above
            page.goto(f"{live_server.url}{url}")
            page.wait_for_load_state("networkidle")
            assert fits(page)[0], (role, url, fits(page))
            assert page.evaluate(CONTRAST_FAILURES) == [], (role, url)
