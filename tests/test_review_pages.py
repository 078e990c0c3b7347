"""The reviewer's ballot queue and vote page, and the curator's dashboard, through Django's test
client: blind voting, final votes, access rules, the revision loop's return and reassign, figures
checked against counts computed here from the database, and bounded query counts."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from annotation.models import (
    Assignment,
    Event,
    Membership,
    Rewrite,
    Role,
    Seed,
)
from annotation.services import assignment_reject_seed
from review.models import Ballot
from review.services import ballot_cast, rewrite_return, rewrite_submit

from .conftest import api_for, cast_panel
from .scale import populate_reviewed


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def vote(rewrite, decisions: dict) -> None:
    """Cast the given reviewers' votes on ``rewrite`` ('invalid' with the reason 'unclear')."""
    for reviewer, decision in decisions.items():
        ballot = rewrite.ballots.get(reviewer=reviewer)
        ballot_cast(
            ballot_id=ballot.pk,
            actor=reviewer,
            decision=decision,
            reasons=[] if decision == "valid" else ["unclear"],
            comment=f"{reviewer.username} says {decision}",
        )


def text_of(response) -> str:
    return response.content.decode()


# -- reviewer queue and vote page -----------------------------------------------------------------


@pytest.mark.django_db
def test_queue_lists_pending_ballots_oldest_first_with_tags_and_counts(world):
    world.add_seeds(6)
    first = world.submitted(world.annotators[0], text="First rewrite to review, about sorting.")
    second = world.submitted(world.annotators[1], text="Second rewrite to review, about graphs.")
    reviewer = first.ballots.order_by("id").first().reviewer
    assert second.ballots.filter(reviewer=reviewer).exists()
    page = text_of(client_for(reviewer).get("/campaigns/camp/ballots/"))
    assert page.index("First rewrite to review") < page.index("Second rewrite to review")
    assert "Algorithm Design and Implementation" in page and "python" in page
    assert re.search(r'id="count-pending">2<', page) and re.search(r'id="count-cast">0<', page)
    vote(first, {reviewer: "valid"})
    page = text_of(client_for(reviewer).get("/campaigns/camp/ballots/"))
    assert re.search(r'id="count-pending">1<', page) and re.search(r'id="count-cast">1<', page)
    assert "First rewrite to review" in page.split('id="recent-votes"')[1]


@pytest.mark.django_db
def test_next_ballot_opens_the_oldest_pending_then_the_queue(world):
    world.add_seeds(4)
    first = world.submitted(world.annotators[0])
    reviewer = first.ballots.order_by("id").first().reviewer
    client = client_for(reviewer)
    response = client.get("/campaigns/camp/ballots/next/")
    assert response.status_code == 302
    assert response["Location"] == f"/ballots/{first.ballots.get(reviewer=reviewer).pk}/"
    vote(first, {reviewer: "valid"})
    response = client.get("/campaigns/camp/ballots/next/", follow=True)
    assert response.redirect_chain[-1][0] == "/campaigns/camp/ballots/"
    assert "No ballot is waiting for your vote" in text_of(response)


@pytest.mark.django_db
def test_vote_page_is_blind_until_i_vote_then_shows_tally_votes_and_author(world):
    world.add_seeds(2)
    rewrite = world.submitted(world.annotators[2])
    ballots = list(rewrite.ballots.select_related("reviewer").order_by("id"))
    vote(rewrite, {ballots[0].reviewer: "invalid", ballots[1].reviewer: "valid"})
    me = ballots[2].reviewer
    page = text_of(client_for(me).get(f"/ballots/{ballots[2].pk}/"))
    assert "<code>chunks(xs, n)</code>" in page  # the rewrite, rendered from markdown
    for hidden in (
        world.annotators[2].username,
        ballots[0].reviewer.username,
        ballots[1].reviewer.username,
        "says invalid",
        "says valid",
        'id="tally"',
    ):
        assert hidden not in page, hidden
    assert 'id="vote-form"' in page

    response = client_for(me).post(
        f"/ballots/{ballots[2].pk}/", {"decision": "valid", "comment": "clear and solvable"}
    )
    assert response.status_code == 302
    page = text_of(client_for(me).get(f"/ballots/{ballots[2].pk}/"))
    assert re.search(r'class="tally-valid">2 valid', page)
    assert re.search(r'class="tally-invalid">1 invalid', page)
    assert f'id="author">{world.annotators[2].username}<' in page
    assert ballots[0].reviewer.username in page and "says invalid" in page
    assert 'id="vote-form"' not in page


@pytest.mark.django_db
def test_second_vote_from_the_page_is_409_and_counted_once(world):
    world.add_seeds(2)
    rewrite = world.submitted()
    ballot = rewrite.ballots.select_related("reviewer").first()
    client = client_for(ballot.reviewer)
    assert client.post(f"/ballots/{ballot.pk}/", {"decision": "valid"}).status_code == 302
    response = client.post(
        f"/ballots/{ballot.pk}/", {"decision": "invalid", "reasons": ["unclear"]}
    )
    assert response.status_code == 409
    assert "already voted" in text_of(response) and "final" in text_of(response)
    ballot.refresh_from_db()
    assert ballot.decision == "valid"
    assert rewrite.ballots.filter(status="cast").count() == 1
    assert Event.objects.filter(kind="ballot.cast", object_id=ballot.pk).count() == 1


@pytest.mark.django_db
def test_invalid_vote_without_reason_is_400_and_keeps_the_form(world):
    world.add_seeds(2)
    rewrite = world.submitted()
    ballot = rewrite.ballots.select_related("reviewer").first()
    response = client_for(ballot.reviewer).post(
        f"/ballots/{ballot.pk}/", {"decision": "invalid", "comment": "keep this text"}
    )
    assert response.status_code == 400
    page = text_of(response)
    assert "give at least one reason" in page and "keep this text" in page
    ballot.refresh_from_db()
    assert ballot.status == "pending"


@pytest.mark.django_db
def test_a_valid_vote_carries_no_reason(world):
    """A reason says why a rewrite is invalid: on a 'valid' vote it would contradict the vote
    (the page's script also clears and disables the reasons when 'valid' is chosen)."""
    world.add_seeds(2)
    rewrite = world.submitted()
    ballot = rewrite.ballots.select_related("reviewer").first()
    response = client_for(ballot.reviewer).post(
        f"/ballots/{ballot.pk}/", {"decision": "valid", "reasons": ["unclear", "ethical"]}
    )
    assert response.status_code == 400
    assert "reasons are for an &#x27;invalid&#x27; vote" in response.content.decode()
    api = api_for(ballot.reviewer).post(
        f"/api/v1/ballots/{ballot.pk}/vote/",
        {"decision": "valid", "reasons": ["unclear"]},
        format="json",
    )
    assert api.status_code == 400 and "reasons" in api.json()["errors"]
    ballot.refresh_from_db()
    assert ballot.status == "pending"


@pytest.mark.django_db
def test_no_vote_on_my_own_rewrite_and_no_vote_on_someone_elses_ballot(world):
    world.member("camp-both", Role.ANNOTATOR)
    both = world.member("camp-both", Role.REVIEWER)
    world.add_seeds(3)
    mine = world.submitted(both)
    assert not mine.ballots.filter(reviewer=both).exists()
    assert mine.ballots.count() == 4
    other = mine.ballots.first()
    client = client_for(both)
    assert client.get(f"/ballots/{other.pk}/").status_code == 404
    assert client.post(f"/ballots/{other.pk}/", {"decision": "valid"}).status_code == 404
    other.refresh_from_db()
    assert other.status == "pending"


@pytest.mark.django_db
def test_vote_page_escapes_hostile_text_and_shows_flags(world):
    world.add_seeds(2)
    rewrite = world.submitted(
        text="Fix this: <script>window.__x=1</script> [x](javascript:alert(1)) in `python`."
    )
    ballot = rewrite.ballots.select_related("reviewer").first()
    page = text_of(client_for(ballot.reviewer).get(f"/ballots/{ballot.pk}/"))
    body = page.split('id="rewrite-body">')[1].split("</div>")[0]
    assert "<script" not in body and "&lt;script&gt;" in body
    assert 'href="javascript' not in body


@pytest.mark.django_db
def test_reviewer_pages_need_the_reviewer_role_and_membership(world, make_world):
    world.add_seeds(2)
    rewrite = world.submitted()
    ballot = rewrite.ballots.first()
    other = make_world("other")
    assert client_for(world.annotators[0]).get("/campaigns/camp/ballots/").status_code == 403
    assert client_for(other.reviewers[0]).get("/campaigns/camp/ballots/").status_code == 404
    assert client_for(other.reviewers[0]).get(f"/ballots/{ballot.pk}/").status_code == 404
    assert client_for(world.curator).get(f"/ballots/{ballot.pk}/").status_code == 403
    assert Client().get("/campaigns/camp/ballots/").status_code == 302  # to the login page


@pytest.mark.django_db
def test_vote_page_renders_in_a_handful_of_queries(world, django_assert_max_num_queries):
    world.add_seeds(3)
    rewrite = world.submitted()
    ballot = rewrite.ballots.select_related("reviewer").first()
    client = client_for(ballot.reviewer)
    client.get(f"/ballots/{ballot.pk}/")  # warm the session
    with django_assert_max_num_queries(10):
        assert client.get(f"/ballots/{ballot.pk}/").status_code == 200
    vote(rewrite, {ballot.reviewer: "valid"})
    with django_assert_max_num_queries(11):
        assert client.get(f"/ballots/{ballot.pk}/").status_code == 200


@pytest.mark.django_db
def test_queue_page_query_count_does_not_grow_with_ballots(world):
    world.add_seeds(12)
    reviewer = world.reviewers[0]
    client = client_for(reviewer)
    counts = []
    for batch in (2, 8):
        while Ballot.objects.filter(reviewer=reviewer, status="pending").count() < batch:
            world.submitted(world.annotators[0])
        client.get("/campaigns/camp/ballots/")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/campaigns/camp/ballots/").status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1] <= 12


# -- curator dashboard ----------------------------------------------------------------------------


def funnel_figure(page: str, key: str) -> int:
    match = re.search(rf'data-key="{key}"><th scope="row">[^<]+</th><td class="num">(\d+)<', page)
    assert match, key
    return int(match.group(1))


@pytest.mark.django_db
def test_dashboard_figures_match_counts_computed_from_the_database(make_world):
    w = make_world("dash", reviewers=4)
    w.add_seeds(14)
    w.add_seeds(3, start=100, sample=False)  # pooled, never sampled
    rev = w.reviewers
    outcomes = [
        {rev[0]: "valid", rev[1]: "valid", rev[2]: "valid", rev[3]: "valid"},
        {rev[0]: "valid", rev[1]: "valid", rev[2]: "valid", rev[3]: "invalid"},
        {rev[0]: "valid", rev[1]: "valid", rev[2]: "invalid", rev[3]: "invalid"},
        {rev[0]: "invalid", rev[1]: "invalid", rev[2]: "invalid", rev[3]: "invalid"},
        {rev[0]: "valid", rev[1]: "valid", rev[2]: "valid", rev[3]: "valid"},
    ]
    rewrites = []
    for i, decisions in enumerate(outcomes):
        rewrite = w.submitted(w.annotators[i % 4], text=f"Rewrite number {i} about lists.")
        vote(rewrite, decisions)
        rewrites.append(rewrite)
    w.submitted(w.annotators[1], text="Still waiting for votes.")
    w.claim(w.annotators[2])  # open, no draft
    draft_only = w.claim(w.annotators[3])
    w.draft(draft_only, text="A draft in progress.")
    rejected_seed = w.claim(w.annotators[0])
    assignment_reject_seed(
        assignment_id=rejected_seed.pk, actor=w.annotators[0], reason="unclear", note=""
    )
    rewrite_return(rewrite_id=rewrites[3].pk, actor=w.curator, note="try again")

    response = client_for(w.curator).get("/campaigns/dash/dashboard/")
    assert response.status_code == 200
    page = text_of(response)

    campaign = w.campaign
    seeds = list(Seed.objects.filter(campaign=campaign))
    assignments = list(Assignment.objects.filter(campaign=campaign))
    all_rewrites = list(Rewrite.objects.filter(campaign=campaign))
    expected = {
        "seeds": len(seeds),
        "sampled": sum(s.status != "pooled" for s in seeds),
        "assigned": len({a.seed_id for a in assignments if a.status != "released"}),
        "rejected_by_annotators": sum(a.status == "rejected" for a in assignments),
        "rewritten": len({r.seed_id for r in all_rewrites if r.status != "draft"}),
        "waiting_for_votes": sum(r.status == "submitted" for r in all_rewrites),
        "accepted": sum(r.status == "accepted" for r in all_rewrites),
        "rejected": sum(r.status == "rejected" for r in all_rewrites),
        "no_consensus": sum(r.status == "no_consensus" for r in all_rewrites),
        "returned": sum(r.status == "returned" for r in all_rewrites),
        "contaminated": 0,
        "releasable": sum(r.status == "accepted" for r in all_rewrites),
    }
    assert expected == {
        "seeds": 17,
        "sampled": 14,
        "assigned": 9,
        "rejected_by_annotators": 1,
        "rewritten": 6,
        "waiting_for_votes": 1,
        "accepted": 3,
        "rejected": 0,
        "no_consensus": 1,
        "returned": 1,
        "contaminated": 0,
        "releasable": 3,
    }
    for key, value in expected.items():
        assert funnel_figure(page, key) == value, key

    # People: every annotator's row against counts made here.
    people = {a["username"]: a for a in response.context["stats"]["people"]["annotators"]}
    for annotator in w.annotators:
        mine = [a for a in assignments if a.annotator_id == annotator.pk]
        revisions = [r for r in all_rewrites if r.author_id == annotator.pk]
        decided = [r for r in revisions if r.status not in ("draft", "submitted")]
        row = people[annotator.username]
        assert row["assigned"] == len(mine)
        assert row["drafts"] == sum(r.status == "draft" for r in revisions)
        assert row["revisions_submitted"] == sum(r.status != "draft" for r in revisions)
        assert row["rejected_seeds"] == sum(a.status == "rejected" for a in mine)
        accepted = sum(r.status == "accepted" for r in revisions)
        assert row["accepted"] == accepted
        assert row["acceptance_rate"] == (round(accepted / len(decided), 4) if decided else None)
        html_row = page.split(f'data-user="{annotator.username}">')[1].split("</tr>")[0]
        assert f'<td class="num">{len(mine)}</td>' in html_row
    assert people[w.annotators[0].username]["rejected_seeds_by_reason"] == {"unclear": 1}

    # Reviewers: pending and cast, and agreement with the outcome on accepted/rejected panels.
    reviewers = {r["username"]: r for r in response.context["reviewers"]}
    ballots = list(Ballot.objects.filter(campaign=campaign).select_related("rewrite"))
    for reviewer in rev:
        row = reviewers[reviewer.username]
        mine = [b for b in ballots if b.reviewer_id == reviewer.pk]
        assert row["pending"] == sum(b.status == "pending" for b in mine)
        assert row["cast"] == sum(b.status == "cast" for b in mine)
        # The vote each outcome expects: panels 0, 1, 4 accepted, 3 rejected (then returned);
        # the split panel 2 counts for neither.
        expected_vote = {rewrites[i].pk: "valid" for i in (0, 1, 4)} | {rewrites[3].pk: "invalid"}
        counted = [b for b in mine if b.rewrite_id in expected_vote and b.status == "cast"]
        assert row["with_outcome"]["decided_votes"] == len(counted) == 4
        assert row["with_outcome"]["matched"] == sum(
            b.decision == expected_vote[b.rewrite_id] for b in counted
        )

    # Agreement: Fleiss' kappa on this fixed table, by hand in test_agreement (0.487179).
    assert re.search(r'id="fleiss-kappa">0\.4872<', page)
    # Cohen's kappa, by hand: rev1/rev2 agree on all 5 -> 1.0; rev3/rev4 voted
    # (v,v) (v,i) (i,i) (i,i) (v,v): p_o = 0.8, p_e = 0.6*0.4 + 0.4*0.6 = 0.48 -> 0.615385.
    pairs_list = response.context["agreement"]["pairwise_cohen_kappa"]
    pairs = {(p["a"], p["b"]): p for p in pairs_list}
    assert pairs[("dash-rev1", "dash-rev2")]["cohen_kappa"] == 1.0
    assert pairs[("dash-rev3", "dash-rev4")]["cohen_kappa"] == pytest.approx(0.6154, abs=1e-4)
    assert pairs[("dash-rev3", "dash-rev4")]["shared"] == 5
    # The split panel is listed; the rejected one was returned and left the revision loop.
    assert re.search(r'id="split-count">1<', page)
    split_section = page.split('id="split-list"')[1].split("</table>")[0]
    assert f'data-rewrite="{rewrites[2].pk}"' in split_section
    loop = page.split('id="revision-loop"')[1]
    assert f'data-rewrite="{rewrites[2].pk}"' in loop
    assert f'data-rewrite="{rewrites[3].pk}"' not in loop.split("Returned, waiting")[0]
    assert "dash-rev3 says invalid" in loop  # votes and comments, with reviewers, for curators

    # Every chart's CSV has the numbers the chart draws.
    csv = text_of(client_for(w.curator).get("/campaigns/dash/dashboard/funnel.csv"))
    assert "Accepted,3\n" in csv and "Releasable,3\n" in csv
    assert "Seeds pooled,17\n" in csv

    # The stats API carries the same figures, with coverage and progress.
    api = api_for(w.curator).get("/api/v1/campaigns/dash/stats/").json()
    assert api["agreement"]["pairwise_cohen_kappa"] == pairs_list
    assert api["agreement"]["split_rewrites"] == [rewrites[2].pk]
    assert api["coverage"]["releasable_total"] == 3
    assert sum(d["submitted"] for d in api["progress"]) == sum(
        r.submitted_at is not None for r in all_rewrites
    )
    assert sum(d["accepted"] for d in api["progress"]) == 3


@pytest.mark.django_db
def test_dashboard_access_and_csrf(world, make_world):
    other = make_world("other")
    curator = client_for(world.curator)
    assert curator.get("/campaigns/camp/dashboard/").status_code == 200
    assert client_for(world.annotators[0]).get("/campaigns/camp/dashboard/").status_code == 403
    assert client_for(world.reviewers[0]).get("/campaigns/camp/dashboard/").status_code == 403
    assert client_for(other.curator).get("/campaigns/camp/dashboard/").status_code == 404
    assert client_for(other.curator).get("/campaigns/camp/dashboard/funnel.csv").status_code == 404
    assert curator.get("/campaigns/camp/dashboard/nope.csv").status_code == 404
    world.add_seeds(2)
    rewrite = world.submitted()
    cast_panel(rewrite, ["valid", "valid", "invalid", "invalid"])
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.curator)
    assert strict.post(f"/rewrites/{rewrite.pk}/return/", {"note": "x"}).status_code == 403
    assert client_for(other.curator).post(f"/rewrites/{rewrite.pk}/return/").status_code == 404
    assert (
        client_for(world.annotators[0]).post(f"/rewrites/{rewrite.pk}/return/").status_code == 403
    )
    rewrite.refresh_from_db()
    assert rewrite.status == "no_consensus"


@pytest.mark.django_db
def test_return_to_another_annotator_and_reassign_a_returned_draft(world):
    world.add_seeds(3)
    rewrite = world.submitted(world.annotators[0])
    cast_panel(rewrite, ["valid", "valid", "invalid", "invalid"], ["a", "b", "c", "d"])
    curator = client_for(world.curator)
    response = curator.post(
        f"/rewrites/{rewrite.pk}/return/",
        {"note": "ann1 left; please finish", "annotator": world.annotators[1].username},
        follow=True,
    )
    assert "Returned to camp-ann2 as revision 2" in text_of(response)
    new = Rewrite.objects.get(previous=rewrite)
    assert new.author == world.annotators[1] and new.status == "draft"
    assert new.feedback["note"] == "ann1 left; please finish"
    assert new.assignment.annotator == world.annotators[1]
    assert rewrite.author == world.annotators[0]  # history keeps its author
    # The new annotator sees it in their queue, with the comments; the old one does not.
    assert "ann1 left" in text_of(client_for(world.annotators[1]).get("/campaigns/camp/queue/"))
    assert "ann1 left" not in text_of(client_for(world.annotators[0]).get("/campaigns/camp/queue/"))

    # Reassigning to someone who is not an annotator says so and changes nothing.
    response = curator.post(
        f"/assignments/{new.assignment_id}/reassign/",
        {"annotator": world.reviewers[0].username},
        follow=True,
    )
    assert "is not an annotator of this campaign" in text_of(response)
    new.refresh_from_db()
    assert new.author == world.annotators[1]
    response = curator.post(
        f"/assignments/{new.assignment_id}/reassign/",
        {"annotator": world.annotators[2].username},
        follow=True,
    )
    assert "Reassigned to camp-ann3" in text_of(response)
    new.refresh_from_db()
    assert new.author == world.annotators[2]
    assert new.assignment.annotator == world.annotators[2]
    event = Event.objects.filter(kind="assignment.reassigned").order_by("id").last()
    assert event.data["from_annotator"] == world.annotators[1].pk
    assert event.data["to_annotator"] == world.annotators[2].pk
    # The assignment now belongs to the new annotator only.
    assert (
        client_for(world.annotators[2]).get(f"/assignments/{new.assignment_id}/").status_code == 200
    )
    assert (
        client_for(world.annotators[1]).get(f"/assignments/{new.assignment_id}/").status_code == 404
    )


@pytest.mark.django_db
def test_reassign_api_is_for_curators_and_active_assignments(world, make_world):
    world.add_seeds(3)
    assignment = world.claim(world.annotators[0])
    world.draft(assignment)
    url = f"/api/v1/assignments/{assignment.pk}/reassign/"
    assert api_for(world.annotators[0]).post(url, {"annotator": "camp-ann2"}).status_code == 403
    assert api_for(make_world("x").curator).post(url, {"annotator": "camp-ann2"}).status_code == 404
    response = api_for(world.curator).post(url, {"annotator": "nobody"}, format="json")
    assert response.status_code == 400
    assert "annotator" in response.json()["errors"]
    response = api_for(world.curator).post(url, {"annotator": "camp-ann2"}, format="json")
    assert response.status_code == 200 and response.json()["annotator"] == "camp-ann2"
    assert Rewrite.objects.get(assignment=assignment).author == world.annotators[1]
    submitted = world.submitted(world.annotators[3])
    response = api_for(world.curator).post(
        f"/api/v1/assignments/{submitted.assignment_id}/reassign/",
        {"annotator": "camp-ann2"},
        format="json",
    )
    assert response.status_code == 409


@pytest.mark.django_db
def test_dashboard_query_count_is_bounded_at_2000_seeds_and_8000_ballots(make_world):
    counts = {}
    for slug, size in (("small", 20), ("large", 2000)):
        world = make_world(slug)
        populate_reviewed(
            world.campaign, annotators=world.annotators, reviewers=world.reviewers, seeds=size
        )
        client = client_for(world.curator)
        client.get(f"/campaigns/{slug}/dashboard/")
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/campaigns/{slug}/dashboard/")
        assert response.status_code == 200
        counts[slug] = len(ctx)
    assert Ballot.objects.filter(campaign__slug="large").count() == 8000
    page = text_of(response)
    assert funnel_figure(page, "accepted") == 800 and funnel_figure(page, "rejected") == 400
    assert counts["small"] == counts["large"] <= 40, counts


@pytest.mark.django_db
def test_nobody_who_wrote_a_revision_sits_on_its_panel(world):
    # ann-rev annotates and reviews. Their rejected rewrite goes to another annotator, who
    # resubmits it: the text is still largely theirs, so they must not review it.
    world.member("camp-annrev", Role.ANNOTATOR)
    writer = world.member("camp-annrev", Role.REVIEWER)
    world.add_seeds(3)
    first = world.submitted(writer)
    assert not first.ballots.filter(reviewer=writer).exists()
    cast_panel(first, ["invalid", "invalid", "invalid", "valid"])
    second = rewrite_return(rewrite_id=first.pk, actor=world.curator, annotator=world.annotators[1])
    assert second.author == world.annotators[1]
    assignment = Assignment.objects.get(pk=second.assignment_id)
    world.draft(assignment, version=second.version)
    rewrite_submit(assignment_id=assignment.pk, actor=world.annotators[1])
    panel = set(second.ballots.values_list("reviewer__username", flat=True))
    assert len(panel) == 4
    assert writer.username not in panel and world.annotators[1].username not in panel


@pytest.mark.django_db
def test_reassign_respects_the_campaigns_active_assignment_limit(make_world):
    w = make_world("capped", max_active_assignments=1)
    w.add_seeds(3)
    mine = w.claim(w.annotators[0])
    w.claim(w.annotators[1])
    response = client_for(w.curator).post(
        f"/assignments/{mine.pk}/reassign/", {"annotator": w.annotators[1].username}, follow=True
    )
    assert "already has 1 active assignments" in text_of(response)
    mine.refresh_from_db()
    assert mine.annotator == w.annotators[0]


@pytest.mark.django_db
def test_coverage_counts_seeds_being_rewritten_before_asking_for_more(make_world):
    w = make_world("cov", target_release_size=40)  # 40 subcategories: a target of 1 each
    w.add_seeds(1)
    w.claim(w.annotators[0])
    rows = {
        r["subcategory"]: r
        for r in client_for(w.curator)
        .get("/campaigns/cov/dashboard/")
        .context["coverage"]["subcategories"]
    }
    row = rows["Algorithm Design and Implementation"]
    assert (row["target"], row["in_progress"], row["seeds_left"], row["gap"]) == (1, 1, 0, 1)
    assert row["needs_seeds"] is False
    assert rows["Data Structures"]["needs_seeds"] is True  # no seed at all


@pytest.mark.django_db
def test_tally_after_an_early_decision_counts_no_ballot_as_still_to_come(make_world):
    w = make_world("early", early_decision=True)
    w.add_seeds(2)
    rewrite = w.submitted()
    ballots = list(rewrite.ballots.select_related("reviewer").order_by("id"))
    vote(rewrite, {b.reviewer: "valid" for b in ballots[:3]})
    page = text_of(client_for(ballots[0].reviewer).get(f"/ballots/{ballots[0].pk}/"))
    assert re.search(r'class="tally-valid">3 valid', page)
    assert "not yet cast" not in page
    assert 'id="rewrite-status">accepted<' in page
    page = text_of(client_for(ballots[3].reviewer).get(f"/ballots/{ballots[3].pk}/"))
    assert 'id="closed-note"' in page and 'id="tally"' not in page


@pytest.mark.django_db
def test_returning_to_an_author_who_left_asks_for_another_annotator(world):
    world.add_seeds(2)
    rewrite = world.submitted(world.annotators[0])
    cast_panel(rewrite, ["valid", "valid", "invalid", "invalid"])
    Membership.objects.filter(user=world.annotators[0]).delete()
    curator = client_for(world.curator)
    response = curator.post(f"/rewrites/{rewrite.pk}/return/", {"annotator": ""}, follow=True)
    assert "no longer an annotator" in text_of(response)
    rewrite.refresh_from_db()
    assert rewrite.status == "no_consensus" and not Rewrite.objects.filter(previous=rewrite)
    response = curator.post(
        f"/rewrites/{rewrite.pk}/return/", {"annotator": world.annotators[2].username}, follow=True
    )
    assert "Returned to camp-ann3 as revision 2" in text_of(response)


@pytest.mark.django_db
def test_vote_page_and_queue_show_a_copied_seed_flag(world, django_capture_on_commit_callbacks):
    world.add_seeds(1)
    seed_text = world.campaign.seeds.get().body
    with django_capture_on_commit_callbacks(execute=True):
        rewrite = world.submitted(text=seed_text)  # the quality check runs on commit
    ballot = rewrite.ballots.select_related("reviewer").first()
    client = client_for(ballot.reviewer)
    page = text_of(client.get(f"/ballots/{ballot.pk}/"))
    flags = page.split('id="quality-flags"')[1].split("</section>")[0]
    assert "Copies its seed" in flags and "1.00" in flags
    assert "Copies its seed" in text_of(client.get("/campaigns/camp/ballots/"))
