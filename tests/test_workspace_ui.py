"""A whole campaign set up in real Chromium (Playwright) with no shell command after the
operator's first step (granting ``create_campaign``): the new curator creates a campaign,
writes its guidelines, invites four annotators and four reviewers (the links come from the
email outbox; each invitee sets a password and lands in the campaign), uploads a seed file with
two bad lines (both named, nothing imported), uploads the fixed file and imports it, samples
with a preview, deals with a preview, and an annotator finds the seeds in their queue.
Screenshots of each workspace page go to test-artifacts/screenshots/."""

import io
import json
import re
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command

from annotation.models import Assignment, Campaign, Membership, Seed
from annotation.services import user_ensure
from annotation.vocabulary import builtin_taxonomy

from .browser import CHROMIUM_ARGS, quiesce, screenshot, track_requests  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

SLUG = "team-arena"
LINK = re.compile(r"https?://[^\s\"'<>]+/invitations/[^\s\"'<>]+/")


def seed_lines(n: int) -> list[str]:
    subs = [s["name"] for s in builtin_taxonomy("codearena")["subcategories"]][:4]
    return [
        json.dumps(
            {
                "id": f"q{i}",
                "title": f"Question {i}",
                "text": f"How do I solve problem number {i} with a {['dict', 'list'][i % 2]}?",
                "subcategory": subs[i % len(subs)],
            }
        )
        for i in range(n)
    ]


def submit(page, form_selector: str) -> None:
    with page.expect_navigation():
        page.click(f"{form_selector} button[type=submit]")


def test_a_curator_runs_the_whole_setup_from_the_browser(chromium, new_page, live_server, tmp_path):
    # The operator's one step: an account that may create campaigns.
    user_ensure(username="lead", email="lead@lab.org", password="pw-lead-2026")
    call_command("grant_create_campaign", "lead", stdout=io.StringIO())

    page = new_page("lead", "pw-lead-2026")
    page.click("#new-campaign")
    page.fill("#campaign-new-form input[name=name]", "Team Arena")
    page.fill("#campaign-new-form input[name=slug]", SLUG)
    submit(page, "#campaign-new-form")
    campaign = Campaign.objects.get(slug=SLUG)
    assert Membership.objects.filter(campaign=campaign, user__username="lead", role="curator")
    assert campaign.subcategories.count() == 40
    screenshot(page, "workspace-settings")

    # Guidelines, a first version.
    page.goto(f"{live_server.url}/campaigns/{SLUG}/guidelines/")
    page.fill("#guidelines-text", "# Rewrite rules\n\nEvery question must be **self-contained**.")
    submit(page, "#guidelines-form")
    assert campaign.guidelines_versions.count() == 1
    assert "self-contained" in page.content()
    screenshot(page, "workspace-guidelines")

    # Invitations: four annotators and four reviewers; the links come from the outbox.
    page.goto(f"{live_server.url}/campaigns/{SLUG}/people/")
    invitees = [(f"ann{i}", "annotator") for i in range(1, 5)] + [
        (f"rev{i}", "reviewer") for i in range(1, 5)
    ]
    for name, role in invitees:
        page.fill("#invite-form input[name=email]", f"{name}@lab.org")
        page.select_option("#invite-form select[name=role]", role)
        submit(page, "#invite-form")
    assert len(mail.outbox) == 8
    screenshot(page, "workspace-people")
    links = {}
    for message in mail.outbox:
        [to] = message.to
        found = LINK.search(message.body)
        assert found, message.body
        links[to.split("@")[0]] = found.group(0)

    for name, role in invitees:
        context = chromium.new_context(viewport={"width": 1366, "height": 768})
        track_requests(context)
        guest = context.new_page()
        guest.goto(links[name])
        guest.fill("#accept-form input[name=username]", name)
        guest.fill("#accept-form input[name=password]", f"Long-pass-{name}-2026")
        guest.fill("#accept-form input[name=password2]", f"Long-pass-{name}-2026")
        submit(guest, "#accept-form")
        # Logged in and landed in the campaign: an annotator's queue, a reviewer's ballots.
        expected = "queue" if role == "annotator" else "ballots"
        assert f"/campaigns/{SLUG}/{expected}/" in guest.url, (name, guest.url)
        quiesce(context)
        context.close()
    assert Membership.objects.filter(campaign=campaign).count() == 9

    # A seed file with two bad lines: both named, nothing imported.
    good = seed_lines(40)
    bad = (
        good[:10]
        + ["{not json"]
        + good[10:20]
        + ['{"id": "x", "text": "t", "subcategory": "Nope"}']
    )
    bad_file = tmp_path / "seeds-bad.jsonl"
    bad_file.write_text("\n".join(bad) + "\n", encoding="utf-8")
    page.goto(f"{live_server.url}/campaigns/{SLUG}/seeds/")
    page.set_input_files("#seed-upload-form input[name=file]", str(bad_file))
    submit(page, "#seed-upload-form")
    bad_rows = page.locator("table.bad-lines tbody tr")
    named = {bad_rows.nth(i).locator("td").first.inner_text() for i in range(bad_rows.count())}
    assert named == {"11", "22"}, named
    assert "unknown subcategory" in page.locator("table.bad-lines").inner_text()
    assert Seed.objects.filter(campaign=campaign).count() == 0
    screenshot(page, "workspace-seed-check-bad")

    # The fixed file: checked, then imported on confirmation.
    good_file = tmp_path / "seeds.jsonl"
    good_file.write_text("\n".join(good) + "\n", encoding="utf-8")
    page.goto(f"{live_server.url}/campaigns/{SLUG}/seeds/")
    page.set_input_files("#seed-upload-form input[name=file]", str(good_file))
    submit(page, "#seed-upload-form")
    page.wait_for_selector("#seed-import-confirm")
    screenshot(page, "workspace-seed-check")
    submit(page, "#seed-import-confirm")
    page.wait_for_function("() => document.body.innerText.includes('Imported')", timeout=20_000)
    assert Seed.objects.filter(campaign=campaign).count() == 40

    # Sampling with a preview, then dealing with a preview.
    page.goto(f"{live_server.url}/campaigns/{SLUG}/seeds/sample/")
    page.fill("#sample-preview-form input[name=size]", "20")
    submit(page, "#sample-preview-form")
    page.wait_for_selector("#sample-confirm-form")
    screenshot(page, "workspace-sample-preview")
    submit(page, "#sample-confirm-form")
    assert Seed.objects.filter(campaign=campaign, status="sampled").count() == 20
    page.goto(f"{live_server.url}/campaigns/{SLUG}/seeds/deal/")
    submit(page, "#deal-preview-form")
    page.wait_for_selector("#deal-confirm-form")
    screenshot(page, "workspace-deal-preview")
    submit(page, "#deal-confirm-form")
    assert Assignment.objects.filter(campaign=campaign).count() == 20

    # An annotator finds their seeds in the queue.
    annotator = new_page("ann1", "Long-pass-ann1-2026")
    assert f"/campaigns/{SLUG}/queue/" in annotator.url
    mine = Assignment.objects.filter(campaign=campaign, annotator__username="ann1").count()
    assert mine == 5
    rows = annotator.locator("a[href^='/assignments/']")
    assert rows.count() >= mine
    screenshot(annotator, "workspace-annotator-queue")
    assert Path(screenshot(page, "workspace-seeds")).exists()
