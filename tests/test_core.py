"""core: the transition helper, the one access check and the role cache of a request."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from annotation.models import Assignment, Event, Rewrite, Role, Seed
from core import access
from core.errors import InvalidTransition, NotAllowed, NotFound
from core.transitions import EventKind, transition, transition_many
from exports.models import Release
from review.models import Ballot

MODELS = [Seed, Assignment, Rewrite, Ballot, Release]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_transition_map_names_only_real_states(model):
    states = set(model.Status.values)
    assert set(model.TRANSITIONS) <= states
    for source, targets in model.TRANSITIONS.items():
        assert targets and targets <= states, (model.__name__, source)
    # Every state can be reached from the first state or is the first state.
    reached = {model.Status.values[0]}
    frontier = list(reached)
    while frontier:
        for target in model.TRANSITIONS.get(frontier.pop(), ()):
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == states, (model.__name__, states - reached)


def test_transition_moves_writes_event_and_runs_side_effects_after_commit(
    world, django_capture_on_commit_callbacks
):
    world.add_seeds(1)
    seed = Seed.objects.get()
    ran = []
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        event = transition(
            seed,
            to=Seed.Status.ASSIGNED,
            allowed=Seed.TRANSITIONS,
            kind=EventKind.SEED_ASSIGNED,
            actor=world.curator,
            data={"why": "test"},
            after_commit=[lambda: ran.append("after")],
        )
        assert ran == []  # not before the commit
    assert ran == ["after"]
    seed.refresh_from_db()
    assert seed.status == Seed.Status.ASSIGNED
    assert (event.kind, event.from_state, event.to_state, event.actor) == (
        "seed.assigned",
        "sampled",
        "assigned",
        world.curator,
    )
    assert event.object_type == "seed" and event.object_id == seed.pk


def test_transition_refuses_a_move_the_map_does_not_allow(world):
    world.add_seeds(1)
    seed = Seed.objects.get()
    before = Event.objects.count()
    with pytest.raises(InvalidTransition, match="cannot become done"), transaction.atomic():
        transition(
            seed,
            to=Seed.Status.DONE,
            allowed=Seed.TRANSITIONS,
            kind=EventKind.SEED_DONE,
            actor=None,
        )
    assert Seed.objects.get().status == Seed.Status.SAMPLED
    assert Event.objects.count() == before


def test_transition_on_a_stale_object_changes_nothing(world):
    """Another transaction moved the row first: the guarded update matches no row."""
    world.add_seeds(1)
    stale = Seed.objects.get()
    Seed.objects.filter(pk=stale.pk).update(status=Seed.Status.ASSIGNED)
    before = Event.objects.count()
    with pytest.raises(InvalidTransition, match="changed meanwhile"), transaction.atomic():
        transition(
            stale,
            to=Seed.Status.ASSIGNED,
            allowed=Seed.TRANSITIONS,
            kind=EventKind.SEED_ASSIGNED,
            actor=None,
        )
    assert Event.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_transition_outside_a_transaction_is_a_programming_error(make_world):
    world = make_world()
    world.add_seeds(1)
    with pytest.raises(RuntimeError, match="transaction.atomic"):
        transition(
            Seed.objects.get(),
            to=Seed.Status.ASSIGNED,
            allowed=Seed.TRANSITIONS,
            kind=EventKind.SEED_ASSIGNED,
            actor=None,
        )


def test_transition_many_moves_only_rows_in_the_source_state_in_order(world):
    world.add_seeds(5, sample=False)
    ids = list(Seed.objects.order_by("-pk").values_list("pk", flat=True))
    Seed.objects.filter(pk=ids[0]).update(status=Seed.Status.SAMPLED)
    with transaction.atomic():
        moved = transition_many(
            Seed,
            ids,
            from_state=Seed.Status.POOLED,
            to=Seed.Status.SAMPLED,
            allowed=Seed.TRANSITIONS,
            kind=EventKind.SEED_SAMPLED,
            actor=None,
            campaign=world.campaign,
            data=lambda pk: {"pk": pk},
        )
    assert moved == ids[1:]
    events = Event.objects.filter(kind="seed.sampled").order_by("pk")
    assert [e.object_id for e in events] == ids[1:]
    assert all(e.data == {"pk": e.object_id} for e in events)


def test_access_rule_not_found_then_not_allowed_then_owner(world):
    world.add_seeds(1)
    assignment = world.claim(world.annotators[0])
    campaign = assignment.campaign
    with pytest.raises(NotFound, match="gone"):
        access.require(world.annotators[0], None, role=Role.ANNOTATOR, missing="gone")
    stranger = world.member("stranger", Role.REVIEWER)
    from annotation.models import Membership

    Membership.objects.filter(user=stranger).delete()
    with pytest.raises(NotFound):
        access.require(stranger, campaign, role=Role.ANNOTATOR)
    with pytest.raises(NotAllowed, match="annotator role"):
        access.require(world.reviewers[0], campaign, role=Role.ANNOTATOR)
    with pytest.raises(NotFound):
        access.require(
            world.annotators[1], campaign, role=Role.ANNOTATOR, owner_id=assignment.annotator_id
        )
    roles = access.require(
        world.curator,
        campaign,
        role=Role.ANNOTATOR,
        owner_id=assignment.annotator_id,
        or_role=Role.CURATOR,
    )
    assert Role.CURATOR in roles


def test_roles_are_read_once_per_request_and_forgotten_after_a_membership_change(world):
    campaign = world.campaign
    user = world.annotators[0]
    with access.scope():
        with CaptureQueriesContext(connection) as queries:
            for _ in range(5):
                access.require(user, campaign, role=Role.ANNOTATOR)
        assert len(queries) == 1
        from review.services import membership_remove

        membership_remove(campaign=campaign, user=user, role=Role.ANNOTATOR)
        with pytest.raises(NotFound):
            access.require(user, campaign, role=Role.ANNOTATOR)
    # Outside a request every check reads the database.
    with CaptureQueriesContext(connection) as queries:
        access.roles(world.curator, campaign)
        access.roles(world.curator, campaign)
    assert len(queries) == 2


def test_operators_reach_every_campaigns_workspace_without_being_members(world):
    """An operator (an active staff superuser) holds the curator's role in every campaign; a
    staff user who is not a superuser does not, and neither does an inactive operator."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    users = get_user_model().objects
    operator = users.create_superuser("operator", "op@lab.org", "pw-operator")
    staff = users.create_user("staff", "st@lab.org", "pw-staff", is_staff=True)
    assert Role.CURATOR in access.roles(operator, world.campaign)
    assert access.roles(staff, world.campaign) == frozenset()
    slug = world.campaign.slug
    for user, expected in ((operator, 200), (staff, 404)):
        client = Client()
        client.force_login(user)
        for page in ("settings", "people", "seeds", "references", "answers", "dashboard"):
            res = client.get(f"/campaigns/{slug}/{page}/")
            assert res.status_code == expected, (user.username, page, res.status_code)
    operator.is_active = False
    operator.save()
    assert access.roles(operator, world.campaign) == frozenset()
