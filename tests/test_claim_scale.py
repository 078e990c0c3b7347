"""Claim-next at scale (issue 18): on PostgreSQL one statement claims a seed (pick with SKIP
LOCKED on the partial index of claimable seeds, guarded update, assignment, both events) in
autocommit, with no BEGIN/COMMIT around it; on SQLite the ORM path does the same. Both store the
same rows and log the same lines; the query counts are fixed here, the plan and the seed
table's autovacuum settings too."""

import logging
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation import selectors
from annotation.models import Assignment, Event, Membership, Seed
from annotation.serializers import AssignmentOut
from annotation.services import assignment_claim_next, assignment_skip
from annotation.services.assignments import _claim_next_once, _claim_next_statement, _claim_sql
from core import access
from core.errors import Conflict, NotAllowed, NotFound

from .conftest import api_for
from .test_concurrency import run_together

POSTGRES = connection.vendor == "postgresql"


def close(a: Any, b: Any) -> bool:
    return abs(a - b) < timedelta(seconds=1)


def claimed_rows(assignment: Any) -> dict[str, Any]:
    """What a claim stored, without ids and clocks: the assignment, its seed's status and the
    events of both, in id order."""
    stored = Assignment.objects.get(pk=assignment.pk)
    row = model_to_dict(stored, exclude=["id", "seed", "lease_expires_at"])
    row["lease_minutes"] = round((stored.lease_expires_at - stored.created_at).total_seconds() / 60)
    row["updated_with_created"] = close(stored.updated_at, stored.created_at)
    events = Event.objects.filter(
        object_type__in=["seed", "assignment"],
        object_id__in=[stored.seed_id, stored.pk],
        kind__in=["seed.assigned", "assignment.claimed"],
    ).order_by("id")
    row["seed_status"] = Seed.objects.get(pk=stored.seed_id).status
    row["events"] = [
        {
            **model_to_dict(e, exclude=["id", "object_id", "data"]),
            "object_id": "seed" if e.object_id == stored.seed_id else "assignment",
            "data": {k: "seed" if k == "seed" else v for k, v in e.data.items()},
            "data_seed_ok": e.data.get("seed", stored.seed_id) == stored.seed_id,
            "same_clock": close(e.created_at, stored.created_at),
        }
        for e in events
    ]
    return row


def expected_rows(world: Any, annotator: Any) -> dict[str, Any]:
    campaign = world.campaign.pk
    common = {"campaign": campaign, "actor": annotator.pk, "same_clock": True}
    return {
        "campaign": campaign,
        "annotator": annotator.pk,
        "status": "active",
        "reject_reason": "",
        "reject_note": "",
        "skip_reason": "",
        "lease_minutes": world.campaign.lease_minutes,
        "updated_with_created": True,
        "seed_status": "assigned",
        "events": [
            {
                **common,
                "kind": "seed.assigned",
                "object_type": "seed",
                "object_id": "seed",
                "from_state": "sampled",
                "to_state": "assigned",
                "data": {"annotator": annotator.username},
                "data_seed_ok": True,
            },
            {
                **common,
                "kind": "assignment.claimed",
                "object_type": "assignment",
                "object_id": "assignment",
                "from_state": "",
                "to_state": "active",
                "data": {"seed": "seed"},
                "data_seed_ok": True,
            },
        ],
    }


@pytest.mark.django_db
def test_a_claim_stores_the_assignment_the_seed_move_and_both_events(world):
    world.add_seeds(3)
    me = world.annotators[1]
    before = timezone.now()
    assignment = assignment_claim_next(campaign=world.campaign, actor=me)
    # The returned object is the stored one.
    stored = Assignment.objects.get(pk=assignment.pk)
    assert (assignment.seed_id, assignment.annotator_id, assignment.status) == (
        stored.seed_id,
        me.pk,
        "active",
    )
    assert assignment.lease_expires_at == stored.lease_expires_at
    assert before + timedelta(minutes=world.campaign.lease_minutes) <= stored.lease_expires_at
    # The first seed in claim order; the seed loads on access.
    assert assignment.seed == Seed.objects.order_by("sample_rank", "id").first()
    assert claimed_rows(assignment) == expected_rows(world, me)


@pytest.mark.django_db
def test_the_statement_and_the_orm_path_store_the_same_rows(postgres, world):
    """The ORM path (SQLite's) and the one statement (PostgreSQL's) write every column alike:
    a field added to Assignment or Event without the statement writing it fails here."""
    world.add_seeds(2)
    me = world.annotators[0]
    by_orm = _claim_next_once(campaign=world.campaign, actor=me)
    by_sql = _claim_next_statement(campaign=world.campaign, actor=me, check_membership=True)
    assert [by_orm.seed, by_sql.seed] == list(Seed.objects.order_by("sample_rank", "id"))
    assert claimed_rows(by_sql) == claimed_rows(by_orm) == expected_rows(world, me)
    orm_fields = {f.attname for f in Assignment._meta.concrete_fields}
    assert set(model_to_dict(by_sql, fields=orm_fields)) <= orm_fields
    for field in orm_fields:
        assert getattr(by_sql, field) == getattr(Assignment.objects.get(pk=by_sql.pk), field)


@pytest.mark.django_db
def test_both_paths_log_the_same_event_lines(
    postgres, world, caplog, django_capture_on_commit_callbacks
):
    world.add_seeds(2)
    me = world.annotators[0]

    def lines(claim: Any) -> list[dict[str, Any]]:
        caplog.clear()
        with (
            caplog.at_level(logging.INFO, logger="curation.events"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            assignment = claim(campaign=world.campaign, actor=me)
        ids = {assignment.pk: "A", assignment.seed_id: "S"}
        found = []
        for r in caplog.records:
            kind, object_type, object_id, arrow = r.getMessage().split(" ")
            assert int(object_id) == r.object_id
            found.append(
                {
                    "message": f"{kind} {object_type} {ids[r.object_id]} {arrow}",
                    **{k: getattr(r, k) for k in ("kind", "from_state", "to_state", "actor_id")},
                    "campaign_id": r.campaign_id,
                    "data": {k: ids[v] for k, v in getattr(r, "data", {}).items()},
                }
            )
        return found

    common = {"actor_id": me.pk, "campaign_id": world.campaign.pk}
    assert (
        lines(_claim_next_once)
        == lines(partial(_claim_next_statement, check_membership=True))
        == [
            {
                "message": "seed.assigned seed S sampled->assigned",
                "kind": "seed.assigned",
                "from_state": "sampled",
                "to_state": "assigned",
                **common,
                "data": {},
            },
            {
                "message": "assignment.claimed assignment A -->active",
                "kind": "assignment.claimed",
                "from_state": "",
                "to_state": "active",
                **common,
                "data": {"seed": "S"},
            },
        ]
    )


def claim_queries(world: Any, annotator: Any) -> tuple[list[str], list[bool]]:
    """The SQL of one claim (BEGIN and COMMIT included: every round trip), and for each
    statement whether it ran inside a transaction."""
    in_transaction: list[bool] = []

    def watch(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        in_transaction.append(not connection.get_autocommit())
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(watch):
        assert assignment_claim_next(campaign=world.campaign, actor=annotator) is not None
    return [q["sql"] for q in ctx.captured_queries], in_transaction


@pytest.mark.django_db(transaction=True)
def test_claim_query_count(make_world):
    """On PostgreSQL a claim is one round trip: one statement in autocommit (no BEGIN/COMMIT)
    that also checks the membership; only when it claims nothing is ``core.access`` asked why
    (not an annotator, or nothing left). SQLite's ORM path reads the roles (outside a request;
    in one they are cached, ``core.access``), then runs five statements between BEGIN and
    COMMIT (pick, guarded update, an event, the assignment, an event)."""
    world = make_world(slug="qcount")
    world.add_seeds(2)
    me = world.annotators[0]
    queries, in_transaction = claim_queries(world, me)
    if POSTGRES:
        assert len(queries) == 1, queries
        assert queries[0].lstrip().startswith("WITH picked AS")
        assert in_transaction == [False]  # autocommit: the statement is the transaction
    else:
        assert len(queries) == 8, queries
        assert "membership" in queries[0]
    with access.scope():
        access.roles(me, world.campaign)  # what the request's view did already
        queries, _ = claim_queries(world, me)
    assert len(queries) == (1 if POSTGRES else 7), queries
    with CaptureQueriesContext(connection) as ctx:
        assert assignment_claim_next(campaign=world.campaign, actor=me) is None
    assert len(ctx.captured_queries) == (2 if POSTGRES else 4), ctx.captured_queries


@pytest.mark.django_db(transaction=True)
def test_claim_query_count_with_a_cap(make_world):
    """With ``max_active_assignments`` the claim locks the annotator's membership and counts
    their open assignments in the same transaction as the claim."""
    world = make_world(slug="qcap", max_active_assignments=3)
    world.add_seeds(4)
    me = world.annotators[0]
    queries, in_transaction = claim_queries(world, me)
    if POSTGRES:
        assert len(queries) == 6, queries  # role, BEGIN, lock, count, claim, COMMIT
        assert in_transaction == [False, True, True, True]
    else:
        assert len(queries) == 10, queries


@pytest.mark.django_db(transaction=True)
def test_the_cap_holds_when_one_annotator_claims_from_many_connections(postgres, make_world):
    world = make_world(slug="pgcap", max_active_assignments=2)
    world.add_seeds(10)
    me = world.annotators[0]
    outcomes = run_together(
        [lambda: assignment_claim_next(campaign=world.campaign, actor=me) for _ in range(8)]
    )
    claimed = [a for a, exc in outcomes if exc is None]
    refused = [exc for _, exc in outcomes if exc is not None]
    assert len(claimed) == 2 and all(isinstance(exc, Conflict) for exc in refused)
    assert Assignment.objects.filter(annotator=me, status="active").count() == 2
    assert Seed.objects.filter(status="assigned").count() == 2
    assert Event.objects.filter(kind="assignment.claimed").count() == 2


@pytest.mark.django_db
def test_only_an_annotator_of_the_campaign_claims_while_seeds_are_left(world, make_world):
    """The membership check inside the claim refuses as ``core.access`` does, and claims
    nothing: a reviewer (403), a member of another campaign (404), an operator (the curator's
    roles everywhere, not an annotator's: 403), an annotator removed a moment ago (404)."""
    world.add_seeds(3)
    other = make_world(slug="elsewhere")
    operator = world.member("claim-operator", "reviewer")
    type(operator).objects.filter(pk=operator.pk).update(is_staff=True, is_superuser=True)
    operator.refresh_from_db()
    for actor, error in [
        (world.reviewers[0], NotAllowed),
        (world.curator, NotAllowed),
        (other.annotators[0], NotFound),
        (operator, NotAllowed),
    ]:
        with pytest.raises(error):
            assignment_claim_next(campaign=world.campaign, actor=actor)
    me = world.annotators[0]
    Membership.objects.filter(campaign=world.campaign, user=me).delete()
    with pytest.raises(NotFound):
        assignment_claim_next(campaign=world.campaign, actor=me)
    assert not Assignment.objects.exists()
    assert Seed.objects.filter(status="sampled").count() == 3
    assert not Event.objects.filter(kind__in=["seed.assigned", "assignment.claimed"]).exists()
    # An operator who is also an annotator of the campaign claims like any annotator.
    Membership.objects.create(campaign=world.campaign, user=operator, role="annotator")
    assert assignment_claim_next(campaign=world.campaign, actor=operator).annotator == operator


@pytest.mark.django_db
def test_a_skipped_seed_is_not_offered_again_by_the_statement(world):
    world.add_seeds(2)
    me, other = world.annotators[:2]
    first = assignment_claim_next(campaign=world.campaign, actor=me)
    assignment_skip(assignment_id=first.pk, actor=me)
    second = assignment_claim_next(campaign=world.campaign, actor=me)
    assert second.seed_id != first.seed_id
    assert assignment_claim_next(campaign=world.campaign, actor=me) is None
    assert assignment_claim_next(campaign=world.campaign, actor=other).seed_id == first.seed_id


@pytest.mark.django_db
def test_the_pick_reads_the_claimable_seeds_index(postgres, world):
    """The claim walks the partial index of sampled seeds in claim order (no sort, no scan of
    assigned or done seeds), with the skip check per candidate."""
    world.add_seeds(300)
    Seed.objects.filter(pk__in=Seed.objects.order_by("sample_rank")[:200].values("pk")).update(
        status="assigned"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotation_seed")
        cursor.execute("ANALYZE annotation_assignment")
        cursor.execute(
            "EXPLAIN " + _claim_sql(check_membership=True),
            {
                "campaign": world.campaign.pk,
                "actor": world.annotators[0].pk,
                "lease": timezone.now(),
                "now": timezone.now(),
                "seed_data": "{}",
            },
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    pick = plan[: plan.index("CTE moved")]
    assert "Index Scan using seed_claimable on annotation_seed" in pick, plan
    assert "LockRows" in pick, plan  # SKIP LOCKED: concurrent claims pass each other
    assert "Sort" not in pick and "Seq Scan on annotation_seed" not in pick, plan


@pytest.mark.django_db
def test_the_seed_table_is_vacuumed_early(postgres):
    """Migration 0013: dead claim-queue entries are vacuumed after 1% of the seeds (plus 1,000)
    changed, not PostgreSQL's default 20%."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'annotation_seed'")
        (options,) = cursor.fetchone()
    assert set(options) >= {
        "autovacuum_vacuum_scale_factor=0.01",
        "autovacuum_vacuum_threshold=1000",
    }


@pytest.mark.django_db(transaction=True)
def test_the_claim_api_answers_from_the_statement_as_from_a_reload(make_world):
    """On PostgreSQL the claim statement returns the assignment with its seed, subcategory and
    category (the seed's JSON metadata decoded as the ORM does; a seed without a subcategory
    too), so the API answers without reloading: the token, the campaign, the claim. The
    response is the one the reload (``selectors.assignment_claimed``) gives."""
    world = make_world(slug="qanswer")
    world.add_seeds(4, metadata={"k": [1, "two"]}, answer="42", title="T")
    client = api_for(world.annotators[0])
    url = f"/api/v1/campaigns/{world.campaign.slug}/assignments/next/"
    client.post(url)  # warm: content types and the like
    left = world.campaign.seeds.filter(status="sampled").order_by("sample_rank", "id")
    Seed.objects.filter(pk=left[0].pk).update(subcategory=None)
    bodies = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(url)
        assert response.status_code == 201, response.content
        body = response.json()
        stored = Assignment.objects.get(pk=body["id"])
        reloaded = selectors.assignment_claimed(stored, campaign=world.campaign)
        assert body == AssignmentOut(reloaded).data
        assert len(ctx.captured_queries) == (3 if POSTGRES else 11), ctx.captured_queries
        bodies.append(body)
    assert [b["seed"]["subcategory"] is None for b in bodies] == [True, False]
    me = world.annotators[1]
    claimed = assignment_claim_next(campaign=world.campaign, actor=me)
    stored = Assignment.objects.select_related("seed").get(pk=claimed.pk)
    assert model_to_dict(claimed) == model_to_dict(stored)
    assert model_to_dict(claimed.seed) == model_to_dict(stored.seed)
    assert claimed.seed.metadata == {"k": [1, "two"]}
