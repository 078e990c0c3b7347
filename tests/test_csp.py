"""A strict Content-Security-Policy on every page: scripts and styles only from our own static
files (no inline <script>, <style>, event handler or style attribute anywhere), nothing framing
the site, forms posting only to us; the API docs (Swagger UI) served from our static files, no
CDN. Checked three ways: the header on every page of every role, the rendered HTML of those
pages and every template, and real Chromium reporting no CSP violation while it shows them
(tests/browser.py fails a browser test on any violation)."""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import Role
from review.models import Ballot

from .browser import screenshot
from .conftest import World

ROOT = Path(__file__).resolve().parent.parent
TABLE_DRAFT = (
    "Write a function `pad(s, n)` that pads `s` to `n` characters.\n\n"
    "| input | n | output |\n|:--|:-:|--:|\n| `ab` | 4 | `ab  ` |\n\n"
    "```python\nassert pad('ab', 4) == 'ab  '\n```"
)


class _Inline(HTMLParser):
    """Everything in a page that a strict CSP would block: inline scripts, <style> blocks,
    style attributes, event-handler attributes, javascript: URLs, and outside origins."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        # A JSON data block (json_script) is never executed, so the policy does not apply.
        if tag == "script" and not named.get("src") and named.get("type") != "application/json":
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> block")
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>: {value}")
            if name.startswith("on"):
                self.problems.append(f"event handler {name} on <{tag}>")
            if name in {"src", "href", "action"} and value:
                self.urls.append(value)
                if value.strip().lower().startswith("javascript:"):
                    self.problems.append(f"javascript: URL on <{tag}>")


def inline_problems(html: str) -> tuple[list[str], list[str]]:
    parser = _Inline()
    parser.feed(html)
    return parser.problems, parser.urls


def external(urls: list[str]) -> list[str]:
    """The URLs that load from another origin (links to other sites in user text are <a>s and
    are not counted here: only what the page loads)."""
    return [url for url in urls if urlsplit(url).netloc or url.startswith("//")]


def make_site():
    """A campaign with work in every state a page shows: an annotator's active assignment (with
    a markdown table, aligned by class), a submitted rewrite with its panel, seeds in the pool."""
    world = World()
    world.add_seeds(4)
    rewrite = world.submitted(text=TABLE_DRAFT)
    active = world.claim(world.annotators[1])
    world.draft(active, text=TABLE_DRAFT)
    ballot = Ballot.objects.filter(rewrite=rewrite).order_by("pk").first()
    assert ballot is not None
    return world, rewrite, active, ballot


def pages_by_role(world, rewrite, active, ballot) -> dict[str, tuple[object, list[str]]]:
    slug = world.campaign.slug
    campaign = {"slug": slug}
    curator = [
        "/",
        reverse("dashboard-page", kwargs=campaign),
        reverse("releases-page", kwargs=campaign),
        reverse("campaign-settings-page", kwargs=campaign),
        reverse("guidelines-page", kwargs=campaign),
        reverse("people-page", kwargs=campaign),
        reverse("seeds-page", kwargs=campaign),
        reverse("seeds-sample-page", kwargs=campaign),
        reverse("seeds-deal-page", kwargs=campaign),
        reverse("references-page", kwargs=campaign),
        reverse("answers-page", kwargs=campaign),
        reverse("browse-page", kwargs=campaign),
        reverse("item-page", kwargs={"slug": slug, "seed_id": rewrite.seed_id}),
        reverse("api-docs"),
    ]
    annotator = [
        "/",
        reverse("queue", kwargs=campaign),
        reverse("annotate", kwargs={"pk": active.pk}),
        reverse("my-work-page", kwargs=campaign),
        reverse("guidelines-page", kwargs=campaign),
    ]
    reviewer = [
        "/",
        reverse("ballots-page", kwargs=campaign),
        reverse("vote-page", kwargs={"pk": ballot.pk}),
    ]
    return {
        Role.CURATOR: (world.curator, curator),
        Role.ANNOTATOR: (world.annotators[1], annotator),
        Role.REVIEWER: (ballot.reviewer, reviewer),
    }


# --- the header and the HTML ----------------------------------------------------------------------


def directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_strict(header: str) -> None:
    policy = directives(header)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header


@pytest.mark.django_db
def test_every_page_of_every_role_has_a_strict_policy_and_nothing_inline():
    site = make_site()
    for role, (user, urls) in pages_by_role(*site).items():
        client = Client()
        client.force_login(user)
        for url in urls:
            r = client.get(url, follow=True)  # "/" goes straight to a single campaign
            assert r.status_code == 200, (role, url, r.status_code)
            assert_strict(r["Content-Security-Policy"])
            problems, loaded = inline_problems(r.content.decode())
            assert problems == [], (role, url, problems)
            assert external(loaded) == [], (role, url, external(loaded))


@pytest.mark.django_db
def test_anonymous_pages_error_pages_and_admin_login_have_the_policy_too():
    client = Client()
    for url, status in [
        ("/accounts/login/", 200),
        ("/accounts/password/reset/", 200),
        ("/admin/login/", 200),
        ("/no-such-page/", 404),
    ]:
        r = client.get(url)
        assert r.status_code == status, url
        assert_strict(r["Content-Security-Policy"])
        problems, loaded = inline_problems(r.content.decode())
        assert problems == [], (url, problems)
        assert external(loaded) == [], url


def _templates() -> list[Path]:
    found = []
    for folder in ["templates", "annotation", "review", "exports", "quality", "browser", "core"]:
        found += sorted((ROOT / folder).rglob("*.html"))
    # Email bodies are read in mail clients, not served under the site's policy.
    return [path for path in found if "_email" not in path.name]


def test_no_template_has_inline_scripts_styles_or_handlers():
    assert len(_templates()) > 30
    offenders = []
    for path in _templates():
        text = path.read_text()
        for pattern in [
            r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>",
            r"<style\b",
            r"\sstyle\s*=",
            r"\son[a-z]+\s*=",
            r"javascript:",
        ]:
            for match in re.finditer(pattern, text, re.IGNORECASE):
                offenders.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert offenders == []


@pytest.mark.django_db
def test_markdown_table_alignment_is_a_class_not_a_style(world):
    from annotation.rendering import render_markdown

    html = render_markdown(TABLE_DRAFT)
    assert 'class="align-left"' in html and 'class="align-right"' in html
    assert "style=" not in html
    # The sanitizer keeps only the alignment classes on cells, and no style attribute at all.
    from annotation.rendering import _sanitize

    kept = _sanitize('<table><tr><td class="evil" style="color:red">x</td></tr></table>')
    assert "evil" not in kept and "style" not in kept


# --- offline API docs -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_docs_load_only_our_own_static_files(world):
    client = Client()
    client.force_login(world.curator)
    r = client.get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    problems, loaded = inline_problems(html)
    assert problems == []
    assert external(loaded) == []
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    assert_strict(r["Content-Security-Policy"])
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in src for src in scripts)
    # Swagger UI's files come from drf-spectacular-sidecar through our static files.
    from django.contrib.staticfiles import finders

    for src in scripts:
        if src.startswith("/static/"):
            assert finders.find(src.removeprefix("/static/")), src
    # Its start-up script is a separate same-origin file, pointing at our schema.
    init = next(src for src in scripts if "script" in src and "swagger-ui" not in src)
    r = client.get(init)
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in r.content.decode()


def assert_strict_but_redoc_styles(header: str, html: str) -> None:
    """The strict policy, except what Redoc needs on its page alone (config/urls.py
    REDOC_POLICY): <style> elements carrying this response's nonce or one of two known hashes
    (never 'unsafe-inline'), and its search worker from a blob: URL."""
    from config.urls import REDOC_POLICY

    policy = directives(header)
    style = policy.pop("style-src")
    nonces = [word for word in style if word.startswith("'nonce-")]
    assert len(nonces) == 1 and re.fullmatch(r"'nonce-[A-Za-z0-9+/=]{16,}'", nonces[0]), style
    assert f'data-nonce="{nonces[0][7:-1]}"' in html
    hashes = REDOC_POLICY["style-src"][1:]
    assert style == ["'self'", *nonces, *hashes] and all(h.startswith("'sha256-") for h in hashes)
    assert policy.pop("worker-src") == ["'self'", "blob:"]
    rest = "; ".join(" ".join([name, *values]) for name, values in policy.items())
    assert_strict(rest + "; style-src 'self'")


@pytest.mark.django_db
def test_api_reference_redoc_loads_only_our_own_static_files():
    r = Client().get("/api/redoc/")
    assert r.status_code == 200
    html = r.content.decode()
    problems, loaded = inline_problems(html)
    assert problems == []
    assert external(loaded) == []
    assert "cdn" not in html.lower() and "fonts.googleapis" not in html.lower()
    assert_strict_but_redoc_styles(r["Content-Security-Policy"], html)
    # Each response has its own nonce.
    again = Client().get("/api/redoc/")["Content-Security-Policy"]
    assert again != r["Content-Security-Policy"]
    # Redoc's bundle comes from drf-spectacular-sidecar through our static files; a script
    # file of ours starts it on our schema.
    from django.contrib.staticfiles import finders

    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert [src for src in scripts if "redoc.standalone.js" in src]
    assert scripts[-1].endswith("/js/redoc-init.js")
    for src in scripts:
        assert src.startswith("/static/") and finders.find(src.removeprefix("/static/")), src
    assert 'data-spec-url="/api/schema/"' in html
    # No other page admits a nonce.
    assert "nonce" not in Client().get("/accounts/login/")["Content-Security-Policy"]


# --- real Chromium: no violation on any page of any role ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_no_csp_violation_on_any_page_of_any_role_in_chromium(new_page, live_server):
    site = make_site()
    for role, (user, urls) in pages_by_role(*site).items():
        page = new_page(user.username, "pw-" + user.username)
        for url in urls:
            response = page.goto(f"{live_server.url}{url}")
            assert response is not None and response.status == 200, (role, url)
            page.wait_for_load_state("networkidle")
            if url == "/api/docs/":
                # Swagger UI rendered the schema: its title and the operations are on the page.
                page.wait_for_selector(".swagger-ui .info .title")
                page.wait_for_selector(".opblock-tag")
                assert "CodeArena curation platform API" in page.inner_text(".info .title")
                screenshot(page, "api-docs")
            if url.startswith("/assignments/"):
                # The live preview renders the aligned table (no style attribute needed).
                page.wait_for_selector("#preview table td.align-right")
                assert page.eval_on_selector(
                    "#preview table td.align-right", "td => getComputedStyle(td).textAlign"
                ) in {"right", "end"}
    # (the new_page fixture fails the test on any CSP violation or script error it saw)


@pytest.mark.django_db(transaction=True)
def test_redoc_renders_the_schema_without_csp_violation_in_chromium(new_page, live_server):
    world, *_ = make_site()
    page = new_page(world.curator.username, "pw-" + world.curator.username)
    response = page.goto(f"{live_server.url}/api/redoc/")
    assert response is not None and response.status == 200
    # Redoc rendered the schema: its title and the operations' menu are on the page.
    page.wait_for_selector(".api-info h1")
    assert "CodeArena curation platform API" in page.inner_text(".api-info h1")
    assert page.locator("[role=menuitem]").count() > 20
    page.wait_for_load_state("networkidle")
    screenshot(page, "api-redoc")
    # (the new_page fixture fails the test on any CSP violation or script error it saw)


def test_the_browser_fixture_reports_a_violation(chromium):
    """The check above can fail: a page whose policy blocks an inline script, a style
    attribute and an outside script is reported by tests/browser.py's page watcher."""
    from .browser import CSP_LISTENER, watch_page

    context = chromium.new_context()
    try:
        context.add_init_script(CSP_LISTENER)
        seen: list[str] = []
        context.on("page", lambda p: watch_page(p, seen))
        body = (
            "<!doctype html><p style='color:red'>x</p><script>document.title='ran'</script>"
            "<script src='https://cdn.invalid/x.js'></script>"
        )
        context.route(
            "http://csp.test/",
            lambda route: route.fulfill(
                status=200,
                body=body,
                headers={
                    "Content-Type": "text/html",
                    "Content-Security-Policy": "default-src 'self'; style-src 'self'",
                },
            ),
        )
        context.route("https://cdn.invalid/**", lambda route: route.abort())
        page = context.new_page()
        page.goto("http://csp.test/")
        page.wait_for_timeout(300)
        assert page.title() != "ran"
        joined = "\n".join(seen)
        assert "script-src" in joined
        assert "style-src" in joined
        assert "cdn.invalid" in joined
    finally:
        context.close()
