"""In real Chromium (Playwright): a curator uploads a Label Studio JSON-MIN export with a preset
and a field mapping, reads the check (the format told from the content, the repeated task kept
once, a task type that classified nothing, a bad record with all its reasons), confirms with the
bad record skipped, and the seeds are imported as mapped. Screenshots in test-artifacts/."""

import json

import pytest

from annotation.models import Seed, SeedImport

from .browser import CHROMIUM_ARGS, screenshot  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

EXPORT = [
    {
        "prompt": "How do I <b>mock</b> time in pytest?",
        "id": 101,
        "kind": "testing",
        "task_type": ["Unit Testing"],
        "annotator": "a@lab.org",
        "annotation_id": 1,
        "lead_time": 3.0,
    },
    {
        "prompt": "How do I <b>mock</b> time in pytest?",
        "id": 101,
        "kind": "testing",
        "annotator": "b@lab.org",
        "annotation_id": 2,
        "lead_time": 2.0,
    },
    {"prompt": "Why is my Rust borrow checker angry?", "id": 102, "task_type": "rust woes"},
    {"id": 103, "source_url": "javascript:alert(1)"},
]


def test_upload_a_label_studio_export_with_a_preset_and_mapping(
    world, new_page, live_server, tmp_path
):
    path = tmp_path / "project-7-at-2026-min.json"
    path.write_text(json.dumps(EXPORT, indent=2), encoding="utf-8")
    page = new_page(world.curator.username, "pw-" + world.curator.username)
    page.goto(f"{live_server.url}/campaigns/{world.campaign.slug}/seeds/")
    page.set_input_files("#seed-upload-form input[name=file]", str(path))
    page.select_option("#seed-preset", "label-studio-min")
    page.fill("#seed-fields", "text=prompt\ncluster=kind")
    screenshot(page, "seed-import-formats-form")
    with page.expect_navigation():
        page.click("#seed-upload-form button[type=submit]")
    page.wait_for_selector("#seed-import-confirm")

    options = page.locator("#seed-import-options").inner_text()
    assert "Read as JSON array" in options and "label-studio-min" in options
    assert "text=prompt" in options and "cluster=kind" in options
    assert page.locator("table.repeats tbody tr").count() == 1
    assert "101" in page.locator("table.repeats").inner_text()
    notes = page.locator("table.task-types").inner_text()
    assert "rust woes" in notes and "not in CodeArena's task-type map" in notes
    bad = page.locator("table.bad-lines tbody tr")
    assert bad.count() == 1
    reasons = bad.first.locator("li")
    assert reasons.count() == 2  # one bad record, both of its reasons
    assert "missing 'text'" in reasons.nth(0).inner_text()
    assert "source_url" in reasons.nth(1).inner_text()
    assert page.locator("table.bad-lines th").first.inner_text() == "Record"
    # The seed text is shown as text, never as markup.
    assert "<b>mock</b>" in page.locator("table.sample").inner_text()
    screenshot(page, "seed-import-formats-check")
    page.locator("table.task-types").scroll_into_view_if_needed()
    screenshot(page, "seed-import-formats-check-details")

    page.check("#seed-import-confirm input[name=skip_bad_lines]")
    with page.expect_navigation():
        page.click("#seed-import-confirm button[type=submit]")
    page.wait_for_function("() => document.body.innerText.includes('Imported')", timeout=20_000)
    screenshot(page, "seed-import-formats-done")
    assert SeedImport.objects.get().status == "done"
    seeds = {s.external_id: s for s in Seed.objects.select_related("subcategory")}
    assert set(seeds) == {"101", "102"}
    assert seeds["101"].cluster == "testing"
    assert seeds["101"].subcategory is not None  # "unit testing" is in CodeArena's map
    assert seeds["102"].subcategory is None
    assert seeds["102"].metadata == {"task_type": "rust woes"}
