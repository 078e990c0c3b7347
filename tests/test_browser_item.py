"""The item page and its API: one seed's whole history for its curators (the seed, every
assignment including a skip, every revision with the diff to the one before, tags, flags with
their evidence, every vote, the notes and the event timeline), access rules, escaping, the
action forms coming back to the page, and a query count that does not grow with the history."""

import json
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from annotation.models import Rewrite, Role
from annotation.services import DraftInput, assignment_skip, draft_save
from browser.selectors_items import EVENT_LABELS
from core.transitions import EventKind
from quality.models import RewriteCheck
from quality.services import reference_set_load
from review.services import ballot_cast, membership_add, rewrite_return, rewrite_submit

from .conftest import GOOD_DRAFT, api_for, cast_panel
from .test_schema import check, schema  # noqa: F401 - the schema fixture

API = "/api/v1"
# A sentence of a public benchmark, also inside the seed: a rewrite that copies the seed copies
# it too (contaminated and a copy of its seed at once).
REFERENCE = (
    "write a function that returns the sum of the squares of all odd numbers in a list of "
    "integers given as input"
)
SEED_BODY = (
    "I keep getting wrong totals from my loop and cannot see why, please help. The task says: "
    f"{REFERENCE}. My attempt iterates over the list, checks the remainder modulo two and adds "
    "the number itself instead of its square, and it also skips negative values by mistake."
)
HOSTILE = "Also explain <script>window.__pwned=1</script> and [this](javascript:alert(1))."
REVISED = (
    "Write a Python function `odd_square_sum(xs: list[int]) -> int` that returns the sum of "
    "the squares of the odd numbers of `xs`, negative ones included.\n"
    "Example: `odd_square_sum([1, 2, -3])` is 10.\n"
    f"{HOSTILE}"
)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def item_url(slug: str, seed_id: int, *, api: bool = False) -> str:
    return f"{API if api else ''}/campaigns/{slug}/items/{seed_id}/"


def revise(rewrite: Rewrite, text: str) -> Rewrite:
    """The author saves the new draft revision with ``text`` and submits it."""
    draft_save(
        assignment_id=rewrite.assignment_id,
        actor=rewrite.author,
        data=DraftInput(**{**GOOD_DRAFT, "text": text, "programming_languages": ["python", "c"]}),
        version=rewrite.version,
    )
    return rewrite_submit(assignment_id=rewrite.assignment_id, actor=rewrite.author)


@pytest.fixture
def item(world, tmp_path, django_capture_on_commit_callbacks) -> dict[str, Any]:
    """A seed skipped once, then rewritten: revision 1 (copies the seed, contaminated) rejected
    and returned with a note, revision 2 (near duplicate of another seed's rewrite) split 2-2."""
    reference = tmp_path / "ref.jsonl"
    reference.write_text(json.dumps({"task_id": "Bench/7", "prompt": REFERENCE}) + "\n")
    reference_set_load(name="tinybench", paths=[reference])
    world.add_seeds(1, text=SEED_BODY, title="Odd squares")
    skipped = world.claim(world.annotators[1])
    assignment_skip(assignment_id=skipped.pk, actor=world.annotators[1], reason="Not my topic")
    assignment = world.claim(world.annotators[0])
    assert assignment.seed_id == skipped.seed_id
    world.draft(assignment, text=SEED_BODY + "\n" + HOSTILE)
    with django_capture_on_commit_callbacks(execute=True):
        first = rewrite_submit(assignment_id=assignment.pk, actor=assignment.annotator)
    cast_panel(
        first,
        ["invalid", "invalid", "invalid", "valid"],
        ["copied from the seed", "not a question", "", "fine by me"],
    )
    second = rewrite_return(
        rewrite_id=first.pk, actor=world.curator, note="Write it in your own words."
    )
    with django_capture_on_commit_callbacks(execute=True):
        second = revise(second, REVISED)
    cast_panel(second, ["valid", "valid", "invalid", "invalid"], ["ok", "", "tags?", ""])
    # Another seed whose rewrite nearly duplicates revision 2.
    world.add_seeds(1, start=1)
    with django_capture_on_commit_callbacks(execute=True):
        twin = world.submitted(world.annotators[2], text=REVISED.replace("Python", "Python 3"))
    return {"seed": first.seed, "first": first, "second": second, "twin": twin}


# -- the API ----------------------------------------------------------------------------------


def test_item_api_tells_the_whole_history(world, item, schema):  # noqa: F811
    seed, first, twin = item["seed"], item["first"], item["twin"]
    res = api_for(world.curator).get(item_url("camp", seed.pk, api=True))
    assert res.status_code == 200, res.content
    check(schema, "get", "/api/v1/campaigns/{slug}/items/{seed_id}/", res)
    body = res.json()

    assert body["seed"]["external_id"] == "s0" and body["seed"]["title"] == "Odd squares"
    assert body["seed"]["text"] == SEED_BODY and body["seed"]["status"] == "done"
    assert body["seed"]["category"] and body["seed"]["subcategory"]

    skip, work = body["assignments"]
    assert (skip["annotator"], skip["status"], skip["skip_reason"]) == (
        "camp-ann2",
        "skipped",
        "Not my topic",
    )
    assert (work["annotator"], work["status"], work["actions"]) == ("camp-ann1", "submitted", [])

    r1, r2 = body["revisions"]
    assert (r1["revision"], r1["status"], r1["previous"], r1["diff"]) == (1, "returned", None, None)
    assert r1["return_note"] == "Write it in your own words." and r1["actions"] == []
    assert (r2["revision"], r2["previous"], r2["status"]) == (2, first.pk, "no_consensus")
    assert r2["status_label"] == "no consensus" and r2["decided_by_curator"] is False
    assert r2["programming_languages"] == ["python", "c"]  # in the annotator's order
    assert r2["feedback"]["note"] == "Write it in your own words."
    assert sorted(r2["actions"]) == ["adjudicate", "close", "return"]
    # The diff between the two revisions: the first line rewritten, the last one kept.
    assert (r2["diff"]["removed"], r2["diff"]["added"]) == (1, 2)
    assert [line["kind"] for line in r2["diff"]["lines"]] == ["delete", "insert", "insert", "equal"]
    inserted = "".join(
        p["text"]
        for line in r2["diff"]["lines"]
        if line["kind"] == "insert"
        for p in line["pieces"]
    )
    assert "odd_square_sum" in inserted

    # Flags with their evidence.
    (hit,) = r1["contamination"]
    assert (hit["reference_set"], hit["document_id"], hit["n"]) == ("tinybench", "Bench/7", 10)
    assert hit["ngram"] in REFERENCE and hit["overlap"] >= 1
    copied = [f for f in r1["flags"] if f["kind"] == "copied_seed"]
    assert copied and copied[0]["score"] >= 0.7 and copied[0]["other_seed"] is None
    (dup,) = [f for f in r2["flags"] if f["kind"] == "near_duplicate"]
    assert (dup["other_rewrite"], dup["other_seed"]) == (twin.pk, twin.seed_id)
    assert dup["other_seed_external_id"] == twin.seed.external_id

    # Every vote, with reasons in words, comments and reviewer.
    assert [v["decision"] for v in r1["votes"]] == ["invalid", "invalid", "invalid", "valid"]
    assert r1["votes"][0]["reasons"] == [{"code": "unclear", "label": "Unclear"}]
    assert r1["votes"][0]["comment"] == "copied from the seed"
    assert {v["reviewer"] for v in r1["votes"]} == {
        b.reviewer.username for b in first.ballots.all()
    }
    assert r1["tally"] == {"valid": 1, "invalid": 3, "pending": 0, "closed": 0, "panel_size": 4}
    assert r2["votes_hidden"] is False

    # The notes: the curator's return note and the annotator's skip.
    kinds = {(n["kind"], n["text"]) for n in body["notes"]}
    assert ("return", "Write it in your own words.") in kinds
    assert ("skip", "Not my topic") in kinds
    assert next(n for n in body["notes"] if n["kind"] == "return")["by"] == "camp-curator"

    # The timeline: oldest first, in words, from -> to in words.
    timeline = body["timeline"]
    assert [e["id"] for e in timeline] == sorted(e["id"] for e in timeline)
    kinds_seen = [e["kind"] for e in timeline]
    for kind in (
        EventKind.ASSIGNMENT_SKIPPED,
        EventKind.REWRITE_SUBMITTED,
        EventKind.BALLOT_CAST,
        EventKind.REWRITE_REJECTED,
        EventKind.REWRITE_RETURNED,
        EventKind.REWRITE_NO_CONSENSUS,
    ):
        assert kind in kinds_seen, kind
    returned = next(e for e in timeline if e["kind"] == EventKind.REWRITE_RETURNED)
    assert returned["actor"] == "camp-curator" and returned["label"] == "Returned for revision"
    assert (returned["from_label"], returned["to_label"]) == ("rejected", "returned")
    assert returned["subject"] == "revision 1" and returned["note"] == "Write it in your own words."
    split = next(e for e in timeline if e["kind"] == EventKind.REWRITE_NO_CONSENSUS)
    assert split["to_label"] == "no consensus" and split["subject"] == "revision 2"
    skipped = next(e for e in timeline if e["kind"] == EventKind.ASSIGNMENT_SKIPPED)
    assert skipped["actor"] == "camp-ann2" and skipped["to_label"] == "skipped"
    # Nothing of the other seed (its rewrite or its ballots) leaks into this timeline.
    assert not any(e["object_type"] == "rewrite" and e["object_id"] == twin.pk for e in timeline)


def test_every_event_kind_has_a_label():
    assert set(EVENT_LABELS) == set(EventKind.values)
    assert all(label and label[0].isupper() for label in EVENT_LABELS.values())


def test_item_access_by_role_and_campaign(world, item, make_world, django_user_model):
    seed = item["seed"]
    other = make_world("other")
    other.add_seeds(1)
    foreign_seed = other.campaign.seeds.get()
    for path in (item_url("camp", seed.pk, api=True), item_url("camp", seed.pk)):
        api = path.startswith(API)

        def get(user: Any, url: str = path, api: bool = api) -> Any:
            return (api_for(user) if api else client_for(user)).get(url)

        assert get(world.curator).status_code == 200
        assert get(world.annotators[0]).status_code == 403  # the author, a member
        assert get(world.reviewers[0]).status_code == 403
        assert get(other.curator).status_code == 404  # a curator of another campaign
        unknown = path.replace(f"/{seed.pk}/", "/999999/")
        assert get(world.curator, unknown).status_code == 404
        # A seed of another campaign, under this campaign's slug.
        foreign = path.replace(f"/{seed.pk}/", f"/{foreign_seed.pk}/")
        assert get(world.curator, foreign).status_code == 404
    refused = api_for(world.annotators[0]).get(item_url("camp", seed.pk, api=True)).json()
    assert refused["code"] == "not_allowed" and "curator" in refused["detail"]
    missing = api_for(world.curator).get(item_url("camp", 999999, api=True)).json()
    assert missing["code"] == "not_found" and "999999" in missing["detail"]
    assert Client().get(item_url("camp", seed.pk)).status_code == 302  # to the login page
    assert Client().get(item_url("camp", seed.pk, api=True)).status_code in (401, 403)
    operator = django_user_model.objects.create_superuser("op", "op@example.org", "pw-op")
    assert api_for(operator).get(item_url("camp", seed.pk, api=True)).status_code == 200


def test_a_curator_on_the_panel_sees_no_other_vote_before_voting(world):
    membership_add(campaign=world.campaign, user=world.curator, role=Role.REVIEWER)
    world.add_seeds(1)
    rewrite = world.submitted()
    ballots = {b.reviewer_id: b for b in rewrite.ballots.select_related("reviewer")}
    assert world.curator.pk in ballots, "the curator sits on the panel"
    other = next(b for uid, b in ballots.items() if uid != world.curator.pk)
    ballot_cast(
        ballot_id=other.pk,
        actor=other.reviewer,
        decision="invalid",
        reasons=["unclear"],
        comment="hidden!",
    )
    url = item_url("camp", rewrite.seed_id, api=True)
    (revision,) = api_for(world.curator).get(url).json()["revisions"]
    assert revision["votes_hidden"] is True
    assert all(v["status"] != "cast" for v in revision["votes"])
    assert "hidden!" not in client_for(world.curator).get(url[len(API) :]).content.decode()
    mine = ballots[world.curator.pk]
    ballot_cast(ballot_id=mine.pk, actor=world.curator, decision="valid")
    (revision,) = api_for(world.curator).get(url).json()["revisions"]
    assert revision["votes_hidden"] is False
    assert {v["comment"] for v in revision["votes"] if v["status"] == "cast"} == {"hidden!", ""}


# -- the page -----------------------------------------------------------------------------------


def test_item_page_shows_everything_escaped(world, item):
    seed, second, twin = item["seed"], item["second"], item["twin"]
    page = client_for(world.curator).get(item_url("camp", seed.pk)).content.decode()
    # The seed rendered and raw.
    assert 'id="seed-text"' in page and 'class="view-raw"' in page and "Odd squares" in page
    # Both revisions, the diff on the second, its flags and votes.
    assert page.count('class="item-revision"') == 2
    rev2 = page.split(f'id="revision-{second.pk}"')[1].split("</article>")[0]
    assert 'class="text-diff"' in rev2 and "Changes from revision 1" in rev2
    assert "<ins>" in rev2
    assert f'href="/campaigns/camp/items/{twin.seed_id}/"' in rev2
    assert "python, c" in rev2 and "decided by a curator" not in rev2
    assert "Bench/7" in page and "tinybench" in page and "Copies its seed" in page
    assert "copied from the seed" in page and "camp-rev1" in page and "Unclear" in page
    # Notes and the timeline.
    assert "Write it in your own words." in page and "Not my topic" in page
    assert "Seed skipped by the annotator" in page and "rejected → returned" in page
    # User text is escaped everywhere: no live script, no javascript: link.
    assert "<script>window.__pwned" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert 'href="javascript:' not in page


def test_action_forms_post_with_csrf_and_come_back_to_the_page(world, item):
    seed, second = item["seed"], item["second"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.curator)
    url = item_url("camp", seed.pk)
    page = client.get(url).content.decode()
    rev2 = page.split(f'id="revision-{second.pk}"')[1].split("</article>")[0]
    forms = dict(re.findall(r'<form method="post" action="([^"]+)"[^>]*data-action="(\w+)"', rev2))
    assert set(forms.values()) == {"return", "adjudicate", "close"}
    assert f"/rewrites/{second.pk}/return/" in forms
    assert rev2.count('name="csrfmiddlewaretoken"') == 3
    assert rev2.count(f'name="next" value="{url}"') == 3
    assert 'name="decision" value="accepted"' in rev2  # the campaign lets curators accept

    # Without the token the return is refused; with it, it comes back here.
    assert client.post(f"/rewrites/{second.pk}/return/", {"note": "x"}).status_code == 403
    token = client.cookies["csrftoken"].value
    res = client.post(
        f"/rewrites/{second.pk}/return/",
        {"note": "Name the edge cases.", "next": url, "csrfmiddlewaretoken": token},
    )
    assert res.status_code == 302 and res["Location"] == url
    body = api_for(world.curator).get(item_url("camp", seed.pk, api=True)).json()
    assert [r["status"] for r in body["revisions"]] == ["returned", "returned", "draft"]
    assert body["revisions"][1]["return_note"] == "Name the edge cases."
    # An active assignment again: the page offers to reassign it, back here too.
    page = client.get(url).content.decode()
    assignment_id = body["assignments"][-1]["id"]
    assert f'action="/assignments/{assignment_id}/reassign/"' in page and "Reassign…" in page
    res = client.post(
        f"/assignments/{assignment_id}/reassign/",
        {"annotator": "camp-ann4", "next": url, "csrfmiddlewaretoken": token},
    )
    assert res.status_code == 302 and res["Location"] == url
    body = api_for(world.curator).get(item_url("camp", seed.pk, api=True)).json()
    assert body["assignments"][-1]["annotator"] == "camp-ann4"
    assert body["timeline"][-1]["kind"] == EventKind.ASSIGNMENT_REASSIGNED

    # ``next`` off the site is ignored: back to the dashboard.
    world.add_seeds(1, start=5)
    rewrite = world.submitted(world.annotators[3])
    cast_panel(rewrite, ["invalid"] * 4)
    res = client.post(
        f"/rewrites/{rewrite.pk}/return/",
        {"next": "https://evil.example/", "csrfmiddlewaretoken": token},
    )
    assert res.status_code == 302 and res["Location"] == "/campaigns/camp/dashboard/#revision-loop"


def test_no_accept_choice_where_curators_may_not_accept(world, item):
    world.campaign.curator_may_accept = False
    world.campaign.save(update_fields=["curator_may_accept"])
    page = client_for(world.curator).get(item_url("camp", item["seed"].pk)).content.decode()
    assert 'value="accepted"' not in page and 'value="rejected"' in page
    assert (
        not api_for(world.curator)
        .get(item_url("camp", item["seed"].pk, api=True))
        .json()["curator_may_accept"]
    )


def test_query_count_does_not_grow_with_revisions_ballots_flags_or_events(
    world, tmp_path, django_capture_on_commit_callbacks
):
    reference = tmp_path / "ref.jsonl"
    reference.write_text(json.dumps({"task_id": "Bench/7", "prompt": REFERENCE}) + "\n")
    reference_set_load(name="tinybench", paths=[reference])
    world.add_seeds(3)
    client = client_for(world.curator)
    api = api_for(world.curator)

    def counts(seed_id: int) -> tuple[int, int]:
        api.get(item_url("camp", seed_id, api=True))  # warm the token and session lookups
        client.get(item_url("camp", seed_id))
        with CaptureQueriesContext(connection) as in_api:
            assert api.get(item_url("camp", seed_id, api=True)).status_code == 200
        with CaptureQueriesContext(connection) as in_page:
            assert client.get(item_url("camp", seed_id)).status_code == 200
        return len(in_api), len(in_page)

    small = world.submitted(world.annotators[0])
    cast_panel(small, ["valid", "invalid", "valid", "invalid"])
    small_counts = counts(small.seed_id)

    rewrite = world.submitted(world.annotators[1], text=f"First try. {REFERENCE}")
    for round_ in range(3):  # three returns: four revisions, sixteen ballots, many events
        cast_panel(rewrite, ["invalid", "invalid", "valid", "valid"], [f"c{round_}"] * 4)
        draft = rewrite_return(rewrite_id=rewrite.pk, actor=world.curator, note=f"n{round_}")
        with django_capture_on_commit_callbacks(execute=True):
            rewrite = revise(draft, f"Try {round_}.\n{REFERENCE}\nline {round_}")
    cast_panel(rewrite, ["invalid", "invalid", "valid", "valid"])
    with django_capture_on_commit_callbacks(execute=True):  # a near duplicate of it
        world.submitted(world.annotators[2], text=rewrite.text + " Thanks.")
    body = api.get(item_url("camp", rewrite.seed_id, api=True)).json()
    assert len(body["revisions"]) == 4 and len(body["timeline"]) > 60
    assert all(r["contamination"] for r in body["revisions"][1:])
    assert [f["kind"] for f in body["revisions"][-1]["flags"]] == ["near_duplicate"]
    big_counts = counts(rewrite.seed_id)
    assert big_counts == small_counts, (small_counts, big_counts)
    assert big_counts[0] <= 12


def test_a_draft_left_with_a_skip_and_the_next_annotators_work_are_told_apart(world):
    world.add_seeds(1)
    skipped = world.claim(world.annotators[1])
    world.draft(skipped, text="A start I gave up on.")
    assignment_skip(assignment_id=skipped.pk, actor=world.annotators[1], reason="")
    rewrite = world.submitted(world.annotators[0])
    assert rewrite.seed_id == skipped.seed_id
    body = api_for(world.curator).get(item_url("camp", rewrite.seed_id, api=True)).json()
    left, done = body["revisions"]
    assert (left["assignment"], left["status"], left["diff"]) == (skipped.pk, "draft", None)
    assert (done["assignment"], done["status"], done["diff"]) == (
        rewrite.assignment_id,
        "submitted",
        None,  # another annotator's first revision, not a revision of the abandoned draft
    )
    subjects = {e["subject"] for e in body["timeline"] if e["object_type"] == "rewrite"}
    assert subjects == {
        f"revision 1 of assignment {skipped.pk}",
        f"revision 1 of assignment {rewrite.assignment_id}",
    }
    (skip,) = [n for n in body["notes"] if n["kind"] == "skip"]
    assert (skip["text"], skip["by"]) == ("", "camp-ann2")
    page = client_for(world.curator).get(item_url("camp", rewrite.seed_id)).content.decode()
    assert "skipped (no reason given)" in page


def test_a_revision_whose_quality_check_has_not_run_says_its_flags_may_be_incomplete(
    world, django_capture_on_commit_callbacks
):
    world.add_seeds(2)
    # Submitted without running the on-commit check (a broker outage, say): pending.
    pending = world.submitted(world.annotators[0])
    # Submitted with the check run: done.
    with django_capture_on_commit_callbacks(execute=True):
        checked = world.submitted(world.annotators[1])
    assert RewriteCheck.objects.get(rewrite=checked).status == "done"
    client = api_for(world.curator)
    body = client.get(item_url("camp", pending.seed_id, api=True)).json()
    assert [r["quality_check"] for r in body["revisions"]] == ["pending"]
    body = client.get(item_url("camp", checked.seed_id, api=True)).json()
    assert [r["quality_check"] for r in body["revisions"]] == ["done"]
    page = Client()
    page.force_login(world.curator)
    html = page.get(item_url("camp", pending.seed_id)).content.decode()
    assert 'data-role="check-pending"' in html and "flags may be incomplete" in html
    html = page.get(item_url("camp", checked.seed_id)).content.decode()
    assert 'data-role="check-pending"' not in html
    RewriteCheck.objects.filter(rewrite=checked).update(
        status="failed", error="worker died 8 times"
    )
    html = page.get(item_url("camp", checked.seed_id)).content.decode()
    assert 'data-role="check-failed"' in html and "worker died 8 times" in html
