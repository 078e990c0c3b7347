"""Campaign membership through the services (``review.services.membership_*``) and the Django
admin: adding, changing a role and removing a member, with what each does to the work in
flight (review panels, open assignments), the events it writes and who may do it."""

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.test import Client

from annotation.models import Assignment, Event, Membership, Rewrite, Role, Seed
from annotation.services import draft_save, user_ensure
from annotation.services.rewrites import DraftInput
from core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from review.models import Ballot
from review.services import (
    ballot_cast,
    membership_add,
    membership_remove,
    membership_role_change,
    panels_fill_waiting,
    rewrite_submit,
    rewrites_waiting_for_reviewers,
)
from review.stats import campaign_funnel
from review.tasks import fill_waiting_panels

from .conftest import GOOD_DRAFT, api_for

pytestmark = pytest.mark.django_db


def events(campaign, kind: str) -> list[Event]:
    return list(Event.objects.filter(campaign=campaign, kind=kind).order_by("id"))


def panel(rewrite) -> dict[str, str]:
    """{reviewer username: ballot status} of a rewrite's panel."""
    return dict(rewrite.ballots.values_list("reviewer__username", "status"))


def seats(rewrite) -> set[str]:
    return {name for name, status in panel(rewrite).items() if status != "closed"}


def membership_exists(campaign, user, role) -> bool:
    return Membership.objects.filter(campaign=campaign, user=user, role=role).exists()


# --- adding -------------------------------------------------------------------------------------


def test_adding_is_idempotent_and_recorded_once(world):
    newcomer = user_ensure(username="newcomer", password="pw")
    first = membership_add(
        campaign=world.campaign, user=newcomer, role=Role.REVIEWER, actor=world.curator
    )
    again = membership_add(
        campaign=world.campaign, user=newcomer, role=Role.REVIEWER, actor=world.curator
    )
    assert first.pk == again.pk
    assert Membership.objects.filter(campaign=world.campaign, user=newcomer).count() == 1
    added = [e for e in events(world.campaign, "membership.added") if e.object_id == first.pk]
    assert len(added) == 1
    assert added[0].actor == world.curator and added[0].to_state == "reviewer"
    assert added[0].data == {"user": "newcomer"}
    # A second role is a second membership.
    membership_add(campaign=world.campaign, user=newcomer, role=Role.ANNOTATOR)
    assert set(
        Membership.objects.filter(campaign=world.campaign, user=newcomer).values_list(
            "role", flat=True
        )
    ) == {"reviewer", "annotator"}


def test_adding_needs_a_curator_and_a_known_role(world, make_world):
    newcomer = user_ensure(username="newcomer", password="pw")
    with pytest.raises(NotAllowed):
        membership_add(
            campaign=world.campaign, user=newcomer, role="reviewer", actor=world.annotators[0]
        )
    outsider = make_world(slug="other").curator
    with pytest.raises(NotFound):
        membership_add(campaign=world.campaign, user=newcomer, role="reviewer", actor=outsider)
    with pytest.raises(ValidationFailed):
        membership_add(campaign=world.campaign, user=newcomer, role="owner", actor=world.curator)
    assert not Membership.objects.filter(user=newcomer).exists()


def test_a_new_reviewer_fills_a_panel_that_was_waiting(make_world):
    world = make_world(slug="few", reviewers=3)
    world.add_seeds(1)
    rewrite = world.submitted()
    assert len(seats(rewrite)) == 3
    assert campaign_funnel(world.campaign)["waiting_for_reviewers"] == 1
    newcomer = user_ensure(username="late-reviewer", password="pw")
    membership_add(campaign=world.campaign, user=newcomer, role=Role.REVIEWER, actor=world.curator)
    assert panel(rewrite)["late-reviewer"] == "pending"
    assert len(seats(rewrite)) == 4
    assert campaign_funnel(world.campaign)["waiting_for_reviewers"] == 0
    assert rewrites_waiting_for_reviewers(campaign=world.campaign) == []
    opened = events(world.campaign, "ballot.opened")[-1]
    assert opened.data == {"rewrite": rewrite.pk}
    assert Ballot.objects.get(pk=opened.object_id).reviewer == newcomer


# --- removing a reviewer ------------------------------------------------------------------------


def test_removing_a_reviewer_closes_their_ballots_and_refills_from_the_others(world):
    world.add_seeds(1)
    rewrite = world.submitted()
    rev1, rev2, _rev3, _rev4, rev5 = world.reviewers
    assert panel(rewrite) == {r.username: "pending" for r in world.reviewers[:4]}
    ballot = rewrite.ballots.get(reviewer=rev2)

    moved = membership_remove(
        campaign=world.campaign, user=rev2, role=Role.REVIEWER, actor=world.curator
    )

    assert moved == {"ballots_closed": 1, "ballots_reopened": 1}
    assert not membership_exists(world.campaign, rev2, Role.REVIEWER)
    ballot.refresh_from_db()
    assert ballot.status == "closed"
    assert panel(rewrite)[rev5.username] == "pending"
    assert seats(rewrite) == {r.username for r in world.reviewers if r != rev2}
    closed = events(world.campaign, "ballot.closed")
    assert [(e.object_id, e.actor, e.data["reason"]) for e in closed] == [
        (ballot.pk, world.curator, "reviewer removed")
    ]
    assert events(world.campaign, "ballot.opened")[-1].object_id == (
        rewrite.ballots.get(reviewer=rev5).pk
    )
    (removed,) = events(world.campaign, "membership.removed")
    assert removed.actor == world.curator and removed.from_state == "reviewer"
    assert removed.data == {"user": rev2.username, "ballots_closed": 1, "ballots_reopened": 1}
    assert campaign_funnel(world.campaign)["waiting_for_reviewers"] == 0

    # The refilled panel decides as usual.
    for reviewer in [rev1, *world.reviewers[2:]]:
        ballot_cast(
            ballot_id=rewrite.ballots.get(reviewer=reviewer).pk, actor=reviewer, decision="valid"
        )
    rewrite.refresh_from_db()
    assert rewrite.status == "accepted"


def test_a_removed_reviewers_cast_votes_stay_and_they_can_no_longer_vote(world):
    world.add_seeds(2)
    first = world.submitted(world.annotators[0])
    second = world.submitted(world.annotators[1])
    rev1, rev2, rev3, rev4, rev5 = world.reviewers
    # Least loaded first, ties by id: rev1-4 for the first, then rev5 and rev1-3.
    assert set(panel(first)) == {rev1.username, rev2.username, rev3.username, rev4.username}
    assert set(panel(second)) == {rev5.username, rev1.username, rev2.username, rev3.username}
    cast = first.ballots.get(reviewer=rev1)
    ballot_cast(ballot_id=cast.pk, actor=rev1, decision="invalid", reasons=["unclear"])
    pending = second.ballots.get(reviewer=rev1)

    moved = membership_remove(
        campaign=world.campaign, user=rev1, role=Role.REVIEWER, actor=world.curator
    )

    # The cast vote stays and still holds its seat; the pending one is closed and refilled
    # with rev4, the only reviewer not yet on that panel.
    assert moved == {"ballots_closed": 1, "ballots_reopened": 1}
    cast.refresh_from_db()
    pending.refresh_from_db()
    assert (cast.status, cast.decision) == ("cast", "invalid")
    assert pending.status == "closed"
    assert len(seats(first)) == 4 and rev1.username in seats(first)
    assert seats(second) == {rev5.username, rev2.username, rev3.username, rev4.username}

    # The API treats them as a stranger to the campaign: 404, and nothing is cast.
    client = api_for(rev1)
    res = client.post(f"/api/v1/ballots/{pending.pk}/vote/", {"decision": "valid"}, format="json")
    assert res.status_code == 404, res.content
    assert client.get(f"/api/v1/ballots/{cast.pk}/").status_code == 404
    assert client.get("/api/v1/campaigns/camp/ballots/").status_code == 404
    pending.refresh_from_db()
    assert pending.status == "closed"
    with pytest.raises(NotFound):
        ballot_cast(ballot_id=pending.pk, actor=rev1, decision="valid")

    # The remaining three votes complete the first panel; rev1's vote counts in the tally.
    for reviewer in [rev2, rev3, rev4]:
        ballot_cast(
            ballot_id=first.ballots.get(reviewer=reviewer).pk, actor=reviewer, decision="valid"
        )
    first.refresh_from_db()
    assert first.status == "accepted"
    decided = events(world.campaign, "rewrite.accepted")[-1]
    assert (decided.data["valid"], decided.data["invalid"]) == (3, 1)


def test_with_no_reviewer_left_the_rewrite_waits_visibly_until_one_is_added(make_world):
    world = make_world(slug="four", reviewers=4)
    world.add_seeds(1)
    rewrite = world.submitted()
    rev1 = world.reviewers[0]
    assert membership_remove(campaign=world.campaign, user=rev1, role=Role.REVIEWER) == {
        "ballots_closed": 1,
        "ballots_reopened": 0,
    }
    assert len(seats(rewrite)) == 3
    funnel = campaign_funnel(world.campaign)
    assert funnel["waiting_for_reviewers"] == 1 and funnel["waiting_for_votes"] == 1
    assert rewrites_waiting_for_reviewers(campaign=world.campaign) == [rewrite.pk]
    # Nobody to take the seat: filling again changes nothing; the removed reviewer never returns
    # to it.
    assert panels_fill_waiting(campaign=world.campaign) == 0

    # An annotator who did not write it becomes a reviewer: they take the seat.
    helper = world.annotators[1]
    membership_role_change(
        campaign=world.campaign,
        user=helper,
        from_role=Role.ANNOTATOR,
        to_role=Role.REVIEWER,
        actor=world.curator,
    )
    assert panel(rewrite)[helper.username] == "pending"
    assert campaign_funnel(world.campaign)["waiting_for_reviewers"] == 0
    assert panels_fill_waiting(campaign=world.campaign) == 0


def test_the_periodic_sweep_fills_panels_for_reviewers_added_outside_the_services(make_world):
    """``fill_waiting_panels`` (Celery beat) is the safety net for memberships written without
    the services, e.g. by a data migration: the one place a raw write is the scenario."""
    world = make_world(slug="late", reviewers=2)
    world.add_seeds(2)
    one = world.submitted(world.annotators[0])
    two = world.submitted(world.annotators[1])
    assert campaign_funnel(world.campaign)["waiting_for_reviewers"] == 2
    assert fill_waiting_panels() == 0  # nobody to seat yet
    late = [user_ensure(username=f"r-late-{i}", password="pw") for i in (1, 2)]
    Membership.objects.create(campaign=world.campaign, user=late[0], role=Role.REVIEWER)
    assert fill_waiting_panels() == 2
    assert len(seats(one)) == len(seats(two)) == 3
    Membership.objects.create(campaign=world.campaign, user=late[1], role=Role.REVIEWER)
    assert panels_fill_waiting(campaign=world.campaign) == 2
    assert seats(one) == seats(two) >= {"r-late-1", "r-late-2"}
    assert len(seats(one)) == 4
    assert panels_fill_waiting(campaign=world.campaign) == 0
    assert campaign_funnel(world.campaign)["waiting_for_reviewers"] == 0


# --- changing a role ----------------------------------------------------------------------------


def test_a_reviewer_becoming_an_annotator_hands_on_their_ballots(world):
    world.add_seeds(2)
    rewrite = world.submitted()
    rev2, rev5 = world.reviewers[1], world.reviewers[4]
    ballot = rewrite.ballots.get(reviewer=rev2)

    membership = membership_role_change(
        campaign=world.campaign,
        user=rev2,
        from_role=Role.REVIEWER,
        to_role=Role.ANNOTATOR,
        actor=world.curator,
    )

    assert membership.role == "annotator"
    assert set(
        Membership.objects.filter(campaign=world.campaign, user=rev2).values_list("role", flat=True)
    ) == {"annotator"}
    ballot.refresh_from_db()
    assert ballot.status == "closed"
    assert panel(rewrite)[rev5.username] == "pending"
    (changed,) = events(world.campaign, "membership.role_changed")
    assert (changed.actor, changed.from_state, changed.to_state) == (
        world.curator,
        "reviewer",
        "annotator",
    )
    assert changed.data == {"user": rev2.username, "ballots_closed": 1, "ballots_reopened": 1}
    assert not events(world.campaign, "membership.removed")
    # Now a member without the reviewer role: 403 on the vote, and they can claim seeds.
    res = api_for(rev2).post(
        f"/api/v1/ballots/{ballot.pk}/vote/", {"decision": "valid"}, format="json"
    )
    assert res.status_code in (403, 404), res.content
    with pytest.raises(NotAllowed):
        ballot_cast(ballot_id=ballot.pk, actor=rev2, decision="valid")
    assert world.claim(rev2) is not None


def test_an_annotator_becoming_a_reviewer_releases_untouched_work(world):
    world.add_seeds(1)
    ann2 = world.annotators[1]
    assignment = world.claim(ann2)
    membership_role_change(
        campaign=world.campaign,
        user=ann2,
        from_role=Role.ANNOTATOR,
        to_role=Role.REVIEWER,
        actor=world.curator,
    )
    assignment.refresh_from_db()
    assert assignment.status == "released"
    assert Seed.objects.get(pk=assignment.seed_id).status == "sampled"
    (changed,) = events(world.campaign, "membership.role_changed")
    assert changed.data == {
        "user": ann2.username,
        "assignments_reassigned": 0,
        "assignments_released": 1,
    }
    # As a reviewer they now sit on panels; the seed goes to another annotator.
    rewrite = world.submitted(world.annotators[0])
    assert rewrite.seed_id == assignment.seed_id
    assert ann2.username in seats(rewrite)


def test_changing_to_a_role_already_held_only_drops_the_old_one(world):
    rev1 = world.reviewers[0]
    membership_add(campaign=world.campaign, user=rev1, role=Role.ANNOTATOR)
    kept = Membership.objects.get(campaign=world.campaign, user=rev1, role=Role.REVIEWER)
    result = membership_role_change(
        campaign=world.campaign,
        user=rev1,
        from_role=Role.ANNOTATOR,
        to_role=Role.REVIEWER,
        actor=world.curator,
    )
    assert result.pk == kept.pk
    assert list(
        Membership.objects.filter(campaign=world.campaign, user=rev1).values_list("role", flat=True)
    ) == ["reviewer"]
    (removed,) = events(world.campaign, "membership.removed")
    assert removed.from_state == "annotator"


# --- removing an annotator ----------------------------------------------------------------------


def save_draft(assignment, text: str, version: int = 0):
    return draft_save(
        assignment_id=assignment.pk,
        actor=assignment.annotator,
        data=DraftInput(**{**GOOD_DRAFT, "text": text}),
        version=version,
    )


def test_removing_an_annotator_releases_untouched_work_back_to_the_pool(world):
    world.add_seeds(1)
    ann1, ann2 = world.annotators[:2]
    assignment = world.claim(ann1)
    moved = membership_remove(
        campaign=world.campaign, user=ann1, role=Role.ANNOTATOR, actor=world.curator
    )
    assert moved == {"assignments_reassigned": 0, "assignments_released": 1}
    assignment.refresh_from_db()
    assert assignment.status == "released" and assignment.annotator == ann1
    assert Seed.objects.get(pk=assignment.seed_id).status == "sampled"
    assert [e.object_id for e in events(world.campaign, "assignment.released")] == [assignment.pk]
    assert [e.object_id for e in events(world.campaign, "seed.back_to_pool")] == [
        assignment.seed_id
    ]
    # Claimable again, by someone else.
    again = world.claim(ann2)
    assert again.seed_id == assignment.seed_id and again.pk != assignment.pk
    # And the removed annotator can no longer claim.
    with pytest.raises(NotFound):
        world.claim(ann1)


def test_removing_an_annotator_gives_drafts_to_the_least_loaded_annotator(world):
    world.add_seeds(4)
    ann1, ann2, ann3, _ann4 = world.annotators
    drafted = world.claim(ann1)
    rewrite = save_draft(drafted, "A draft the annotator spent an hour on.")
    untouched = world.claim(ann1)
    world.claim(ann2)  # ann2 holds one; ann3 and ann4 none, ann3 first by id

    moved = membership_remove(
        campaign=world.campaign, user=ann1, role=Role.ANNOTATOR, actor=world.curator
    )

    assert moved == {"assignments_reassigned": 1, "assignments_released": 1}
    drafted.refresh_from_db()
    untouched.refresh_from_db()
    assert (drafted.status, drafted.annotator) == ("active", ann3)
    assert untouched.status == "released"
    kept = Rewrite.objects.get(pk=rewrite.pk)
    assert kept.text == "A draft the annotator spent an hour on."
    assert (kept.author, kept.status, kept.version) == (ann3, "draft", rewrite.version)
    (reassigned,) = events(world.campaign, "assignment.reassigned")
    assert reassigned.object_id == drafted.pk and reassigned.actor == world.curator
    assert reassigned.data["from_annotator"] == ann1.pk
    assert reassigned.data["to_annotator"] == ann3.pk
    assert reassigned.data["draft_revisions"] == [rewrite.pk]
    assert ann1.username in reassigned.data["note"]
    # ann3 carries on from the kept version and submits; ann1 is not on the panel.
    drafted.annotator = ann3
    save_draft(drafted, "A draft the annotator spent an hour on, finished.", kept.version)
    submitted = rewrite_submit(assignment_id=drafted.pk, actor=ann3)
    assert submitted.pk == rewrite.pk and submitted.author == ann3
    assert ann1.username not in panel(submitted) and ann3.username not in panel(submitted)


def test_removing_an_annotator_with_reassign_to_sends_everything_there(world):
    world.add_seeds(3)
    ann1, _ann2, _ann3, ann4 = world.annotators
    drafted = world.claim(ann1)
    rewrite = save_draft(drafted, "Half a question.")
    untouched = world.claim(ann1)
    moved = membership_remove(
        campaign=world.campaign,
        user=ann1,
        role=Role.ANNOTATOR,
        actor=world.curator,
        reassign_to=ann4,
    )
    assert moved == {"assignments_reassigned": 2, "assignments_released": 0}
    assert set(
        Assignment.objects.filter(pk__in=[drafted.pk, untouched.pk]).values_list(
            "annotator", "status"
        )
    ) == {(ann4.pk, "active")}
    assert Rewrite.objects.get(pk=rewrite.pk).author == ann4
    assert Seed.objects.get(pk=untouched.seed_id).status == "assigned"


def test_reassigning_to_someone_who_cannot_take_it_changes_nothing(world):
    world.add_seeds(1)
    ann1 = world.annotators[0]
    assignment = world.claim(ann1)
    save_draft(assignment, "Draft.")
    for target in [world.reviewers[0], ann1]:
        with pytest.raises(ValidationFailed):
            membership_remove(
                campaign=world.campaign,
                user=ann1,
                role=Role.ANNOTATOR,
                actor=world.curator,
                reassign_to=target,
            )
    with pytest.raises(ValidationFailed):
        membership_remove(
            campaign=world.campaign,
            user=world.reviewers[0],
            role=Role.REVIEWER,
            actor=world.curator,
            reassign_to=world.annotators[1],
        )
    assert membership_exists(world.campaign, ann1, Role.ANNOTATOR)
    assert membership_exists(world.campaign, world.reviewers[0], Role.REVIEWER)
    assignment.refresh_from_db()
    assert (assignment.status, assignment.annotator) == ("active", ann1)
    assert not events(world.campaign, "membership.removed")


def test_with_no_annotator_left_drafts_are_released_and_kept(world):
    world.add_seeds(2)
    ann1 = world.annotators[0]
    drafted = world.claim(ann1)
    rewrite = save_draft(drafted, "Nobody will finish this.")
    for other in world.annotators[1:]:
        membership_remove(campaign=world.campaign, user=other, role=Role.ANNOTATOR)
    moved = membership_remove(
        campaign=world.campaign, user=ann1, role=Role.ANNOTATOR, actor=world.curator
    )
    assert moved == {"assignments_reassigned": 0, "assignments_released": 1}
    drafted.refresh_from_db()
    assert drafted.status == "released"
    assert Seed.objects.get(pk=drafted.seed_id).status == "sampled"
    kept = Rewrite.objects.get(pk=rewrite.pk)
    assert (kept.text, kept.status, kept.author, kept.assignment_id) == (
        "Nobody will finish this.",
        "draft",
        ann1,
        drafted.pk,
    )


# --- refusals -----------------------------------------------------------------------------------


def test_the_last_curator_cannot_be_removed(world):
    before = Event.objects.count()
    for call in [
        lambda: membership_remove(
            campaign=world.campaign, user=world.curator, role=Role.CURATOR, actor=world.curator
        ),
        lambda: membership_role_change(
            campaign=world.campaign,
            user=world.curator,
            from_role=Role.CURATOR,
            to_role=Role.REVIEWER,
            actor=world.curator,
        ),
    ]:
        with pytest.raises(Conflict, match="last curator"):
            call()
    assert membership_exists(world.campaign, world.curator, Role.CURATOR)
    assert not membership_exists(world.campaign, world.curator, Role.REVIEWER)
    assert Event.objects.count() == before
    # With a second curator the first can go.
    second = world.member("camp-curator2", Role.CURATOR)
    membership_remove(campaign=world.campaign, user=world.curator, role=Role.CURATOR, actor=second)
    assert not membership_exists(world.campaign, world.curator, Role.CURATOR)
    with pytest.raises(Conflict):
        membership_remove(campaign=world.campaign, user=second, role=Role.CURATOR)


def test_removing_a_membership_that_does_not_exist_is_not_found(world):
    with pytest.raises(NotFound):
        membership_remove(
            campaign=world.campaign,
            user=world.annotators[0],
            role=Role.REVIEWER,
            actor=world.curator,
        )
    stranger = user_ensure(username="stranger", password="pw")
    with pytest.raises(NotFound):
        membership_remove(campaign=world.campaign, user=stranger, role=Role.ANNOTATOR)
    assert not events(world.campaign, "membership.removed")


def test_only_a_curator_of_the_campaign_may_remove_members(world, make_world):
    world.add_seeds(1)
    rewrite = world.submitted()
    rev1 = world.reviewers[0]
    with pytest.raises(NotAllowed):
        membership_remove(
            campaign=world.campaign, user=rev1, role=Role.REVIEWER, actor=world.annotators[1]
        )
    with pytest.raises(NotAllowed):
        membership_remove(
            campaign=world.campaign, user=rev1, role=Role.REVIEWER, actor=world.reviewers[1]
        )
    with pytest.raises(NotFound):
        membership_remove(
            campaign=world.campaign,
            user=rev1,
            role=Role.REVIEWER,
            actor=make_world(slug="elsewhere").curator,
        )
    assert membership_exists(world.campaign, rev1, Role.REVIEWER)
    assert panel(rewrite)[rev1.username] == "pending"
    assert not events(world.campaign, "membership.removed")


# --- the admin ----------------------------------------------------------------------------------


@pytest.fixture
def admin_client(db):
    admin = get_user_model().objects.create_superuser("root", "root@lab.example", "pw-root")
    client = Client()
    client.force_login(admin)
    return client, admin


def test_deleting_a_membership_in_the_admin_goes_through_the_service(world, admin_client):
    client, admin = admin_client
    world.add_seeds(1)
    rewrite = world.submitted()
    rev2, rev5 = world.reviewers[1], world.reviewers[4]
    membership = Membership.objects.get(campaign=world.campaign, user=rev2, role=Role.REVIEWER)
    ballot = rewrite.ballots.get(reviewer=rev2)
    url = f"/admin/annotation/membership/{membership.pk}/delete/"
    assert client.get(url).status_code == 200
    res = client.post(url, {"post": "yes"})
    assert res.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    ballot.refresh_from_db()
    assert ballot.status == "closed"
    assert panel(rewrite)[rev5.username] == "pending"
    (removed,) = events(world.campaign, "membership.removed")
    assert removed.actor == admin and removed.object_id == membership.pk
    assert removed.data["ballots_closed"] == 1
    assert [e.actor for e in events(world.campaign, "ballot.closed")] == [admin]


def test_the_admin_refuses_to_delete_the_last_curator_and_says_why(world, admin_client):
    client, _admin = admin_client
    membership = Membership.objects.get(campaign=world.campaign, role=Role.CURATOR)
    res = client.post(
        f"/admin/annotation/membership/{membership.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert res.status_code == 200
    assert Membership.objects.filter(pk=membership.pk).exists()
    shown = [str(m) for m in res.context["messages"]]
    assert any("last curator" in m for m in shown), shown
    # It must not also claim the deletion succeeded, nor log one in the admin's history.
    assert not any("deleted successfully" in m for m in shown), shown
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()
    assert not events(world.campaign, "membership.removed")


# --- races and limits (found in review) ---------------------------------------------------------


def test_the_sweep_closes_a_ballot_seated_while_its_reviewer_was_being_removed(make_world):
    """A panel filled at the moment of a removal can still seat the reviewer (it read the
    membership before the removal committed); the periodic sweep closes that ballot and
    refills the seat."""
    world = make_world(slug="race", reviewers=5)
    world.add_seeds(1)
    rewrite = world.submitted()
    seated = rewrite.ballots.order_by("pk").first()
    # The state such a race leaves: the membership gone, the ballot still pending.
    Membership.objects.filter(user=seated.reviewer, role=Role.REVIEWER).delete()
    fill_waiting_panels()  # the beat task (its count is of ballots opened by the last step)
    seated.refresh_from_db()
    assert seated.status == Ballot.Status.CLOSED
    assert len(seats(rewrite)) == world.campaign.panel_size
    assert seated.reviewer.username not in seats(rewrite)
    assert events(world.campaign, "ballot.closed")[-1].data["reason"] == "reviewer removed"


def test_removing_an_annotator_when_nobody_can_take_more_releases_the_work(make_world):
    world = make_world(slug="full", max_active_assignments=1)
    world.add_seeds(6)
    leaving = world.annotators[0]
    drafted = world.claim(leaving)
    world.draft(drafted)
    for other in world.annotators[1:]:
        world.claim(other)  # everyone else is at the limit
    moved = membership_remove(campaign=world.campaign, user=leaving, role=Role.ANNOTATOR)
    assert moved == {"assignments_reassigned": 0, "assignments_released": 1}
    drafted.refresh_from_db()
    assert drafted.status == Assignment.Status.RELEASED
    assert Rewrite.objects.filter(assignment=drafted, status="draft").exists()  # kept
    assert Seed.objects.get(pk=drafted.seed_id).status == Seed.Status.SAMPLED


def test_a_rewrite_waiting_for_a_reviewer_shows_an_unfilled_seat_in_the_api(make_world):
    world = make_world(slug="thin", reviewers=4)
    world.add_seeds(1)
    rewrite = world.submitted()
    leaving = rewrite.ballots.order_by("pk").first().reviewer
    membership_remove(campaign=world.campaign, user=leaving, role=Role.REVIEWER)
    res = api_for(world.curator).get(f"/api/v1/campaigns/{world.campaign.slug}/rewrites/")
    tally = res.json()["results"][0]["tally"]
    assert (tally["pending"], tally["unfilled"]) == (3, 1)
    assert campaign_funnel(world.campaign)["waiting_for_reviewers"] == 1


def test_adding_an_existing_reviewer_again_fills_waiting_panels(make_world):
    world = make_world(slug="again", reviewers=3)
    world.add_seeds(1)
    rewrite = world.submitted()
    assert len(seats(rewrite)) == 3
    late = user_ensure(username="late", password="pw")
    Membership.objects.create(campaign=world.campaign, user=late, role=Role.REVIEWER)
    membership_add(campaign=world.campaign, user=late, role=Role.REVIEWER)  # exists already
    assert "late" in seats(rewrite)


def test_the_user_admin_does_not_delete_a_member_of_a_campaign(world):
    """Deleting a user would drop their memberships without the membership services (the last
    curator could go); the admin refuses while they are a member, and allows it once not."""
    operator = get_user_model().objects.create_superuser("op", "op@lab.org", "pw-op")
    client = Client()
    client.force_login(operator)
    url = f"/admin/auth/user/{world.curator.pk}/delete/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert membership_exists(world.campaign, world.curator, Role.CURATOR)
    loner = user_ensure(username="loner", password="pw")
    res = client.post(f"/admin/auth/user/{loner.pk}/delete/", {"post": "yes"})
    assert res.status_code == 302
    assert not get_user_model().objects.filter(username="loner").exists()
