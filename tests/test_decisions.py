"""Curator decisions (close, adjudicate, reopen): every allowed and forbidden transition, the
campaign setting that forbids curator acceptance, the required reason, the events, access for
each role and a foreign campaign, the API and the pages; then the funnel's identities over a
campaign with every kind of outcome, the dashboard, stats.json and the dataset card."""

from collections import Counter
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from annotation.models import Assignment, Event, Rewrite, Seed
from annotation.services import assignment_reject_seed, assignment_skip
from annotation.services.campaigns import campaign_settings_update
from core.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed
from core.transitions import EventKind
from exports.services import ReleaseParameters, release_build
from review.services import (
    rewrite_adjudicate,
    rewrite_close,
    rewrite_reopen,
    rewrite_return,
    rewrite_submit,
)
from review.stats import agreement, campaign_funnel, releasable_queryset

from .conftest import api_for, cast_panel, jobs
from .test_schema import check

API = "/api/v1"
SPLIT = ["valid", "invalid", "valid", "invalid"]
REJECT = ["invalid"] * 4
ACCEPT = ["valid"] * 4


def client_for(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def decided(world: Any, votes: list[str], annotator: Any = None, **changes: Any) -> Rewrite:
    """A submitted rewrite whose whole panel voted ``votes``."""
    rewrite = world.submitted(annotator, **changes)
    cast_panel(rewrite, votes)
    rewrite.refresh_from_db()
    return rewrite


def events_of(rewrite: Rewrite, kind: str) -> list[Event]:
    return list(
        Event.objects.filter(object_type="rewrite", object_id=rewrite.pk, kind=kind).order_by("id")
    )


def operator() -> Any:
    return get_user_model().objects.create_superuser("op", "op@example.org", "pw-op")


# -- services: close --------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("votes,status", [(REJECT, "rejected"), (SPLIT, "no_consensus")])
def test_close_ends_a_rejected_or_no_consensus_rewrite(world, votes, status):
    world.add_seeds(2)
    rewrite = decided(world, votes)
    assert rewrite.status == status
    closed = rewrite_close(rewrite_id=rewrite.pk, actor=world.curator, note="  Off topic.  ")
    assert closed.status == "closed"
    rewrite.refresh_from_db()
    assert (rewrite.status, rewrite.closed_from, rewrite.curator_note) == (
        "closed",
        status,
        "Off topic.",
    )
    assert rewrite.decided_by_curator is False
    # Its seed stays done, its assignment submitted: the seed is not offered again.
    assert Seed.objects.get(pk=rewrite.seed_id).status == "done"
    assert Assignment.objects.get(pk=rewrite.assignment_id).status == "submitted"
    [event] = events_of(rewrite, EventKind.REWRITE_CLOSED)
    assert (event.from_state, event.to_state, event.actor) == (status, "closed", world.curator)
    assert event.data == {"note": "Off topic.", "closed_from": status}
    # Never released, never in the to-decide list.
    assert rewrite.pk not in set(releasable_queryset(world.campaign).values_list("pk", flat=True))
    page = client_for(world.curator).get("/campaigns/camp/dashboard/")
    assert [r.pk for r in page.context["loop"].decided] == []
    assert page.context["loop"].decided_total == 0
    assert [r.pk for r in page.context["loop"].closed] == [rewrite.pk]


@pytest.mark.django_db
def test_close_without_a_note_keeps_an_earlier_reason(world):
    world.add_seeds(1)
    rewrite = decided(world, SPLIT)
    rewrite_adjudicate(
        rewrite_id=rewrite.pk, actor=world.curator, decision="rejected", reason="Too vague."
    )
    rewrite_close(rewrite_id=rewrite.pk, actor=world.curator)
    rewrite.refresh_from_db()
    assert (rewrite.status, rewrite.closed_from, rewrite.curator_note) == (
        "closed",
        "rejected",
        "Too vague.",
    )
    assert rewrite.decided_by_curator is True


@pytest.mark.django_db
def test_close_refuses_every_other_state_naming_it(world):
    world.add_seeds(5)
    waiting = world.submitted(world.annotators[0])
    accepted = decided(world, ACCEPT, world.annotators[1])
    returned = decided(world, REJECT, world.annotators[2])
    draft = rewrite_return(rewrite_id=returned.pk, actor=world.curator, note="again")
    closed = decided(world, REJECT, world.annotators[3])
    rewrite_close(rewrite_id=closed.pk, actor=world.curator)
    for rewrite, words in [
        (waiting, "submitted"),
        (accepted, "accepted"),
        (returned, "returned"),
        (draft, "draft"),
        (closed, "closed"),
    ]:
        with pytest.raises(InvalidTransition, match=f"this one is {words}"):
            rewrite_close(rewrite_id=rewrite.pk, actor=world.curator)
    assert Event.objects.filter(kind=EventKind.REWRITE_CLOSED).count() == 1


# -- services: adjudicate ---------------------------------------------------------------------


@pytest.mark.django_db
def test_adjudicated_acceptance_behaves_like_a_panel_acceptance(world, tmp_path):
    world.add_seeds(2)
    panel = decided(world, ACCEPT, world.annotators[0])
    split = decided(world, SPLIT, world.annotators[1], text="A split question about graphs.")
    result = rewrite_adjudicate(
        rewrite_id=split.pk, actor=world.curator, decision="accepted", reason=" Clear enough. "
    )
    assert result.status == "accepted"
    split.refresh_from_db()
    assert split.status == "accepted" and split.decided_by_curator
    assert split.curator_note == "Clear enough." and split.decided_at is not None
    [event] = events_of(split, EventKind.REWRITE_ADJUDICATED)
    assert (event.from_state, event.to_state) == ("no_consensus", "accepted")
    assert event.data == {"decision": "accepted", "reason": "Clear enough."}
    # Downstream: releasable, released, counted as curator-decided.
    assert set(releasable_queryset(world.campaign).values_list("pk", flat=True)) == {
        panel.pk,
        split.pk,
    }
    built = release_build(
        campaign=world.campaign, out_dir=tmp_path / "rel", parameters=ReleaseParameters()
    )
    assert {rewrite_id for _sample, rewrite_id in built.samples} == {panel.pk, split.pk}
    funnel = built.stats["funnel"]
    assert funnel["released"] == 2 and funnel["released_curator_decided"] == 1
    assert funnel["curator_accepted"] == 1 and funnel["accepted"] == 2
    # The panel's own outcome still counts for agreement: the split stays a no-consensus panel.
    assert agreement(world.campaign)["split"] == 1


@pytest.mark.django_db
def test_adjudicated_acceptance_counts_missing_tokens_after_commit(
    world, django_capture_on_commit_callbacks
):
    world.add_seeds(1)
    split = decided(world, SPLIT)
    Rewrite.objects.filter(pk=split.pk).update(question_tokens=None)  # a lost background count
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rewrite_adjudicate(
            rewrite_id=split.pk, actor=world.curator, decision="accepted", reason="Fine."
        )
    assert len(jobs(callbacks)) == 1
    split.refresh_from_db()
    assert split.question_tokens and split.question_tokens > 0


@pytest.mark.django_db
def test_adjudicated_rejection(world):
    world.add_seeds(1)
    split = decided(world, SPLIT)
    rewrite_adjudicate(
        rewrite_id=split.pk, actor=world.curator, decision="rejected", reason="Unsolvable."
    )
    split.refresh_from_db()
    assert (split.status, split.decided_by_curator, split.curator_note) == (
        "rejected",
        True,
        "Unsolvable.",
    )
    assert events_of(split, EventKind.REWRITE_ADJUDICATED)[0].data == {
        "decision": "rejected",
        "reason": "Unsolvable.",
    }
    # A curator-rejected rewrite is back in the list to return or close, as a panel-rejected one.
    loop = client_for(world.curator).get("/campaigns/camp/dashboard/").context["loop"]
    assert [r.pk for r in loop.decided] == [split.pk]


@pytest.mark.django_db
def test_adjudicate_needs_a_reason_and_a_known_decision(world):
    world.add_seeds(1)
    split = decided(world, SPLIT)
    with pytest.raises(ValidationFailed) as caught:
        rewrite_adjudicate(
            rewrite_id=split.pk, actor=world.curator, decision="accepted", reason=" "
        )
    assert set(caught.value.details["errors"]) == {"reason"}
    with pytest.raises(ValidationFailed) as caught:
        rewrite_adjudicate(rewrite_id=split.pk, actor=world.curator, decision="valid", reason="x")
    assert set(caught.value.details["errors"]) == {"decision"}
    split.refresh_from_db()
    assert split.status == "no_consensus" and not split.decided_by_curator
    assert not events_of(split, EventKind.REWRITE_ADJUDICATED)


@pytest.mark.django_db
def test_adjudicate_only_no_consensus(world):
    world.add_seeds(4)
    rejected = decided(world, REJECT, world.annotators[0])
    accepted = decided(world, ACCEPT, world.annotators[1])
    waiting = world.submitted(world.annotators[2])
    closed = decided(world, SPLIT, world.annotators[3])
    rewrite_close(rewrite_id=closed.pk, actor=world.curator)
    for rewrite, words in [
        (rejected, "rejected"),
        (accepted, "accepted"),
        (waiting, "submitted"),
        (closed, "closed"),
    ]:
        for decision in ("accepted", "rejected"):
            with pytest.raises(InvalidTransition, match=f"no consensus.*this one is {words}"):
                rewrite_adjudicate(
                    rewrite_id=rewrite.pk, actor=world.curator, decision=decision, reason="x"
                )


@pytest.mark.django_db
def test_campaign_can_forbid_curator_acceptance(world):
    world.add_seeds(2)
    campaign_settings_update(campaign=world.campaign, actor=world.curator, curator_may_accept=False)
    split = decided(world, SPLIT)
    with pytest.raises(NotAllowed, match="does not let curators accept"):
        rewrite_adjudicate(
            rewrite_id=split.pk, actor=world.curator, decision="accepted", reason="Looks fine."
        )
    split.refresh_from_db()
    assert split.status == "no_consensus"
    rewrite_adjudicate(
        rewrite_id=split.pk, actor=world.curator, decision="rejected", reason="Not clear."
    )
    split.refresh_from_db()
    assert split.status == "rejected"
    # The API says so in a 403 a person can act on, and the setting's page and API show it.
    other = decided(world, SPLIT, world.annotators[1])
    response = api_for(world.curator).post(
        f"{API}/rewrites/{other.pk}/adjudicate/",
        {"decision": "accepted", "reason": "ok"},
        format="json",
    )
    assert response.status_code == 403
    assert "does not let curators accept" in response.json()["detail"]
    settings = api_for(world.curator).get(f"{API}/campaigns/camp/settings/")
    assert settings.status_code == 200 and settings.json()["curator_may_accept"] is False


@pytest.mark.django_db
def test_curator_may_accept_is_a_campaign_setting_on_the_page_and_the_api(world):
    client = client_for(world.curator)
    page = client.get("/campaigns/camp/settings/")
    assert 'name="curator_may_accept" value="true" checked' in page.content.decode()
    form = {
        key: value
        for key, value in page.context["form"].items()
        if key
        in (
            "name",
            "panel_size",
            "accept_threshold",
            "target_release_size",
            "lease_minutes",
            "tokenizer",
        )
    }
    response = client.post("/campaigns/camp/settings/", form)  # the box left unticked
    assert response.status_code == 302
    world.campaign.refresh_from_db()
    assert world.campaign.curator_may_accept is False
    event = Event.objects.filter(kind=EventKind.CAMPAIGN_SETTINGS_CHANGED).latest("id")
    assert event.data["changes"] == {"curator_may_accept": {"from": True, "to": False}}
    response = api_for(world.curator).patch(
        f"{API}/campaigns/camp/settings/", {"curator_may_accept": True}, format="json"
    )
    assert response.status_code == 200 and response.json()["curator_may_accept"] is True
    response = api_for(world.annotators[0]).patch(
        f"{API}/campaigns/camp/settings/", {"curator_may_accept": False}, format="json"
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_one_accepted_revision_per_seed_holds_for_adjudication(world):
    world.add_seeds(1)
    first = decided(world, SPLIT)
    second = rewrite_return(rewrite_id=first.pk, actor=world.curator, note="again")
    world.draft(Assignment.objects.get(pk=second.assignment_id), version=second.version)
    rewrite_submit(assignment_id=second.assignment_id, actor=first.author)
    cast_panel(Rewrite.objects.get(pk=second.pk), ACCEPT)
    # A revision that a hand-edit left without consensus while a later one is accepted.
    Rewrite.objects.filter(pk=first.pk).update(status="no_consensus")
    with pytest.raises(Exception, match="already accepted"):
        rewrite_adjudicate(
            rewrite_id=first.pk, actor=world.curator, decision="accepted", reason="x"
        )
    assert Rewrite.objects.filter(seed_id=first.seed_id, status="accepted").count() == 1


# -- services: reopen -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("votes,status", [(REJECT, "rejected"), (SPLIT, "no_consensus")])
def test_reopen_goes_back_to_the_status_it_was_closed_from(world, votes, status):
    world.add_seeds(1)
    rewrite = decided(world, votes)
    rewrite_close(rewrite_id=rewrite.pk, actor=world.curator, note="Closing.")
    reopened = rewrite_reopen(rewrite_id=rewrite.pk, actor=world.curator, note="Second look.")
    assert reopened.status == status
    rewrite.refresh_from_db()
    assert (rewrite.status, rewrite.closed_from, rewrite.curator_note) == (
        status,
        "",
        "Second look.",
    )
    [event] = events_of(rewrite, EventKind.REWRITE_REOPENED)
    assert (event.from_state, event.to_state) == ("closed", status)
    assert event.data == {"note": "Second look.", "reopened_to": status}
    loop = client_for(world.curator).get("/campaigns/camp/dashboard/").context["loop"]
    assert [r.pk for r in loop.decided] == [rewrite.pk] and loop.closed_total == 0
    # And it can be decided again: returned, or (no consensus) adjudicated.
    if status == "no_consensus":
        rewrite_adjudicate(
            rewrite_id=rewrite.pk, actor=world.curator, decision="accepted", reason="Yes."
        )
    else:
        rewrite_return(rewrite_id=rewrite.pk, actor=world.curator, note="Fix it.")


@pytest.mark.django_db
def test_reopen_only_closed(world):
    world.add_seeds(3)
    rejected = decided(world, REJECT, world.annotators[0])
    accepted = decided(world, ACCEPT, world.annotators[1])
    waiting = world.submitted(world.annotators[2])
    for rewrite, words in [(rejected, "rejected"), (accepted, "accepted"), (waiting, "submitted")]:
        with pytest.raises(InvalidTransition, match=f"Only a closed rewrite.*this one is {words}"):
            rewrite_reopen(rewrite_id=rewrite.pk, actor=world.curator)
    assert not Event.objects.filter(kind=EventKind.REWRITE_REOPENED).exists()


# -- access -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_decisions_are_for_curators_of_the_campaign_and_operators(world, make_world):
    world.add_seeds(3)
    split = decided(world, SPLIT, world.annotators[0])
    foreign = make_world("other").curator
    attempts = [
        lambda actor: rewrite_close(rewrite_id=split.pk, actor=actor),
        lambda actor: rewrite_adjudicate(
            rewrite_id=split.pk, actor=actor, decision="rejected", reason="x"
        ),
    ]
    for attempt in attempts:
        for member in (world.annotators[0], world.reviewers[0]):
            with pytest.raises(NotAllowed):
                attempt(member)
        with pytest.raises(NotFound):
            attempt(foreign)
    with pytest.raises(NotFound):
        rewrite_close(rewrite_id=999_999, actor=world.curator)
    split.refresh_from_db()
    assert split.status == "no_consensus"
    op = operator()
    rewrite_close(rewrite_id=split.pk, actor=op)
    for member in (world.annotators[0], world.reviewers[0]):
        with pytest.raises(NotAllowed):
            rewrite_reopen(rewrite_id=split.pk, actor=member)
    with pytest.raises(NotFound):
        rewrite_reopen(rewrite_id=split.pk, actor=foreign)
    rewrite_reopen(rewrite_id=split.pk, actor=op)
    rewrite_adjudicate(rewrite_id=split.pk, actor=op, decision="accepted", reason="Operator.")
    split.refresh_from_db()
    assert split.status == "accepted"
    assert Event.objects.filter(object_id=split.pk, actor=op).count() == 3


# -- API --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_close_adjudicate_reopen_for_each_role_and_a_foreign_campaign(world, make_world):
    world.add_seeds(3)
    split = decided(world, SPLIT, world.annotators[0])
    rejected = decided(world, REJECT, world.annotators[1])
    foreign = make_world("other").curator
    calls = [
        (f"{API}/rewrites/{split.pk}/adjudicate/", {"decision": "rejected", "reason": "x"}),
        (f"{API}/rewrites/{rejected.pk}/close/", {"note": "x"}),
        (f"{API}/rewrites/{rejected.pk}/reopen/", {"note": "x"}),
    ]
    for url, body in calls:
        for member in (world.annotators[0], world.reviewers[0]):
            response = api_for(member).post(url, body, format="json")
            assert response.status_code == 403, (url, response.content)
            assert "curator" in response.json()["detail"].lower()
        assert api_for(foreign).post(url, body, format="json").status_code == 404
        assert Client().post(url, body).status_code in (401, 403)
    assert api_for(world.curator).post(f"{API}/rewrites/999999/close/", {}).status_code == 404

    curator = api_for(world.curator)
    # Close: returns the rewrite with its votes and the decision fields.
    response = curator.post(
        f"{API}/rewrites/{rejected.pk}/close/", {"note": "Spam."}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"], body["closed_from"], body["curator_note"]) == (
        rejected.pk,
        "closed",
        "rejected",
        "Spam.",
    )
    assert body["tally"]["invalid"] == 4 and len(body["votes"]) == 4
    # A second close is a 409 naming the state.
    response = curator.post(f"{API}/rewrites/{rejected.pk}/close/", {}, format="json")
    assert response.status_code == 409 and "this one is closed" in response.json()["detail"]
    # Reopen.
    response = curator.post(f"{API}/rewrites/{rejected.pk}/reopen/", {}, format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["closed_from"]) == ("rejected", "")
    response = curator.post(f"{API}/rewrites/{rejected.pk}/reopen/", {}, format="json")
    assert response.status_code == 409 and "this one is rejected" in response.json()["detail"]
    # Adjudicate: the reason is required and named; an unknown decision too.
    response = curator.post(
        f"{API}/rewrites/{split.pk}/adjudicate/", {"decision": "accepted"}, format="json"
    )
    assert response.status_code == 400 and "reason" in response.json()["errors"]
    response = curator.post(
        f"{API}/rewrites/{split.pk}/adjudicate/",
        {"decision": "maybe", "reason": "x"},
        format="json",
    )
    assert response.status_code == 400 and "decision" in response.json()["errors"]
    response = curator.post(
        f"{API}/rewrites/{split.pk}/adjudicate/",
        {"decision": "accepted", "reason": "Clear and solvable."},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["decided_by_curator"], body["curator_note"]) == (
        "accepted",
        True,
        "Clear and solvable.",
    )
    assert body["decided_at"]
    response = curator.post(
        f"{API}/rewrites/{split.pk}/adjudicate/",
        {"decision": "rejected", "reason": "x"},
        format="json",
    )
    assert response.status_code == 409 and "this one is accepted" in response.json()["detail"]
    # The curator's rewrite list filters on the new status.
    rewrite_close(rewrite_id=rejected.pk, actor=world.curator)
    listed = curator.get(f"{API}/campaigns/camp/rewrites/?status=closed").json()
    assert [r["id"] for r in listed["results"]] == [rejected.pk]


# -- pages ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_confirmation_pages_show_the_rewrite_escaped_with_its_tally(world):
    world.add_seeds(1)
    split = decided(world, SPLIT, text="Explain <script>alert(1)</script> in the DOM.")
    client = client_for(world.curator)
    for action in ("close", "adjudicate"):
        page = client.get(f"/rewrites/{split.pk}/{action}/?next=/campaigns/camp/dashboard/")
        assert page.status_code == 200
        html = page.content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "2 valid, 2 invalid of a panel of 4" in html
        assert 'name="csrfmiddlewaretoken"' in html
        assert f'id="{action}-form"' in html
        assert 'name="next" value="/campaigns/camp/dashboard/"' in html
    html = client.get(f"/rewrites/{split.pk}/adjudicate/").content.decode()
    assert 'value="accepted"' in html
    # Reopen does not apply to a rewrite that is not closed: the page says why, with no form.
    html = client.get(f"/rewrites/{split.pk}/reopen/").content.decode()
    assert "Only a closed rewrite can be reopened; this one is no consensus." in html
    assert 'id="reopen-form"' not in html
    # Accepting is not offered where the campaign forbids it.
    campaign_settings_update(campaign=world.campaign, actor=world.curator, curator_may_accept=False)
    html = client.get(f"/rewrites/{split.pk}/adjudicate/").content.decode()
    assert 'value="accepted"' not in html and 'id="accept-off"' in html


@pytest.mark.django_db
def test_pages_post_with_csrf_and_go_to_a_safe_next(world, make_world):
    world.add_seeds(2)
    split = decided(world, SPLIT, world.annotators[0])
    rejected = decided(world, REJECT, world.annotators[1])
    strict = client_for(world.curator, enforce_csrf_checks=True)
    assert strict.post(f"/rewrites/{rejected.pk}/close/", {"note": "x"}).status_code == 403
    rejected.refresh_from_db()
    assert rejected.status == "rejected"

    client = client_for(world.curator)
    response = client.post(
        f"/rewrites/{rejected.pk}/close/", {"note": "Spam.", "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/campaigns/camp/dashboard/#revision-loop"
    rejected.refresh_from_db()
    assert rejected.status == "closed"
    followed = client.get(response["Location"])
    assert f"Closed revision 1 of seed {rejected.seed.external_id}." in followed.content.decode()

    response = client.post(
        f"/rewrites/{rejected.pk}/reopen/", {"next": "/campaigns/camp/browse/?status=closed"}
    )
    assert response["Location"] == "/campaigns/camp/browse/?status=closed"
    rejected.refresh_from_db()
    assert rejected.status == "rejected"

    # A missing reason: the page again, 400, the message and the field named, nothing changed.
    response = client.post(f"/rewrites/{split.pk}/adjudicate/", {"decision": "accepted"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "The decision is incomplete." in html and "reason" in html
    response = client.post(
        f"/rewrites/{split.pk}/adjudicate/", {"decision": "accepted", "reason": "Fine."}
    )
    assert response.status_code == 302
    split.refresh_from_db()
    assert split.status == "accepted" and split.curator_note == "Fine."
    # A decision that no longer applies: the page with the 409 message.
    response = client.post(f"/rewrites/{split.pk}/close/", {})
    assert response.status_code == 409
    assert "this one is accepted" in response.content.decode()

    # Roles and a foreign campaign.
    for member in (world.annotators[0], world.reviewers[0]):
        assert client_for(member).get(f"/rewrites/{rejected.pk}/close/").status_code == 403
        assert client_for(member).post(f"/rewrites/{rejected.pk}/close/", {}).status_code == 403
    outsider = client_for(make_world("other").curator)
    assert outsider.get(f"/rewrites/{rejected.pk}/close/").status_code == 404
    assert outsider.post(f"/rewrites/{rejected.pk}/reopen/", {}).status_code == 404
    rejected.refresh_from_db()
    assert rejected.status == "rejected"


@pytest.mark.django_db
def test_dashboard_offers_decisions_and_lists_closed_in_bounded_queries(world):
    world.add_seeds(8)
    split = decided(world, SPLIT, world.annotators[0])
    rejected = decided(world, REJECT, world.annotators[1])
    client = client_for(world.curator)
    html = client.get("/campaigns/camp/dashboard/").content.decode()
    assert f'action="/rewrites/{split.pk}/adjudicate/"' in html
    assert f'action="/rewrites/{rejected.pk}/adjudicate/"' not in html  # no consensus only
    assert f'action="/rewrites/{rejected.pk}/close/"' in html
    assert 'value="accepted">Accept</button>' in html
    campaign_settings_update(campaign=world.campaign, actor=world.curator, curator_may_accept=False)
    html = client.get("/campaigns/camp/dashboard/").content.decode()
    assert 'value="accepted">Accept</button>' not in html and "Accepting is off" in html

    def queries() -> int:
        client.get("/campaigns/camp/dashboard/")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/campaigns/camp/dashboard/").status_code == 200
        return len(ctx)

    rewrite_close(rewrite_id=rejected.pk, actor=world.curator)
    one = queries()
    for annotator in world.annotators[2:]:
        rewrite_close(rewrite_id=decided(world, REJECT, annotator).pk, actor=world.curator)
    html = client.get("/campaigns/camp/dashboard/").content.decode()
    assert html.count('class="inline reopen-form"') == 3
    assert queries() == one


# -- the funnel adds up -----------------------------------------------------------------------


def build_every_outcome(world: Any) -> dict[str, Rewrite]:
    """A campaign with every kind of outcome, through the services."""
    a1, a2, a3, a4 = world.annotators
    world.add_seeds(16)
    out = {
        "panel_accepted": decided(world, ACCEPT, a1),
        "panel_rejected": decided(world, REJECT, a2),
        "curator_accepted": decided(world, SPLIT, a3),
        "curator_rejected": decided(world, SPLIT, a4),
        "closed_rejected": decided(world, REJECT, a1),
        "closed_split": decided(world, SPLIT, a2),
        "reopened": decided(world, SPLIT, a3),
        "returned": decided(world, REJECT, a4),
        "waiting": world.submitted(a1),
        "revised": decided(world, REJECT, a2),
    }
    rewrite_adjudicate(
        rewrite_id=out["curator_accepted"].pk, actor=world.curator, decision="accepted", reason="ok"
    )
    rewrite_adjudicate(
        rewrite_id=out["curator_rejected"].pk,
        actor=world.curator,
        decision="rejected",
        reason="no",
    )
    rewrite_close(rewrite_id=out["closed_rejected"].pk, actor=world.curator, note="spam")
    rewrite_close(rewrite_id=out["closed_split"].pk, actor=world.curator)
    rewrite_close(rewrite_id=out["reopened"].pk, actor=world.curator)
    rewrite_reopen(rewrite_id=out["reopened"].pk, actor=world.curator)
    rewrite_return(rewrite_id=out["returned"].pk, actor=world.curator, note="again")
    # Returned, revised and resubmitted, then accepted by a fresh panel.
    second = rewrite_return(rewrite_id=out["revised"].pk, actor=world.curator, note="fix")
    world.draft(Assignment.objects.get(pk=second.assignment_id), version=second.version)
    rewrite_submit(assignment_id=second.assignment_id, actor=second.author)
    cast_panel(Rewrite.objects.get(pk=second.pk), ACCEPT)
    # Seeds passed on: one skipped twice (then rejected by a third annotator), one skipped and
    # left in the pool; one seed with a first draft in progress.
    skipped = world.claim(a3)
    assignment_skip(assignment_id=skipped.pk, actor=a3, reason="not my language")
    again = world.claim(a4)
    assert again.seed_id == skipped.seed_id
    assignment_skip(assignment_id=again.pk, actor=a4)
    third = world.claim(a1)
    assert third.seed_id == skipped.seed_id
    assignment_reject_seed(assignment_id=third.pk, actor=a1, reason="off_topic")
    alone = world.claim(a2)
    assignment_skip(assignment_id=alone.pk, actor=a2)
    world.draft(world.claim(a3))
    return out


@pytest.mark.django_db
def test_funnel_identities_over_every_kind_of_outcome(world):
    build_every_outcome(world)
    campaign = world.campaign
    funnel = campaign_funnel(campaign)

    # Counted straight from the tables.
    seeds = list(Seed.objects.filter(campaign=campaign))
    rewrites = list(Rewrite.objects.filter(campaign=campaign))
    assignments = list(Assignment.objects.filter(campaign=campaign))
    by_status = Counter(r.status for r in rewrites)
    assert funnel == {
        "seeds": 16,
        "sampled": 16,
        "assigned": 12,  # 10 rewritten, 1 rejected by an annotator, 1 first draft
        "rewritten": 10,
        "rejected_by_annotators": 1,
        "skipped": 3,
        "submitted": 11,
        "waiting_for_votes": 1,
        "waiting_for_reviewers": 0,
        "accepted": 3,
        "rejected": 2,
        "no_consensus": 1,
        "returned": 2,
        "in_revision": 1,
        "closed": 2,
        "curator_accepted": 1,
        "curator_rejected": 1,
        "contaminated": 0,
        "releasable": 3,
    }, funnel
    assert funnel["skipped"] == sum(a.status == "skipped" for a in assignments)
    assert funnel["closed"] == by_status["closed"]
    assert funnel["curator_accepted"] == sum(
        r.status == "accepted" and r.decided_by_curator for r in rewrites
    )

    # Every identity.
    assert funnel["seeds"] >= funnel["sampled"] >= funnel["assigned"]
    assert funnel["submitted"] == (
        funnel["waiting_for_votes"]
        + funnel["accepted"]
        + funnel["rejected"]
        + funnel["no_consensus"]
        + funnel["returned"]
        + funnel["closed"]
    )
    assert funnel["rewritten"] == (
        funnel["waiting_for_votes"]
        + funnel["accepted"]
        + funnel["rejected"]
        + funnel["no_consensus"]
        + funnel["closed"]
        + funnel["in_revision"]
    )
    first_drafts = sum(
        s.status == "assigned"
        and not any(r.seed_id == s.pk and r.status != "draft" for r in rewrites)
        for s in seeds
    )
    assert first_drafts == 1
    assert funnel["assigned"] == (
        funnel["rejected_by_annotators"] + funnel["rewritten"] + first_drafts
    )
    in_pool = sum(s.status == "sampled" for s in seeds)
    assert funnel["sampled"] == funnel["assigned"] + in_pool
    assert funnel["curator_accepted"] <= funnel["accepted"]
    assert funnel["curator_rejected"] <= funnel["rejected"]
    assert funnel["releasable"] == funnel["accepted"] - funnel["contaminated"]
    # Skips are no rejections: the twice-skipped seed counts once, as rejected by its third
    # annotator, and the skip-only seed is back in the pool.
    assert funnel["rejected_by_annotators"] == len(
        {a.seed_id for a in assignments if a.status == "rejected"}
    )
    assert in_pool == 4


@pytest.mark.django_db
def test_stats_api_dashboard_release_and_card_report_the_decisions(world, tmp_path):
    out = build_every_outcome(world)
    stats = api_for(world.curator).get(f"{API}/campaigns/camp/stats/").json()
    funnel = stats["funnel"]
    assert (funnel["closed"], funnel["curator_accepted"], funnel["curator_rejected"]) == (2, 1, 1)
    assert (funnel["skipped"], funnel["in_revision"]) == (3, 1)
    assert sum(day["closed"] for day in stats["progress"]) == 2

    page = client_for(world.curator).get("/campaigns/camp/dashboard/")
    rows = {row["key"]: row["value"] for row in page.context["funnel"]}
    for key in ("closed", "curator_accepted", "curator_rejected", "skipped", "in_revision"):
        assert rows[key] == funnel[key], key
    html = page.content.decode()
    assert 'data-key="closed"><th scope="row">Closed</th><td class="num">2<' in html
    loop = page.context["loop"]
    # Waiting now: the panel-rejected, the curator-rejected and the reopened no-consensus one.
    assert loop.decided_total == 3
    assert {r.pk for r in loop.decided} == {
        out["panel_rejected"].pk,
        out["curator_rejected"].pk,
        out["reopened"].pk,
    }
    assert {r.pk for r in loop.closed} == {out["closed_rejected"].pk, out["closed_split"].pk}

    built = release_build(
        campaign=world.campaign, out_dir=tmp_path / "rel", parameters=ReleaseParameters()
    )
    released = built.stats["funnel"]
    assert released["released"] == 3 and released["released_curator_decided"] == 1
    card = (tmp_path / "rel" / "README.md").read_text()
    for line in [
        "| Revisions closed by a curator (final, never released) | 2 |",
        "| of which accepted by a curator (no consensus, adjudicated) | 1 |",
        "| of which rejected by a curator (no consensus, adjudicated) | 1 |",
        "| Skips: a seed passed on by an annotator, back to the pool (not a rejection) | 3 |",
        "| Samples released | 3 |",
        "| of which accepted by a curator | 1 |",
    ]:
        assert line in card, line
    assert "rejected 1 seed as unsuitable" in card
    assert "accepting 1 rewrite and rejecting 1" in card
    assert "closed 2 rewrites for good" in card
    assert "1 of the 3 released samples was accepted by a curator" in card
    assert "3 times an annotator passed a seed on" in card
    assert " 1 seeds" not in card and " 1 rewrites" not in card and " 1 panels" not in card


@pytest.mark.django_db
def test_card_without_curator_decisions_keeps_its_account_short(world, tmp_path):
    world.add_seeds(1)
    decided(world, ACCEPT)
    release_build(campaign=world.campaign, out_dir=tmp_path / "rel", parameters=ReleaseParameters())
    card = (tmp_path / "rel" / "README.md").read_text()
    assert "Curator decisions" not in card
    assert "| Revisions closed by a curator (final, never released) | 0 |" in card
    assert "1 seed question was pooled" in card
    assert "1 was accepted" in card and "over 1 complete panel was" in card


@pytest.fixture
def schema() -> dict[str, Any]:
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db
def test_decision_responses_match_the_schema(world, schema):
    world.add_seeds(2)
    split = decided(world, SPLIT, world.annotators[0])
    rejected = decided(world, REJECT, world.annotators[1])
    curator = api_for(world.curator)
    ok = [
        ("/api/v1/rewrites/{id}/close/", rejected.pk, {"note": "x"}),
        ("/api/v1/rewrites/{id}/reopen/", rejected.pk, {}),
        ("/api/v1/rewrites/{id}/adjudicate/", split.pk, {"decision": "accepted", "reason": "y"}),
    ]
    for template, pk, body in ok:
        response = curator.post(template.replace("{id}", str(pk)), body, format="json")
        assert response.status_code == 200, response.content
        check(schema, "post", template, response)
    # Every refusal's status is documented for its endpoint.
    refusals = [
        ("/api/v1/rewrites/{id}/close/", split.pk, {}, world.curator, 409),
        ("/api/v1/rewrites/{id}/reopen/", split.pk, {}, world.curator, 409),
        ("/api/v1/rewrites/{id}/adjudicate/", split.pk, {"decision": "x"}, world.curator, 400),
        ("/api/v1/rewrites/{id}/close/", rejected.pk, {"note": "n" * 5001}, world.curator, 400),
        ("/api/v1/rewrites/{id}/close/", rejected.pk, {}, world.reviewers[0], 403),
        (
            "/api/v1/rewrites/{id}/adjudicate/",
            999_999,
            {"decision": "rejected", "reason": "x"},
            world.curator,
            404,
        ),
    ]
    for template, pk, body, user, status in refusals:
        response = api_for(user).post(template.replace("{id}", str(pk)), body, format="json")
        assert response.status_code == status, (template, response.content)
        assert str(status) in schema["paths"][template]["post"]["responses"], (template, status)
        assert response.json()["detail"]
