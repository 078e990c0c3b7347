"""Services: every allowed transition works and writes an event; forbidden ones raise."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, Event, Membership, Rewrite, Seed
from annotation.services import (
    assignment_claim_next,
    assignment_reject_seed,
    assignments_expire,
    rewrites_count_missing_tokens,
    seeds_assign,
)
from annotation.tokens import count_tokens
from core.errors import (
    Conflict,
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from review.models import Ballot
from review.services import ballot_cast, panels_fill_waiting, rewrite_return, rewrite_submit
from review.stats import campaign_funnel
from tests.conftest import cast_panel, jobs

pytestmark = pytest.mark.django_db


def events(kind: str) -> int:
    return Event.objects.filter(kind=kind).count()


def test_claim_next_hands_out_each_sampled_seed_once(world):
    world.add_seeds(3)
    claimed = [world.claim(a) for a in world.annotators[:3]]
    assert len({a.seed_id for a in claimed}) == 3
    assert world.claim() is None
    assert Seed.objects.filter(status="assigned").count() == 3
    assert all(a.lease_expires_at > timezone.now() for a in claimed)
    assert events("assignment.claimed") == 3


def test_claim_next_needs_annotator_role_and_membership(world, make_world):
    world.add_seeds(1)
    with pytest.raises(NotAllowed):
        assignment_claim_next(campaign=world.campaign, actor=world.reviewers[0])
    other = make_world(slug="other")
    with pytest.raises(NotFound):
        assignment_claim_next(campaign=world.campaign, actor=other.annotators[0])


def test_claim_next_respects_max_active(world):
    world.campaign.max_active_assignments = 1
    world.campaign.save()
    world.add_seeds(2)
    world.claim()
    with pytest.raises(Conflict):
        world.claim()


def test_draft_versions_and_stale_save_changes_nothing(world):
    world.add_seeds(1)
    a = world.claim()
    d1 = world.draft(a, version=0, text="first")
    assert (d1.version, d1.revision) == (1, 1)
    d2 = world.draft(a, version=1, text="second")
    assert d2.version == 2
    with pytest.raises(StaleVersion) as err:
        world.draft(a, version=1, text="stale text")
    assert err.value.details["current_version"] == 2
    assert err.value.details["current"]["text"] == "second"
    stored = Rewrite.objects.get(assignment=a)
    assert (stored.text, stored.version) == ("second", 2)
    assert events("rewrite.draft_started") == 1


def test_draft_rejects_values_outside_vocabulary(world):
    world.add_seeds(1)
    a = world.claim()
    with pytest.raises(ValidationFailed) as err:
        world.draft(
            a,
            programming_languages=["cobol-99"],
            subcategory="Knitting",
            natural_language="xx-nope",
            difficulty="trivial",
        )
    assert set(err.value.details["errors"]) == {
        "programming_languages",
        "subcategory",
        "natural_language",
        "difficulty",
    }
    assert not Rewrite.objects.exists()


def test_draft_accepts_aliases_and_short_names(world):
    world.add_seeds(1)
    a = world.claim()
    d = world.draft(
        a,
        programming_languages=["py", "TypeScript", "cpp"],
        subcategory="algorithm",
        natural_language="Chinese",
    )
    assert [link.language.name for link in d.language_links.all()] == ["python", "ts", "c++"]
    assert d.subcategory.name == "Algorithm Design and Implementation"
    assert d.natural_language == "zh"


def test_submit_names_every_missing_field_and_changes_nothing(world):
    world.add_seeds(1)
    a = world.claim()
    world.draft(
        a,
        text="  ",
        difficulty="",
        programming_languages=[],
        natural_language="",
        subcategory="",
        checklist={"clear": True},
    )
    with pytest.raises(ValidationFailed) as err:
        rewrite_submit(assignment_id=a.pk, actor=a.annotator)
    assert set(err.value.details["errors"]) == {
        "text",
        "difficulty",
        "programming_languages",
        "natural_language",
        "subcategory",
        "checklist",
    }
    assert err.value.details["errors"]["checklist"] == ["confirm 'ethical'", "confirm 'solvable'"]
    assert Rewrite.objects.get().status == "draft"
    assert Assignment.objects.get().status == "active"


def test_submit_opens_panel_of_least_loaded_reviewers_not_the_author(
    world, django_capture_on_commit_callbacks
):
    world.add_seeds(3)
    # A reviewer who is also an annotator must never review their own rewrite.
    author = world.reviewers[0]
    world.member(author.username, "annotator")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        r1 = world.submitted(annotator=author)
    assert r1.status == "submitted"
    # Token counting and the quality checks run after commit, not inside the transaction.
    assert [c.args[0].name for c in jobs(callbacks)] == [  # core.jobs.enqueue(task, *args)
        "annotation.tasks.count_rewrite_tokens",
        "quality.tasks.check_rewrite_quality",
    ]
    r1.refresh_from_db()
    assert r1.question_tokens == count_tokens(r1.text, "o200k_base") > 5
    panel1 = set(r1.ballots.values_list("reviewer__username", flat=True))
    assert author.username not in panel1 and len(panel1) == 4
    # The next panel prefers the least loaded: the author (0 pending) is now picked first.
    r2 = world.submitted(annotator=world.annotators[1])
    panel2 = set(r2.ballots.values_list("reviewer__username", flat=True))
    assert author.username in panel2
    assert events("ballot.opened") == 8
    assert Seed.objects.filter(status="done").count() == 2


def test_rewrite_waits_for_reviewers_then_panel_fills(make_world):
    w = make_world(slug="few", reviewers=2)
    w.add_seeds(1)
    r = w.submitted()
    assert r.ballots.count() == 2
    assert campaign_funnel(w.campaign)["waiting_for_reviewers"] == 1
    # Adding a reviewer (membership_add, as add_member does) fills waiting panels at once; the
    # periodic sweep then finds nothing left to fill.
    w.member("late-rev-1", "reviewer")
    w.member("late-rev-2", "reviewer")
    assert r.ballots.count() == 4
    assert panels_fill_waiting(campaign=w.campaign) == 0
    assert campaign_funnel(w.campaign)["waiting_for_reviewers"] == 0


@pytest.mark.parametrize(
    ("decisions", "outcome"),
    [
        (["valid", "valid", "valid", "invalid"], "accepted"),
        (["invalid", "invalid", "valid", "invalid"], "rejected"),
        (["valid", "invalid", "valid", "invalid"], "no_consensus"),
    ],
)
def test_fourth_vote_decides(world, decisions, outcome):
    world.add_seeds(1)
    r = world.submitted()
    ballots = list(r.ballots.order_by("id"))
    for ballot, decision in zip(ballots[:3], decisions[:3], strict=True):
        result = ballot_cast(
            ballot_id=ballot.pk,
            actor=ballot.reviewer,
            decision=decision,
            reasons=["unclear"] if decision == "invalid" else [],
        )
        assert result.outcome is None
    last = ballots[3]
    result = ballot_cast(
        ballot_id=last.pk,
        actor=last.reviewer,
        decision=decisions[3],
        reasons=["unclear"] if decisions[3] == "invalid" else [],
    )
    assert result.outcome == outcome
    r.refresh_from_db()
    assert r.status == outcome and r.decided_at is not None
    assert events(f"rewrite.{outcome}") == 1
    assert events("ballot.cast") == 4


def test_vote_is_final_and_only_by_its_reviewer(world):
    world.add_seeds(1)
    r = world.submitted()
    ballot = r.ballots.first()
    with pytest.raises(NotFound):
        ballot_cast(ballot_id=ballot.pk, actor=world.reviewers[4], decision="valid")
    ballot_cast(ballot_id=ballot.pk, actor=ballot.reviewer, decision="valid")
    with pytest.raises(Conflict):
        ballot_cast(
            ballot_id=ballot.pk, actor=ballot.reviewer, decision="invalid", reasons=["unclear"]
        )
    ballot.refresh_from_db()
    assert ballot.decision == "valid"
    assert events("ballot.cast") == 1


def test_invalid_vote_needs_a_reason(world):
    world.add_seeds(1)
    ballot = world.submitted().ballots.first()
    with pytest.raises(ValidationFailed):
        ballot_cast(ballot_id=ballot.pk, actor=ballot.reviewer, decision="invalid")
    with pytest.raises(ValidationFailed):
        ballot_cast(ballot_id=ballot.pk, actor=ballot.reviewer, decision="maybe")
    assert Ballot.objects.get(pk=ballot.pk).status == "pending"


def test_early_decision_closes_remaining_ballots(make_world):
    w = make_world(slug="early", early_decision=True)
    w.add_seeds(1)
    r = w.submitted()
    ballots = list(r.ballots.order_by("id"))
    for b in ballots[:2]:
        assert ballot_cast(ballot_id=b.pk, actor=b.reviewer, decision="valid").outcome is None
    assert (
        ballot_cast(ballot_id=ballots[2].pk, actor=ballots[2].reviewer, decision="valid").outcome
        == "accepted"
    )
    ballots[3].refresh_from_db()
    assert ballots[3].status == "closed"
    with pytest.raises(InvalidTransition):
        ballot_cast(ballot_id=ballots[3].pk, actor=ballots[3].reviewer, decision="valid")


def test_revision_loop(world):
    world.add_seeds(1)
    r1 = world.submitted()
    cast_panel(r1, ["valid", "invalid", "valid", "invalid"], ["Say which Python version."] * 4)
    with pytest.raises(NotAllowed):
        rewrite_return(rewrite_id=r1.pk, actor=world.reviewers[0], note="no")
    r2 = rewrite_return(rewrite_id=r1.pk, actor=world.curator, note="Please clarify.")
    r1.refresh_from_db()
    assert r1.status == "returned"
    assert (r2.revision, r2.status, r2.version, r2.text) == (2, "draft", 1, r1.text)
    assert r2.feedback["note"] == "Please clarify."
    assert r2.feedback["outcome"] == "no_consensus"
    # Comments and reasons reach the author; who voted how does not.
    assert r2.feedback["comments"] == ["Say which Python version."] * 4
    assert r2.feedback["reasons"] == ["unclear"]
    assert set(r2.feedback) == {"outcome", "note", "returned_at", "comments", "reasons"}
    assert [link.language.name for link in r2.language_links.all()] == ["python"]
    a = Assignment.objects.get()
    assert a.status == "active"
    assert a.seed.status == "assigned"
    with pytest.raises(InvalidTransition):
        rewrite_return(rewrite_id=r1.pk, actor=world.curator)
    # The author edits the new revision and resubmits; a fresh panel votes on it.
    world.draft(a, version=1, text=r1.text + " Use Python 3.12.")
    r2 = rewrite_submit(assignment_id=a.pk, actor=a.annotator)
    assert r2.ballots.count() == 4 and r1.ballots.count() == 4
    cast_panel(r2, ["valid"] * 4)
    r2.refresh_from_db()
    assert r2.status == "accepted"
    assert events("rewrite.returned") == 1 and events("assignment.reopened") == 1


def test_accepted_rewrite_cannot_be_returned(world):
    world.add_seeds(1)
    r = world.submitted()
    cast_panel(r, ["valid"] * 4)
    with pytest.raises(InvalidTransition):
        rewrite_return(rewrite_id=r.pk, actor=world.curator)


def test_reject_seed(world):
    world.add_seeds(2)
    a = world.claim()
    with pytest.raises(ValidationFailed):
        assignment_reject_seed(assignment_id=a.pk, actor=a.annotator, reason="boring")
    with pytest.raises(ValidationFailed):
        assignment_reject_seed(assignment_id=a.pk, actor=a.annotator, reason="other", note=" ")
    with pytest.raises(NotFound):
        assignment_reject_seed(assignment_id=a.pk, actor=world.annotators[1], reason="unclear")
    a = assignment_reject_seed(
        assignment_id=a.pk, actor=a.annotator, reason="ethical", note="asks for spyware"
    )
    assert (a.status, a.reject_reason, a.seed.status) == ("rejected", "ethical", "done")
    with pytest.raises(InvalidTransition):
        assignment_reject_seed(assignment_id=a.pk, actor=a.annotator, reason="unclear")
    with pytest.raises(InvalidTransition):
        world.draft(a)
    assert events("assignment.seed_rejected") == 1


def test_submitted_assignment_cannot_be_submitted_again(world):
    world.add_seeds(1)
    r = world.submitted()
    with pytest.raises(InvalidTransition):
        rewrite_submit(assignment_id=r.assignment_id, actor=r.author)


def test_lease_expiry_releases_untouched_assignments_only(world):
    world.add_seeds(2)
    untouched = world.claim()
    drafted = world.claim()
    world.draft(drafted)
    later = timezone.now() + timedelta(minutes=world.campaign.lease_minutes + 1)
    assert assignments_expire(now=later) == 1
    untouched.refresh_from_db()
    drafted.refresh_from_db()
    assert untouched.status == "released" and untouched.seed.status == "sampled"
    assert drafted.status == "active"
    assert events("assignment.lease_expired") == 1
    assert assignments_expire(now=later) == 0
    # The released seed goes to the next claimer.
    assert world.claim(world.annotators[2]).seed_id == untouched.seed_id


def test_assign_deals_same_mix_to_every_annotator(world):
    subs = ["Algorithm Design and Implementation", "Code Debugging", "Security"]
    for k, sub in enumerate(subs):
        world.add_seeds(8, start=100 * k, subcategory=sub)
    report = seeds_assign(campaign=world.campaign, seed=1)
    assert report.assigned == 24
    assert set(report.per_annotator.values()) == {6}
    for annotator in world.annotators:
        mix = Assignment.objects.filter(annotator=annotator).values_list(
            "seed__subcategory__name", flat=True
        )
        assert sorted(mix) == sorted(subs * 2)
    assert world.claim() is None


def test_returned_rewrite_cannot_be_rejected_as_a_seed(world):
    world.add_seeds(1)
    r1 = world.submitted()
    cast_panel(r1, ["valid", "invalid", "valid", "invalid"])
    rewrite_return(rewrite_id=r1.pk, actor=world.curator, note="clarify")
    with pytest.raises(InvalidTransition):
        assignment_reject_seed(assignment_id=r1.assignment_id, actor=r1.author, reason="unclear")
    assert Assignment.objects.get().status == "active"


def test_removed_members_lose_access(world):
    world.add_seeds(1)
    a = world.claim()
    world.draft(a)
    Membership.objects.filter(user=a.annotator).delete()
    with pytest.raises(NotFound):
        world.draft(a, version=1)
    world.add_seeds(1, start=50)
    r = world.submitted(annotator=world.annotators[1])
    ballot = r.ballots.order_by("id").first()
    Membership.objects.filter(user=ballot.reviewer, role="reviewer").delete()
    with pytest.raises(NotFound):
        ballot_cast(ballot_id=ballot.pk, actor=ballot.reviewer, decision="valid")


def test_missing_token_counts_are_made_up_by_the_sweep(world):
    world.add_seeds(1)
    r = world.submitted()  # on_commit does not fire inside the test transaction
    assert Rewrite.objects.get(pk=r.pk).question_tokens is None
    assert rewrites_count_missing_tokens() == 1
    assert Rewrite.objects.get(pk=r.pk).question_tokens == count_tokens(r.text, "o200k_base")
    assert rewrites_count_missing_tokens() == 0


def test_one_accepted_rewrite_per_seed_is_a_database_rule(world):
    from django.db import IntegrityError, transaction

    world.add_seeds(1)
    r = world.submitted()
    cast_panel(r, ["valid"] * 4)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rewrite.objects.create(
            campaign=r.campaign,
            seed=r.seed,
            assignment=r.assignment,
            author=r.author,
            revision=9,
            status="accepted",
        )


def test_a_panel_keeps_the_rule_it_opened_with_when_the_campaign_changes(make_world):
    """Changing the panel size or threshold applies to panels opened afterwards: an open panel
    of 4 decides at 3 of 4, is never topped up to 5, and the statistics take both sizes."""
    from annotation.services.campaigns import campaign_settings_update
    from review.dashboard import campaign_overview

    world = make_world(slug="rule", reviewers=6)
    world.add_seeds(3)
    old = world.submitted()
    assert (old.panel_size, old.accept_threshold) == (4, 3)
    campaign_settings_update(
        campaign=world.campaign, actor=world.curator, panel_size=5, accept_threshold=4
    )
    assert panels_fill_waiting(campaign=world.campaign) == 0  # the old panel stays at 4
    new = world.submitted(annotator=world.annotators[1])
    assert (new.ballots.count(), old.ballots.count()) == (5, 4)
    cast_panel(old, ["valid", "valid", "valid", "invalid"])
    old.refresh_from_db()
    assert old.status == "accepted"  # 3 of the 4 it opened with
    cast_panel(new, ["valid", "valid", "valid", "invalid", "invalid"])
    new.refresh_from_db()
    assert new.status == "no_consensus"  # 3 of 5 is below the new threshold of 4
    overview = campaign_overview(world.campaign)  # panels of two sizes: no crash
    assert overview["agreement"]["panels"] == 1
    assert overview["funnel"]["waiting_for_reviewers"] == 0
