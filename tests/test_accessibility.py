"""Accessibility: axe-core (vendored from the npm registry in tests/vendor/axe-core/, run
offline) on every page of every role in real Chromium, with each dialog open: no violation of
serious or critical impact, and the moderate and minor ones listed in the output and in
test-artifacts/axe-moderate.json.

axe is put into each page with ``page.evaluate(source)``: Playwright evaluates in the page's
main world through the DevTools protocol, which the Content-Security-Policy does not govern,
so the pages keep their real, strict policy (an injected ``<script>`` would be refused by it,
and ``bypass_csp`` would test pages under a policy they never have in production). The
``new_page`` fixture still fails a test on any CSP violation or script error, axe's included.

Not audited: the API docs (Swagger UI and Redoc render their own markup, from
drf-spectacular-sidecar; ours is only the script that starts them) and Django's admin."""

import functools
import hashlib
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from annotation.models import Role
from annotation.services import DraftInput, draft_save, seeds_import, seeds_sample
from annotation.services.campaigns import CREATE_PERMISSION
from exports.jobs import release_start
from exports.models import Release
from exports.services import ReleaseParameters
from review.models import Ballot
from review.services import ballot_cast, rewrite_close, rewrite_return, rewrite_submit
from review.services.invitations import invitation_create

from .conftest import World, cast_panel, seed_line

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[1]
AXE_DIR = Path(__file__).resolve().parent / "vendor" / "axe-core"
AXE_VERSION = "4.14.1"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = {"serious", "critical"}
# What the dark theme can change: the colours (its markup is the light theme's).
COLOUR_RULES = ["color-contrast", "link-in-text-block"]
# Curator pages checked in the dark theme as well (with the annotator's queue and annotate
# page and the reviewer's vote page): the ones the screenshots cover, and the item page.
DARK_TOO = {"dashboard", "releases", "item, flagged", "data, seeds"}
REPORT = ROOT / "test-artifacts" / "axe-moderate.json"

# Every finding below "serious", by page, for the whole run (written after each test).
_listed: dict[str, list[dict[str, Any]]] = {}

GUIDELINES = (
    "# Guidelines\n\nRewrite the seed as a **self-contained** question. See "
    "[the rubric](https://example.org/rubric) for details.\n\n"
    "```python\ndef example_with_a_rather_long_line_that_has_to_scroll_sideways(argument_one, "
    "argument_two, argument_three):\n    return argument_one + argument_two + argument_three\n```"
)
SEED_TEXT = (
    "How do I read a big CSV lazily in Python? I tried `csv.reader` and it still uses memory:\n\n"
    "```python\nwith open('data.csv') as f:\n    rows = list(csv.reader(f))  # this line is "
    "long enough that the code block must scroll sideways on a normal laptop screen\n```"
)
TEXTS = [
    "Write a Python generator `read_rows(path)` that yields the rows of a CSV file lazily.",
    "Write a TypeScript debounce helper with generics and a cancel method, plus its tests.",
    "Why does my Go HTTP server leak goroutines when clients disconnect mid-response?",
    "Make this page's sidebar collapse.",
    "Write a regex that matches ISO 8601 dates strictly, and explain each part of it.",
    "Explain Rust lifetimes with an example of a function returning a reference.",
    "Write a SQL query for the top three salaries of each department in PostgreSQL.",
]


@functools.cache
def axe_source() -> str:
    source = (AXE_DIR / "axe.min.js").read_text()
    assert source.startswith(f"/*! axe v{AXE_VERSION}"), "update AXE_VERSION with the vendored file"
    return source


class AxeFinding(UserWarning):
    """A violation below serious impact: listed in pytest's warnings summary, not failed."""


@pytest.fixture(scope="module", autouse=True)
def axe_report() -> Iterator[None]:
    """Write every finding below serious of this module's run to test-artifacts/ (the file of
    an earlier run is replaced, even when nothing is found now)."""
    _listed.clear()
    yield
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    report = {"axe": AXE_VERSION, "tags": AXE_TAGS, "pages": _listed}
    REPORT.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


def audit(page: Any, where: str, *, expand: bool = True, dark: bool = False) -> list[dict]:
    """Run axe on ``page`` as it is now and return its serious and critical violations. With
    ``expand`` every ``<details>`` is opened first, so what they hide is checked too; with
    ``dark`` the page's colours are checked again in the dark theme (the system setting
    emulated). Findings below serious are listed: a warning each, and the report file."""
    found = _audit(page, where, expand=expand)
    if dark:
        page.emulate_media(color_scheme="dark")
        page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
        found += _audit(page, f"{where}, dark", expand=False, rules=COLOUR_RULES)
        page.emulate_media(color_scheme="light")
        page.wait_for_function("() => document.documentElement.dataset.theme === 'light'")
    return found


def _audit(
    page: Any, where: str, *, expand: bool, rules: list[str] | None = None
) -> list[dict[str, Any]]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    if expand:
        page.evaluate(
            "() => document.querySelectorAll('details').forEach((d) => { d.open = true; })"
        )
    violations = page.evaluate(
        """(only) => axe.run(document, {
             runOnly: only,
             resultTypes: ["violations"],
           }).then((r) => r.violations.map((v) => ({
             id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
             nodes: v.nodes.map((n) => ({target: n.target.join(" "), html: n.html,
                                        summary: n.failureSummary})),
           })))""",
        {"type": "rule", "values": rules} if rules else {"type": "tag", "values": AXE_TAGS},
    )
    label = f"{where} ({re.sub(r'^https?://[^/]+', '', page.url)})"
    listed = [v for v in violations if v["impact"] not in BLOCKING]
    if listed:
        _listed[label] = listed
        for v in listed:
            nodes = ", ".join(node["target"] for node in v["nodes"][:3])
            warnings.warn(
                f"axe {v['impact']}: {v['id']} on {label}: {v['help']} ({nodes})",
                AxeFinding,
                stacklevel=2,
            )
    return [{**v, "page": label} for v in violations if v["impact"] in BLOCKING]


def describe(found: list[dict[str, Any]]) -> str:
    lines = [f"{len(found)} serious or critical accessibility violation(s):"]
    for v in found:
        lines.append(f"- {v['id']} ({v['impact']}) on {v['page']}: {v['help']}  {v['helpUrl']}")
        for node in v["nodes"][:3]:
            lines.append(f"    {node['target']}: {node['html'][:160]}")
            fix = [line.strip() for line in (node["summary"] or "").splitlines()[1:2]]
            lines += [f"      {line[:200]}" for line in fix]
        if len(v["nodes"]) > 3:
            lines.append(f"    ... and {len(v['nodes']) - 3} more")
    return "\n".join(lines)


def open_dialog(page: Any, button: str, dialog: str) -> None:
    page.click(button)
    page.wait_for_selector(f"{dialog}[open]")


def close_dialog(page: Any, dialog: str) -> None:
    page.keyboard.press("Escape")
    page.wait_for_selector(f"{dialog}:not([open])", state="attached")


class Site:
    """A campaign in the middle of its life, so that each page has something on it: accepted
    rewrites and a finished release, a rejected rewrite waiting for a decision, a split one, a
    closed one, one returned to its author, one that copies its seed (a similarity flag),
    pending ballots, an annotator's open draft, a pending invitation (on the people page)."""

    def __init__(self, live_server_url: str) -> None:
        world = World(slug="a11y", reviewers=5, guidelines=GUIDELINES)
        self.world = world
        seeds_import(
            campaign=world.campaign,
            lines=[seed_line(i, text=SEED_TEXT.replace("CSV", f"CSV #{i}")) for i in range(10)],
        )
        seeds_sample(campaign=world.campaign, size=10)
        ann = world.annotators
        accepted = [world.submitted(ann[i % 3], text=TEXTS[i]) for i in range(3)]
        for rewrite in accepted:
            cast_panel(rewrite, ["valid"] * 4)
        rejected = world.submitted(ann[1], text=TEXTS[3])
        cast_panel(rejected, ["invalid"] * 4, comments=["Which page?", "", "", "No code."])
        self.rejected = rejected
        split = world.submitted(ann[2], text=TEXTS[4])
        cast_panel(split, ["valid", "invalid", "valid", "invalid"])
        self.split = split
        closed = world.submitted(ann[2], text=TEXTS[5])
        cast_panel(closed, ["invalid"] * 4)
        self.closed = rewrite_close(rewrite_id=closed.pk, actor=world.curator, note="Off topic.")
        returned = world.submitted(ann[0], text=TEXTS[6])
        cast_panel(returned, ["invalid", "invalid", "valid", "invalid"])
        self.returned = rewrite_return(
            rewrite_id=returned.pk, actor=world.curator, note="Name the database version."
        )
        # Copies its seed: flagged by the quality check that runs when it is submitted.
        assignment = world.claim(ann[3])
        world.draft(assignment, text=assignment.seed.body)
        self.pending = rewrite_submit(assignment_id=assignment.pk, actor=ann[3])
        ballots = self.pending.ballots.select_related("reviewer").order_by("pk")
        self.ballot = ballots[0]
        self.voted = ballots[1]
        ballot_cast(
            ballot_id=self.voted.pk,
            actor=self.voted.reviewer,
            decision="invalid",
            reasons=["unclear"],
            comment="The question is the seed, word for word.",
        )
        self.active = world.claim(ann[0])
        self.draft = world.draft(self.active, text=TEXTS[0] + "\n\n| a | b |\n|--|--|\n| 1 | 2 |")
        release = release_start(
            campaign=world.campaign,
            actor=world.curator,
            parameters=ReleaseParameters(name="v1", size=3, stratify="none"),
        )
        release.refresh_from_db()
        assert release.status == Release.Status.DONE, release.status
        invitation_create(
            campaign=world.campaign,
            actor=world.curator,
            email="new.reviewer@example.org",
            role=Role.REVIEWER,
            base_url=live_server_url + "/",
        )
        # The curator may also create campaigns (an operator's permission), to see that form.
        app, codename = CREATE_PERMISSION.split(".")
        world.curator.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )


@pytest.fixture
def site(live_server: Any, settings: Any, tmp_path: Path) -> Site:
    settings.RELEASES_DIR = tmp_path
    return Site(live_server.url)


def login(new_page: Any, user: Any) -> Any:
    return new_page(user.username, "pw-" + user.username)


def test_the_vendored_axe_is_the_recorded_file_and_finds_what_it_should(chromium: Any) -> None:
    """The vendored file is the one PROVENANCE.md names, and the check can fail: on a page with
    an image without alt text, a form field without a label and an empty table header, axe
    reports them with their impact (the first two fail a test, the third is listed)."""
    digest = hashlib.sha256((AXE_DIR / "axe.min.js").read_bytes()).hexdigest()
    provenance = (AXE_DIR / "PROVENANCE.md").read_text()
    assert f"`axe.min.js` sha256 {digest}" in provenance
    assert f"axe-core@{AXE_VERSION}" in provenance and (AXE_DIR / "LICENSE").is_file()
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_content(
            "<!doctype html><html lang='en'><head><title>t</title></head><body><main>"
            "<h1>Page</h1><img src='data:,'><input type='text'>"
            "<table><tr><th></th><th>Name</th></tr><tr><td>1</td><td>x</td></tr></table>"
            "</main></body></html>"
        )
        with pytest.warns(AxeFinding, match="empty-table-header"):
            found = {v["id"]: v["impact"] for v in audit(page, "fixture page")}
        assert found == {"image-alt": "critical", "label": "critical"}
        _listed.pop("fixture page (about:blank)")
    finally:
        context.close()


def test_annotator_pages_and_dialogs(site: Site, new_page: Any, live_server: Any) -> None:
    world = site.world
    slug = world.campaign.slug
    page = login(new_page, world.annotators[0])
    found: list[dict[str, Any]] = []
    base = live_server.url

    page.goto(f"{base}/")
    found += audit(page, "annotator home")
    page.goto(f"{base}{reverse('queue', kwargs={'slug': slug})}")
    found += audit(page, "annotator queue", dark=True)
    page.goto(f"{base}{reverse('my-work-page', kwargs={'slug': slug})}")
    found += audit(page, "annotator my work")
    mine = world.campaign.rewrites.filter(author=world.annotators[0], revision=1).first()
    page.goto(f"{base}{reverse('my-rewrite-page', kwargs={'pk': mine.pk})}")
    found += audit(page, "annotator my rewrite")
    page.goto(f"{base}{reverse('guidelines-page', kwargs={'slug': slug})}")
    found += audit(page, "annotator guidelines")

    # The open draft: the page, then each dialog open over it.
    page.goto(f"{base}{reverse('annotate', kwargs={'pk': site.active.pk})}")
    page.wait_for_selector("#save-state[data-state=saved]")
    found += audit(page, "annotate", expand=False, dark=True)
    for button, dialog in [
        ("#open-guidelines", "#guidelines-dialog"),
        ("#reject", "#reject-dialog"),
        ("#skip", "#skip-dialog"),
    ]:
        open_dialog(page, button, dialog)
        found += audit(page, f"annotate, {dialog} open", expand=False)
        close_dialog(page, dialog)
    # The conflict panel: another device saved a newer version while this one types.
    draft_save(
        assignment_id=site.active.pk,
        actor=world.annotators[0],
        data=DraftInput(text="Saved on the phone."),
        version=site.draft.version,
    )
    page.fill("#rewrite-text", "Typed on the laptop.")
    page.wait_for_selector("#save-state[data-state=conflict]")
    found += audit(page, "annotate, conflict", expand=False)
    page.click("#keep-mine")
    page.wait_for_selector("#save-state[data-state=saved]")

    # The rewrite returned for revision, with the reviewers' feedback.
    page.goto(f"{base}{reverse('annotate', kwargs={'pk': site.returned.assignment_id})}")
    page.wait_for_selector("#feedback")
    found += audit(page, "annotate, returned for revision")
    assert not found, describe(found)


def test_reviewer_pages_before_and_after_voting(
    site: Site, new_page: Any, live_server: Any
) -> None:
    slug = site.world.campaign.slug
    ballot = site.ballot
    page = login(new_page, ballot.reviewer)
    found: list[dict[str, Any]] = []
    base = live_server.url

    page.goto(f"{base}/")
    found += audit(page, "reviewer home")
    page.goto(f"{base}{reverse('ballots-page', kwargs={'slug': slug})}")
    found += audit(page, "reviewer ballots")
    page.goto(f"{base}{reverse('vote-page', kwargs={'pk': ballot.pk})}")
    found += audit(page, "vote, before voting", dark=True)
    open_dialog(page, "#open-guidelines", "#guidelines-dialog")
    found += audit(page, "vote, guidelines open", expand=False)
    close_dialog(page, "#guidelines-dialog")
    # Refused without a reason: the error is shown next to the form.
    page.check("input[name=decision][value=invalid]")
    page.click("#cast-vote")
    page.wait_for_selector("#vote-error")
    found += audit(page, "vote, refused")
    page.check("input[name=reasons]")
    page.click("#cast-vote")
    page.wait_for_selector(".messages")
    assert Ballot.objects.get(pk=ballot.pk).status == Ballot.Status.CAST
    page.goto(f"{base}{reverse('vote-page', kwargs={'pk': ballot.pk})}")
    found += audit(page, "vote, after voting")
    page.goto(f"{base}{reverse('ballots-page', kwargs={'slug': slug})}")
    found += audit(page, "reviewer ballots, after voting")
    assert not found, describe(found)


def test_curator_pages_forms_and_decisions(site: Site, new_page: Any, live_server: Any) -> None:
    world = site.world
    slug = world.campaign.slug
    campaign = {"slug": slug}
    page = login(new_page, world.curator)
    found: list[dict[str, Any]] = []
    base = live_server.url
    pages = [
        ("curator home", "/"),
        ("dashboard", reverse("dashboard-page", kwargs=campaign)),
        ("releases", reverse("releases-page", kwargs=campaign)),
        ("campaign settings", reverse("campaign-settings-page", kwargs=campaign)),
        ("new campaign", reverse("campaign-new-page")),
        ("guidelines", reverse("guidelines-page", kwargs=campaign)),
        ("guidelines v1", reverse("guidelines-version-page", kwargs={**campaign, "number": 1})),
        ("people", reverse("people-page", kwargs=campaign)),
        ("seeds", reverse("seeds-page", kwargs=campaign)),
        ("seeds, sample", reverse("seeds-sample-page", kwargs=campaign)),
        ("seeds, deal", reverse("seeds-deal-page", kwargs=campaign)),
        ("references", reverse("references-page", kwargs=campaign)),
        ("answers", reverse("answers-page", kwargs=campaign)),
        ("data, seeds", reverse("browse-page", kwargs=campaign)),
        *[
            (f"data, {kind}", reverse("browse-kind-page", kwargs={**campaign, "kind": kind}))
            for kind in ("assignments", "rewrites", "samples")
        ],
        (
            "item, flagged",
            reverse("item-page", kwargs={**campaign, "seed_id": site.pending.seed_id}),
        ),
        ("item, split", reverse("item-page", kwargs={**campaign, "seed_id": site.split.seed_id})),
        ("close", reverse("rewrite-close-page", kwargs={"pk": site.rejected.pk})),
        ("adjudicate", reverse("rewrite-adjudicate-page", kwargs={"pk": site.split.pk})),
        ("reopen", reverse("rewrite-reopen-page", kwargs={"pk": site.closed.pk})),
    ]
    failed = []
    for where, url in pages:
        response = page.goto(f"{base}{url}")
        if response is None or response.status != 200:
            failed.append((where, url, response and response.status))
            continue
        page.wait_for_load_state("load")
        found += audit(page, where, dark=where in DARK_TOO)
    # A refused decision: the adjudication form without its reason.
    page.goto(f"{base}{reverse('rewrite-adjudicate-page', kwargs={'pk': site.split.pk})}")
    # (past the browser's own check of the required field, to see the server's refusal)
    page.eval_on_selector("#adjudicate-form", "(form) => { form.noValidate = true; }")
    page.check("input[name=decision][value=rejected]")
    page.click("#adjudicate-form button[type=submit]")
    page.wait_for_selector("#adjudicate-form .error")
    found += audit(page, "adjudicate, refused")
    # A bulk action with no row ticked: refused, the reason shown above the list.
    page.goto(f"{base}{reverse('browse-kind-page', kwargs={**campaign, 'kind': 'rewrites'})}")
    page.click("#bulk-submit")
    page.wait_for_selector(".messages")
    found += audit(page, "data, rewrites, bulk refused")
    # Returning a rewrite from the dashboard: the dashboard with its message.
    page.goto(f"{base}{reverse('dashboard-page', kwargs=campaign)}")
    article = page.locator(f"#revision-loop article[data-rewrite='{site.rejected.pk}']")
    article.locator("form[action$='/return/'] button[type=submit]").first.click()
    page.wait_for_selector(".messages")
    found += audit(page, "dashboard, after returning")
    assert not failed, f"pages that did not open: {failed}"
    assert not found, describe(found)


def test_pages_without_a_login(chromium: Any, live_server: Any) -> None:
    world = World(slug="a11y", reviewers=4)
    invitation = invitation_create(
        campaign=world.campaign,
        actor=world.curator,
        email="new.reviewer@example.org",
        role=Role.REVIEWER,
        base_url=live_server.url + "/",
    )
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    found: list[dict[str, Any]] = []
    try:
        page = context.new_page()
        link = invitation.link
        for where, url in [
            ("log in", f"{live_server.url}/accounts/login/"),
            ("password reset", f"{live_server.url}/accounts/password/reset/"),
            ("invitation", link),
            ("not found", f"{live_server.url}/no-such-page/"),
        ]:
            page.goto(url)
            found += audit(page, where)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", "nobody")
        page.fill("input[name=password]", "wrong")
        page.click("button[type=submit]")
        page.wait_for_selector(".errorlist, .error, [role=alert]")
        found += audit(page, "log in, refused")
    finally:
        context.close()
    assert not found, describe(found)
