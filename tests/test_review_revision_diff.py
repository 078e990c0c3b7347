"""Reviewers voting on revision 2 or later see what changed since the revision before (the
diff) and the curator's note it was returned with, in the ballot API and on the vote page, and
never the earlier panel: not its voters, not their votes, reasons or comments."""

from typing import Any

import pytest
from django.test import Client

from annotation.services import DraftInput, draft_save
from review.models import Ballot
from review.services import ballot_cast, rewrite_return, rewrite_submit

from .conftest import GOOD_DRAFT, api_for, cast_panel
from .test_schema import check, schema  # noqa: F401 - the schema fixture

FIRST = "Write a function `chunks(xs, n)`.\nIt splits a list."
SECOND = "Write a Python function `chunks(xs, n)`.\nIt splits a list.\nEach chunk has n items."
EARLY_COMMENTS = ["zz-early-one", "zz-early-two", "zz-early-three", "zz-early-four"]


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def second_revision(world: Any, *, note: str) -> tuple[Any, Any]:
    """Revision 1 rejected (with comments) and returned with ``note``; revision 2 submitted
    with a changed text. Returns (revision 1, revision 2)."""
    world.add_seeds(2)
    first = world.submitted(text=FIRST)
    cast_panel(first, ["invalid", "invalid", "invalid", "valid"], EARLY_COMMENTS)
    draft = rewrite_return(rewrite_id=first.pk, actor=world.curator, note=note)
    draft_save(
        assignment_id=draft.assignment_id,
        actor=draft.author,
        data=DraftInput(**{**GOOD_DRAFT, "text": SECOND}),
        version=draft.version,
    )
    second = rewrite_submit(assignment_id=draft.assignment_id, actor=draft.author)
    return first, second


def early_voters_hidden_from(text: str, first: Any, viewer: Any) -> None:
    for ballot in first.ballots.select_related("reviewer"):
        if ballot.reviewer_id != viewer.pk:
            assert ballot.reviewer.username not in text, ballot.reviewer.username
    for comment in EARLY_COMMENTS:
        assert comment not in text


@pytest.mark.django_db
def test_ballot_api_on_revision_2_has_the_diff_and_the_note_never_the_early_votes(
    world,
    schema,  # noqa: F811
):
    first, second = second_revision(world, note="Say it is Python; <b>n</b> is the chunk size.")
    ballot = second.ballots.select_related("reviewer").order_by("id").first()
    res = api_for(ballot.reviewer).get(f"/api/v1/ballots/{ballot.pk}/")
    check(schema, "get", "/api/v1/ballots/{id}/", res)
    body = res.json()
    context = body["revision_context"]
    assert context["previous"] == {"revision": 1, "text": FIRST}
    assert context["curator_note"] == "Say it is Python; <b>n</b> is the chunk size."
    assert (context["diff"]["removed"], context["diff"]["added"]) == (1, 2)
    changed = [
        p["text"]
        for line in context["diff"]["lines"]
        if line["kind"] == "insert"
        for p in line["pieces"]
        if p["changed"]
    ]
    assert changed == [" Python", "Each chunk has n items."]
    assert "tally" not in body and "votes" not in body and "author" not in body
    early_voters_hidden_from(res.content.decode(), first, ballot.reviewer)
    # The same in the reviewer's list of ballots.
    listed = api_for(ballot.reviewer).get("/api/v1/campaigns/camp/ballots/").json()["results"]
    mine = next(b for b in listed if b["id"] == ballot.pk)
    assert mine["revision_context"] == context

    # Once this reviewer voted they see revision 2's panel, still nothing of revision 1's.
    res = api_for(ballot.reviewer).post(
        f"/api/v1/ballots/{ballot.pk}/vote/", {"decision": "valid"}, format="json"
    )
    check(schema, "post", "/api/v1/ballots/{id}/vote/", res)
    assert res.json()["revision_context"] == context
    for comment in EARLY_COMMENTS:
        assert comment not in res.content.decode()


@pytest.mark.django_db
def test_vote_page_on_revision_2_shows_the_diff_and_the_note_escaped(world):
    first, second = second_revision(world, note="Say it is Python; <b>n</b> is the chunk size.")
    ballot = second.ballots.select_related("reviewer").order_by("id").first()
    client = client_for(ballot.reviewer)
    page = client.get(f"/ballots/{ballot.pk}/").content.decode()
    section = page.split('id="revision-context"')[1].split("</section>")[0]
    assert "what changed since revision 1" in section
    assert "Say it is Python; &lt;b&gt;n&lt;/b&gt; is the chunk size." in section
    assert "<b>n</b>" not in section
    assert 'class="text-diff"' in section and "<ins>Each chunk has n items.</ins>" in section
    assert "<ins> Python</ins>" in section  # the changed word marked inside its line
    early_voters_hidden_from(page.split('id="rewrite-body"')[1], first, ballot.reviewer)
    for comment in EARLY_COMMENTS:
        assert comment not in page

    # After voting: revision 2's panel, still neither revision 1's comments nor its reasons.
    res = client.post(f"/ballots/{ballot.pk}/", {"decision": "valid"})
    assert res.status_code == 302
    page = client.get(f"/ballots/{ballot.pk}/").content.decode()
    assert 'id="tally"' in page and 'id="revision-context"' in page
    for comment in EARLY_COMMENTS:
        assert comment not in page


@pytest.mark.django_db
def test_revision_1_has_no_revision_context(world, schema):  # noqa: F811
    world.add_seeds(1)
    rewrite = world.submitted(text=FIRST)
    ballot = rewrite.ballots.select_related("reviewer").first()
    res = api_for(ballot.reviewer).get(f"/api/v1/ballots/{ballot.pk}/")
    check(schema, "get", "/api/v1/ballots/{id}/", res)
    assert res.json()["revision_context"] is None
    page = client_for(ballot.reviewer).get(f"/ballots/{ballot.pk}/").content.decode()
    assert 'id="revision-context"' not in page and 'class="text-diff"' not in page


@pytest.mark.django_db
def test_revision_returned_without_a_note_says_so(world):
    _first, second = second_revision(world, note="")
    ballot = second.ballots.select_related("reviewer").order_by("id").first()
    body = api_for(ballot.reviewer).get(f"/api/v1/ballots/{ballot.pk}/").json()
    assert body["revision_context"]["curator_note"] == ""
    page = client_for(ballot.reviewer).get(f"/ballots/{ballot.pk}/").content.decode()
    assert 'id="curator-note-none"' in page and 'id="curator-note"' not in page


@pytest.mark.django_db
def test_vote_page_on_revision_3_stays_within_its_query_budget(
    world, django_assert_max_num_queries
):
    _first, second = second_revision(world, note="one")
    cast_panel(second, ["invalid", "invalid", "valid", "valid"])
    draft = rewrite_return(rewrite_id=second.pk, actor=world.curator, note="two")
    third = rewrite_submit(assignment_id=draft.assignment_id, actor=draft.author)
    ballot = Ballot.objects.filter(rewrite=third).select_related("reviewer").first()
    client = client_for(ballot.reviewer)
    client.get(f"/ballots/{ballot.pk}/")
    with django_assert_max_num_queries(10):  # as on revision 1 (test_review_pages)
        page = client.get(f"/ballots/{ballot.pk}/").content.decode()
    # The diff is to revision 2, with the note revision 2 was returned with.
    assert "what changed since revision 2" in page
    note = page.split('id="curator-note"')[1].split("</div>")[0]
    assert "returned:" in note and "<blockquote>two</blockquote>" in note
    ballot_cast(ballot_id=ballot.pk, actor=ballot.reviewer, decision="valid")
    assert "what changed since revision 2" in client.get(f"/ballots/{ballot.pk}/").content.decode()
