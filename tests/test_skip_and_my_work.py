"""Annotators skip a seed (back to the pool, never offered to them again, never a rejection),
*Next seed* opens their oldest untouched open seed before claiming and says truthfully why
there is none, a submit is confirmed on the next page, and "My work" (API and pages) shows
their submitted revisions with status, outcome and the feedback of returned ones, never votes
or voters."""

import json
from collections import Counter
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from annotation.models import Assignment, Event, Rewrite, Seed
from annotation.services import (
    assignment_claim_next,
    assignment_open_next,
    assignment_reject_seed,
    assignment_skip,
    assignments_release,
    deal_order,
    seeds_assign,
)
from annotation.services.seeds import seeds_deal_preview
from core.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed
from core.transitions import EventKind
from review.services import rewrite_return, rewrite_submit
from review.stats import campaign_funnel

from .conftest import GOOD_DRAFT, api_for, cast_panel
from .test_concurrency import run_together
from .test_schema import check

API = "/api/v1"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def returned_rewrite(world: Any, annotator: Any = None) -> tuple[Rewrite, Rewrite]:
    """A revision 1 rejected by its panel and returned: (the returned one, the new draft)."""
    rewrite = world.submitted(annotator)
    cast_panel(
        rewrite,
        ["invalid", "invalid", "invalid", "valid"],
        ["Which Python version?", "", "Say what n is.", "Fine by me"],
    )
    new = rewrite_return(rewrite_id=rewrite.pk, actor=world.curator, note="Please answer both.")
    rewrite.refresh_from_db()
    return rewrite, new


# --- the skip service ---------------------------------------------------------------------------


def test_skip_moves_assignment_and_seed_back_to_the_pool_keeping_the_draft(world):
    world.add_seeds(2)
    annotator = world.annotators[0]
    assignment = world.claim(annotator)
    draft = world.draft(assignment, text="Half an idea")
    skipped = assignment_skip(
        assignment_id=assignment.pk, actor=annotator, reason="  Outside my expertise (Rust). "
    )
    assert skipped.status == "skipped"
    assignment.refresh_from_db()
    assert assignment.status == "skipped"
    assert assignment.skip_reason == "Outside my expertise (Rust)."
    assert Seed.objects.get(pk=assignment.seed_id).status == "sampled"
    # The draft stays with the skipped assignment, for the record.
    draft.refresh_from_db()
    assert (draft.assignment_id, draft.status, draft.text) == (
        assignment.pk,
        "draft",
        "Half an idea",
    )
    events = {
        e.kind: e
        for e in Event.objects.filter(kind__in=["assignment.skipped", "seed.back_to_pool"])
    }
    skip_event = events["assignment.skipped"]
    assert (skip_event.object_id, skip_event.from_state, skip_event.to_state) == (
        assignment.pk,
        "active",
        "skipped",
    )
    assert skip_event.actor_id == annotator.pk
    assert skip_event.data == {"seed": assignment.seed_id, "reason": "Outside my expertise (Rust)."}
    pool_event = events["seed.back_to_pool"]
    assert (pool_event.object_id, pool_event.from_state, pool_event.to_state) == (
        assignment.seed_id,
        "assigned",
        "sampled",
    )
    # Skipped is final for the assignment: no second skip, no submit.
    with pytest.raises(InvalidTransition):
        assignment_skip(assignment_id=assignment.pk, actor=annotator)


def test_a_skip_is_never_a_rejection(world):
    world.add_seeds(3)
    annotator = world.annotators[0]
    assignment_skip(assignment_id=world.claim(annotator).pk, actor=annotator)
    funnel = campaign_funnel(world.campaign)
    assert funnel["rejected_by_annotators"] == 0
    assignment_reject_seed(
        assignment_id=world.claim(annotator).pk, actor=annotator, reason="unclear"
    )
    assert campaign_funnel(world.campaign)["rejected_by_annotators"] == 1
    assert not Assignment.objects.filter(status="skipped").exclude(reject_reason="").exists()


def test_a_too_long_reason_is_refused_and_changes_nothing(world):
    world.add_seeds(1)
    assignment = world.claim()
    with pytest.raises(ValidationFailed) as err:
        assignment_skip(assignment_id=assignment.pk, actor=assignment.annotator, reason="x" * 301)
    assert "300" in err.value.details["errors"]["reason"][0]
    assignment.refresh_from_db()
    assert assignment.status == "active" and assignment.seed.status == "assigned"
    assert not Event.objects.filter(kind="assignment.skipped").exists()
    # Exactly 300 characters is fine.
    assignment_skip(assignment_id=assignment.pk, actor=assignment.annotator, reason="y" * 300)
    assignment.refresh_from_db()
    assert assignment.skip_reason == "y" * 300


def test_a_rewrite_returned_for_revision_cannot_be_skipped(world):
    world.add_seeds(1)
    returned, new = returned_rewrite(world)
    with pytest.raises(InvalidTransition) as err:
        assignment_skip(assignment_id=new.assignment_id, actor=new.author)
    assert "returned to you for revision" in err.value.message
    assert "curator" in err.value.message and "reassign" in err.value.message
    assert Assignment.objects.get(pk=new.assignment_id).status == "active"
    assert Seed.objects.get(pk=new.seed_id).status == "assigned"


def test_only_the_annotator_skips_their_own_assignment(world, make_world):
    world.add_seeds(1)
    assignment = world.claim(world.annotators[0])
    with pytest.raises(NotFound):  # another annotator's
        assignment_skip(assignment_id=assignment.pk, actor=world.annotators[1])
    with pytest.raises(NotFound):  # a member of another campaign
        assignment_skip(assignment_id=assignment.pk, actor=make_world(slug="else").annotators[0])
    with pytest.raises(NotFound):  # no such assignment
        assignment_skip(assignment_id=999_999, actor=world.annotators[0])
    with pytest.raises(NotAllowed):  # a reviewer of the campaign
        assignment_skip(assignment_id=assignment.pk, actor=world.reviewers[0])
    with pytest.raises(NotAllowed):  # a curator does not skip for the annotator
        assignment_skip(assignment_id=assignment.pk, actor=world.curator)
    assert Assignment.objects.get(pk=assignment.pk).status == "active"


# --- never offered again ------------------------------------------------------------------------


def test_claim_never_offers_a_skipped_seed_again_but_offers_it_to_others(world):
    world.add_seeds(2)
    me, other = world.annotators[0], world.annotators[1]
    first = world.claim(me)
    assignment_skip(assignment_id=first.pk, actor=me)
    second = world.claim(me)
    assert second.seed_id != first.seed_id
    assert world.claim(me) is None  # the only seed left is the one I skipped
    theirs = world.claim(other)
    assert theirs.seed_id == first.seed_id
    # Skipped again by them, released by nobody: still never mine.
    assignment_skip(assignment_id=theirs.pk, actor=other)
    assert world.claim(me) is None
    assert world.claim(world.annotators[2]).seed_id == first.seed_id


def test_dealing_never_deals_a_seed_to_an_annotator_who_skipped_it(world):
    world.add_seeds(8)
    skipper = world.annotators[0]
    skipped_seeds = []
    for _ in range(3):
        assignment = world.claim(skipper)
        assignment_skip(assignment_id=assignment.pk, actor=skipper)
        skipped_seeds.append(assignment.seed_id)
    # The preview the curator confirms deals exactly what the real step deals.
    preview = seeds_deal_preview(campaign=world.campaign, seed=7)
    report = seeds_assign(campaign=world.campaign, seed=7)
    assert report.assigned == 8
    assert {share.annotator: share.seeds for share in preview.annotators} == report.per_annotator
    dealt = Assignment.objects.filter(status="active", seed_id__in=skipped_seeds)
    assert dealt.count() == 3
    assert skipper.pk not in set(dealt.values_list("annotator_id", flat=True))
    assert Seed.objects.filter(campaign=world.campaign, status="sampled").count() == 0


def test_deal_order_passes_a_refused_item_on_and_leaves_out_one_everybody_refuses():
    groups = {"a": [1, 2, 3, 4], "b": [5, 6]}
    plain = deal_order(groups, ["x", "y"], seed=1)
    refused = {(item, who) for item, who in plain if item in {1, 5}} | {(6, "x"), (6, "y")}
    pairs = deal_order(groups, ["x", "y"], seed=1, refuses=lambda i, a: (i, a) in refused)
    assert not refused & set(pairs)
    assert sorted(item for item, _ in pairs) == [1, 2, 3, 4, 5]  # 6 refused by everybody
    moved = dict(pairs)
    assert moved[1] != dict(plain)[1] and moved[5] != dict(plain)[5]
    # Without refusals the order is what it was.
    assert deal_order(groups, ["x", "y"], seed=1, refuses=lambda i, a: False) == plain


# --- Next seed ----------------------------------------------------------------------------------


def test_next_seed_opens_the_oldest_untouched_open_seed_before_claiming(world):
    world.add_seeds(5)
    me = world.annotators[0]
    first, second, third = (world.claim(me) for _ in range(3))
    world.draft(first)
    found = assignment_open_next(campaign=world.campaign, actor=me)
    assert (found.assignment.pk, found.claimed) == (second.pk, False)
    world.draft(second)
    assert assignment_open_next(campaign=world.campaign, actor=me).assignment.pk == third.pk
    world.draft(third)
    found = assignment_open_next(campaign=world.campaign, actor=me)
    assert found.claimed and found.assignment.pk not in {first.pk, second.pk, third.pk}
    # A returned revision is open but not untouched: it is never "opened next".
    assert Assignment.objects.filter(annotator=me, status="active").count() == 4


def test_next_seed_messages_say_what_is_true(make_world):
    world = make_world(slug="msgs")
    world.add_seeds(3)
    me, other = world.annotators[0], world.annotators[1]
    mine = [world.claim(me) for _ in range(2)]
    for assignment in mine:
        world.draft(assignment)
    world.claim(other)
    found = assignment_open_next(campaign=world.campaign, actor=me)
    assert found.assignment is None
    assert found.message == (
        "You have 2 open seeds; finish or skip one. "
        "Every seed of this campaign is taken (1 is being rewritten by others)."
    )
    # Nothing open of mine: only what others hold.
    for assignment in mine:
        rewrite_submit(assignment_id=assignment.pk, actor=me)
    assert assignment_open_next(campaign=world.campaign, actor=me).message == (
        "Every seed of this campaign is taken (1 is being rewritten by others)."
    )
    # The seed left in the pool is one I skipped.
    theirs = Assignment.objects.get(annotator=other, status="active")
    assignment_skip(assignment_id=theirs.pk, actor=other)
    mine_again = world.claim(me)
    assignment_skip(assignment_id=mine_again.pk, actor=me)
    assert assignment_open_next(campaign=world.campaign, actor=me).message == (
        "No new seed is left for you: the 1 seed still in the pool is one you skipped."
    )
    # Nothing anywhere.
    empty = make_world(slug="empty")
    assert assignment_open_next(campaign=empty.campaign, actor=empty.annotators[0]).message == (
        "No seed is left to claim in this campaign."
    )


def test_next_seed_page_at_the_cap_says_you_have_n_open_seeds(make_world):
    world = make_world(slug="cap12", max_active_assignments=12)
    world.add_seeds(20)
    me = world.annotators[0]
    for _ in range(12):
        world.draft(world.claim(me))
    res = client_for(me).post("/campaigns/cap12/next/", follow=True)
    assert res.redirect_chain == [("/campaigns/cap12/queue/", 302)]
    page = res.content.decode()
    assert "You have 12 open seeds, the most this campaign allows; finish or skip one" in page
    assert "No seed is left" not in page and "Well done" not in page


def test_the_page_after_a_submit_or_skip_confirms_it(world):
    world.add_seeds(4)
    me = world.annotators[0]
    client = client_for(me)
    assignment = world.claim(me)
    world.draft(assignment)
    rewrite_submit(assignment_id=assignment.pk, actor=me)
    res = client.post("/campaigns/camp/next/", {"done": assignment.pk}, follow=True)
    page = res.content.decode()
    name = assignment.seed.external_id
    assert f"Submitted revision 1 of \u201c{name}\u201d for review." in page
    current = Assignment.objects.get(annotator=me, status="active")
    assignment_skip(assignment_id=current.pk, actor=me)
    page = client.post("/campaigns/camp/next/", {"done": current.pk}, follow=True)
    name = current.seed.external_id
    assert f"Skipped \u201c{name}\u201d: it went back to the pool" in page.content.decode()
    # Another annotator's assignment confirms nothing (and says nothing about it).
    theirs = world.claim(world.annotators[1])
    page = client.post("/campaigns/camp/next/", {"done": theirs.pk}, follow=True)
    text = page.content.decode()
    assert "Submitted" not in text and "Skipped" not in text and theirs.seed.external_id not in text


# --- API: skip ----------------------------------------------------------------------------------


def test_skip_api_for_each_role_and_a_foreign_campaign(world, make_world, schema):
    world.add_seeds(3)
    me = world.annotators[0]
    assignment = world.claim(me)
    url = f"{API}/assignments/{assignment.pk}/skip/"
    for user, code in [
        (world.annotators[1], 404),
        (make_world(slug="foreign").annotators[0], 404),
        (world.reviewers[0], 403),
        (world.curator, 403),
    ]:
        res = api_for(user).post(url, {"reason": "no"}, format="json")
        assert res.status_code == code, (user.username, res.json())
        assert res.json()["detail"]
    res = api_for(me).post(url, {"reason": "z" * 301}, format="json")
    assert res.status_code == 400 and "reason" in res.json()["errors"]
    res = api_for(me).post(url, {"reason": "Not my field"}, format="json")
    assert res.status_code == 200
    body = res.json()
    assert (body["status"], body["skip_reason"], body["id"]) == (
        "skipped",
        "Not my field",
        assignment.pk,
    )
    check(schema, "post", "/api/v1/assignments/{id}/skip/", res)
    # No body at all: the reason is optional.
    res = api_for(me).post(f"{API}/assignments/{world.claim(me).pk}/skip/")
    assert res.status_code == 200 and res.json()["skip_reason"] == ""
    # Skipping it again, or a returned revision: 409 with what to do.
    assert api_for(me).post(url).status_code == 409
    _returned, new = returned_rewrite(world, world.annotators[2])
    res = api_for(world.annotators[2]).post(f"{API}/assignments/{new.assignment_id}/skip/")
    assert res.status_code == 409 and "reassign" in res.json()["detail"]
    # The claim API is unchanged: it claims a new seed (201), or 204 when none is left.
    other = api_for(world.annotators[3])
    assert other.post(f"{API}/campaigns/camp/assignments/next/").status_code == 201
    while (res := other.post(f"{API}/campaigns/camp/assignments/next/")).status_code == 201:
        pass
    assert res.status_code == 204


@pytest.fixture
def schema() -> dict[str, Any]:
    res = Client().get("/api/schema/?format=json")
    return json.loads(res.content)


# --- API: my rewrites ---------------------------------------------------------------------------


def my_history(world: Any) -> dict[str, Rewrite]:
    """Annotator 1's revisions in every state (and someone else's, and a draft)."""
    world.add_seeds(7)
    me = world.annotators[0]
    accepted = world.submitted(me)
    cast_panel(accepted, ["valid"] * 4)
    returned, new = returned_rewrite(world, me)
    waiting = world.submitted(me)
    no_consensus = world.submitted(me)
    cast_panel(no_consensus, ["valid", "valid", "invalid", "invalid"], ["secret-comment"] * 4)
    world.draft(world.claim(me))  # a draft: not listed
    world.submitted(world.annotators[1])  # someone else's: not listed
    for r in (accepted, waiting, no_consensus):
        r.refresh_from_db()
    return {
        "accepted": accepted,
        "returned": returned,
        "new": new,
        "waiting": waiting,
        "no_consensus": no_consensus,
    }


def test_my_rewrites_lists_every_submitted_revision_with_outcome_and_feedback(world, schema):
    mine = my_history(world)
    me = world.annotators[0]
    res = api_for(me).get(f"{API}/campaigns/camp/my-rewrites/")
    assert res.status_code == 200
    check(schema, "get", "/api/v1/campaigns/{slug}/my-rewrites/", res)
    body = res.json()
    rows = {r["id"]: r for r in body["results"]}
    assert body["count"] == 4
    assert set(rows) == {mine[k].pk for k in ("accepted", "returned", "waiting", "no_consensus")}
    # Newest submission first.
    assert [r["id"] for r in body["results"]] == [
        r.pk
        for r in sorted(
            (mine[k] for k in ("accepted", "returned", "waiting", "no_consensus")),
            key=lambda r: (r.submitted_at, r.pk),
            reverse=True,
        )
    ]
    returned = rows[mine["returned"].pk]
    assert returned["status"] == "returned"
    assert returned["outcome"] == "Returned for revision; continued as revision 2"
    assert returned["feedback"]["note"] == "Please answer both."
    assert returned["feedback"]["comments"] == [
        "Fine by me",
        "Say what n is.",
        "Which Python version?",
    ]
    assert returned["feedback"]["reasons"] == ["unclear"]
    assert returned["continue_assignment"] == mine["new"].assignment_id
    accepted = rows[mine["accepted"].pk]
    assert (accepted["status"], accepted["outcome"], accepted["feedback"]) == (
        "accepted",
        "Accepted by the reviewers",
        None,
    )
    assert accepted["seed"] == {
        "id": mine["accepted"].seed_id,
        "external_id": mine["accepted"].seed.external_id,
        "title": mine["accepted"].seed.title,
    }
    assert accepted["tags"] == {
        "difficulty": "easy",
        "programming_languages": ["python"],
        "natural_language": "en",
        "subcategory": GOOD_DRAFT["subcategory"],
        "category": mine["accepted"].subcategory.category.name,
    }
    assert accepted["decided_at"] and accepted["submitted_at"]
    waiting = rows[mine["waiting"].pk]
    assert waiting["status"] == "submitted" and waiting["decided_at"] is None
    assert waiting["outcome"].startswith("In review")
    assert rows[mine["no_consensus"].pk]["outcome"].startswith("No consensus")


def test_my_rewrites_never_shows_ballots_votes_or_voters(world):
    my_history(world)
    raw = api_for(world.annotators[0]).get(f"{API}/campaigns/camp/my-rewrites/").content.decode()
    for reviewer in world.reviewers:
        assert reviewer.username not in raw
    for word in ["ballot", "tally", "votes", "decision", "secret-comment", '"valid"', "rev1"]:
        assert word not in raw, word


def test_my_rewrites_for_each_role_and_a_foreign_campaign(world, make_world):
    url = f"{API}/campaigns/camp/my-rewrites/"
    assert api_for(world.reviewers[0]).get(url).status_code == 403
    assert api_for(world.curator).get(url).status_code == 403
    assert api_for(make_world(slug="foreign").annotators[0]).get(url).status_code == 404
    assert api_for(world.annotators[0]).get(f"{API}/campaigns/nope/my-rewrites/").status_code == 404
    res = api_for(world.annotators[1]).get(url)
    assert res.status_code == 200 and res.json()["count"] == 0
    assert Client().get(url).status_code in (401, 403)


def test_my_rewrites_query_count_does_not_grow_with_page_size(world):
    world.add_seeds(12)
    me = world.annotators[0]
    returned_rewrite(world, me)
    for _ in range(10):
        world.submitted(me)
    client = api_for(me)

    def queries(size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            res = client.get(f"{API}/campaigns/camp/my-rewrites/?page_size={size}")
        assert res.status_code == 200 and len(res.json()["results"]) == size
        return len(ctx.captured_queries)

    assert queries(2) == queries(11)


# --- pages --------------------------------------------------------------------------------------


def test_my_work_page_tabs_feedback_and_continue_link(world):
    mine = my_history(world)
    me = world.annotators[0]
    skipped = world.claim(me)
    assignment_skip(assignment_id=skipped.pk, actor=me, reason="<b>Not</b> my field")
    client = client_for(me)
    page = client.get("/campaigns/camp/my-work/").content.decode()
    for r in ("accepted", "returned", "waiting", "no_consensus"):
        assert f'href="/rewrites/{mine[r].pk}/view/"' in page
    returned = client.get("/campaigns/camp/my-work/?tab=returned").content.decode()
    assert "Please answer both." in returned and "Which Python version?" in returned
    assert f'href="/assignments/{mine["new"].assignment_id}/"' in returned
    assert "Continue revision 2" in returned
    assert f'href="/rewrites/{mine["accepted"].pk}/view/"' not in returned
    review = client.get("/campaigns/camp/my-work/?tab=in_review").content.decode()
    assert f"/rewrites/{mine['waiting'].pk}/view/" in review
    assert f"/rewrites/{mine['accepted'].pk}/view/" not in review
    decided = client.get("/campaigns/camp/my-work/?tab=decided").content.decode()
    assert f"/rewrites/{mine['no_consensus'].pk}/view/" in decided
    skipped_tab = client.get("/campaigns/camp/my-work/?tab=skipped").content.decode()
    assert "&lt;b&gt;Not&lt;/b&gt; my field" in skipped_tab and "<b>Not</b>" not in skipped_tab
    assert skipped.seed.external_id in skipped_tab
    for reviewer in world.reviewers:
        assert reviewer.username not in page + returned + decided
    assert "secret-comment" not in page + decided
    # The queue's "submitted" card links here.
    queue = client.get("/campaigns/camp/queue/").content.decode()
    assert 'id="submitted-link" href="/campaigns/camp/my-work/"' in queue


def test_my_work_page_access_and_queries(world, make_world):
    assert client_for(world.reviewers[0]).get("/campaigns/camp/my-work/").status_code == 403
    assert client_for(world.curator).get("/campaigns/camp/my-work/").status_code == 403
    stranger = make_world(slug="foreign").annotators[0]
    assert client_for(stranger).get("/campaigns/camp/my-work/").status_code == 404
    world.add_seeds(14)
    me = world.annotators[0]
    client = client_for(me)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/campaigns/camp/my-work/").status_code == 200
        return len(ctx.captured_queries)

    for _ in range(2):
        world.submitted(me)
    few = queries()
    returned_rewrite(world, me)
    for _ in range(8):
        world.submitted(me)
    assert queries() == few


def test_a_revision_opens_read_only_for_its_author_only(world, make_world):
    world.add_seeds(2)
    me = world.annotators[0]
    returned, new = returned_rewrite(world, me)
    client = client_for(me)
    url = f"/rewrites/{returned.pk}/view/"
    page = client.get(url).content.decode()
    assert "Returned for revision; continued as revision 2" in page
    assert "Please answer both." in page and "Say what n is." in page
    assert "<textarea" not in page  # read-only
    assert "<code>chunks(xs, n)</code>" in page  # the rewrite, rendered
    assert f'href="/assignments/{new.assignment_id}/"' in page
    for reviewer in world.reviewers:
        assert reviewer.username not in page
    # Revision 2, submitted, shows what it changed from revision 1 and the feedback it answered.
    world.draft(
        Assignment.objects.get(pk=new.assignment_id),
        version=new.version,
        text="Write a Python function `chunks(xs, n)` for n >= 1, Python 3.11.",
    )
    rewrite_submit(assignment_id=new.assignment_id, actor=me)
    second = client.get(f"/rewrites/{new.pk}/view/").content.decode()
    assert "Changes from revision 1" in second and "<ins>" in second
    assert "The feedback this revision answered" in second
    assert f'href="/rewrites/{returned.pk}/view/"' in second
    # Anyone else: 404 (another annotator, another campaign); a member without the annotator
    # role: 403 naming it (core.access's one rule).
    assert client_for(world.annotators[1]).get(url).status_code == 404
    assert client_for(make_world(slug="foreign").annotators[0]).get(url).status_code == 404
    assert client_for(world.reviewers[0]).get(url).status_code == 403
    assert client_for(world.curator).get(url).status_code == 403
    assert client.get("/rewrites/999999/view/").status_code == 404


def test_the_read_only_page_renders_hostile_text_inert(world):
    world.add_seeds(1)
    me = world.annotators[0]
    rewrite = world.submitted(
        me, text="Why <script>alert(1)</script> and [x](javascript:alert(2))?"
    )
    page = client_for(me).get(f"/rewrites/{rewrite.pk}/view/").content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert 'href="javascript:' not in page


# --- PostgreSQL: the claim's exclusion under SKIP LOCKED --------------------------------------


@pytest.mark.django_db(transaction=True)
def test_claims_racing_on_postgres_never_hand_out_a_seed_its_annotator_skipped(
    postgres, make_world
):
    world = make_world(slug="pgskip")
    annotators = world.annotators + [world.member(f"pgskip-x{i}", "annotator") for i in range(4)]
    world.add_seeds(30)
    # Annotator i skips the seed of rank i: they hold the i seeds before it while they claim
    # it, then those go back to the pool.
    skipped_by: dict[int, set[int]] = {}
    for i, annotator in enumerate(annotators):
        held = [assignment_claim_next(campaign=world.campaign, actor=annotator) for _ in range(i)]
        assignment = assignment_claim_next(campaign=world.campaign, actor=annotator)
        assignment_skip(assignment_id=assignment.pk, actor=annotator)
        skipped_by[annotator.pk] = {assignment.seed_id}
        with transaction.atomic():
            assignments_release(
                held, campaign_id=world.campaign.pk, actor=None, kind=EventKind.ASSIGNMENT_RELEASED
            )
    assert len(set().union(*skipped_by.values())) == len(annotators)
    assert Seed.objects.filter(status="sampled").count() == 30

    def claim_until_empty(annotator: Any) -> Any:
        def job() -> list[int]:
            got = []
            while (
                a := assignment_claim_next(campaign=world.campaign, actor=annotator)
            ) is not None:
                got.append(a.seed_id)
            return got

        return job

    outcomes = run_together([claim_until_empty(a) for a in annotators])
    assert [exc for _, exc in outcomes if exc is not None] == []
    handed = [seed for got, _ in outcomes for seed in got]
    assert [s for s, n in Counter(handed).items() if n > 1] == []
    assert sorted(handed) == sorted(Seed.objects.values_list("pk", flat=True))
    for annotator, (got, _) in zip(annotators, outcomes, strict=True):
        assert not skipped_by[annotator.pk] & set(got), annotator.username
    assert sum(1 for got, _ in outcomes if got) > 1
