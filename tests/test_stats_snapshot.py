"""The curator's statistics are served from a stored snapshot (``review.dashboard.snapshot``):
a few small queries per request whatever the campaign's size; stale once the campaign has a
newer audit event (or the snapshot is too old), then recomputed by one task at a time, at most
once per interval; the API says how fresh the figures are. Tests run Celery in-process, so a
read after a transition sees fresh figures; the worker's behaviour is tested with the task's
sending replaced."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from celery import current_app
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation.models import Event, Rewrite
from review import jobs
from review.dashboard import campaign_overview
from review.dashboard.snapshot import (
    LOCK_CLASS,
    SNAPSHOT_FORMAT,
    refresh_delay,
    snapshot_get,
    snapshot_is_stale,
    stats_snapshot_refresh,
)
from review.models import StatsSnapshot
from review.tasks import refresh_stats_snapshot

from .conftest import api_for, cast_panel

API = "/api/v1"
PANELS = (
    ["valid", "valid", "invalid", "valid"],
    ["invalid", "invalid", "valid", "invalid"],
    ["valid", "invalid", "valid", "invalid"],
)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def stats_of(world: Any) -> dict[str, Any]:
    response = api_for(world.curator).get(f"{API}/campaigns/{world.campaign.slug}/stats/")
    assert response.status_code == 200, response.content[:300]
    return response.json()


def grow(world: Any, rewrites: int) -> None:
    world.add_seeds(rewrites + 2, start=Rewrite.objects.count() * 10 + 1000)
    for i in range(rewrites):
        rewrite = world.submitted(world.annotators[i % 4])
        cast_panel(rewrite, PANELS[i % len(PANELS)])


def test_the_stats_api_is_served_from_the_snapshot_in_a_few_queries(make_world):
    """Once computed, a read touches neither seeds nor ballots nor rewrites, and costs the same
    number of queries at 2 and at 12 reviewed rewrites."""
    measured = {}
    for size in (2, 12):
        world = make_world(f"snap{size}")
        grow(world, size)
        first = stats_of(world)  # the campaign's first look: computed now
        assert first["funnel"]["submitted"] == size
        assert StatsSnapshot.objects.filter(campaign=world.campaign).exists()
        client = api_for(world.curator)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"{API}/campaigns/{world.campaign.slug}/stats/")
        assert response.status_code == 200
        body = response.json()
        sql = " ".join(q["sql"] for q in ctx.captured_queries)
        for table in ("annotation_seed", "annotation_rewrite", "review_ballot"):
            assert table not in sql, table
        measured[size] = len(ctx)
        # The same figures as computed directly, and how fresh they are.
        snapshot = body.pop("snapshot")
        assert body == json_of(campaign_overview(world.campaign))
        assert snapshot["stale"] is False
        assert snapshot["age_seconds"] >= 0 and snapshot["compute_seconds"] >= 0
        stored = snapshot_get(world.campaign.pk)
        assert snapshot["computed_at"] == api_datetime(stored.computed_at)
        assert response["Last-Modified"]
    assert measured[12] == measured[2] <= 6, measured


def json_of(value: Any) -> Any:
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def api_datetime(value: Any) -> str:
    from rest_framework.fields import DateTimeField

    return DateTimeField().to_representation(value)


def test_a_transition_makes_it_stale_and_the_next_read_is_fresh(world):
    grow(world, 2)
    before = stats_of(world)
    snapshot = snapshot_get(world.campaign.pk)
    assert not snapshot_is_stale(snapshot)
    rewrite = world.submitted(world.annotators[1])  # claim, draft, submit: events
    assert snapshot_is_stale(snapshot)
    after = stats_of(world)  # Celery in-process: recomputed before the answer
    assert after["funnel"]["submitted"] == before["funnel"]["submitted"] + 1
    assert after["funnel"]["waiting_for_votes"] == before["funnel"]["waiting_for_votes"] + 1
    assert after["snapshot"]["stale"] is False
    assert snapshot_get(world.campaign.pk).computed_at >= snapshot.computed_at
    # A vote, then a curator's decision: each shows at once.
    cast_panel(rewrite, ["invalid"] * 4)
    assert stats_of(world)["funnel"]["rejected"] == before["funnel"]["rejected"] + 1
    page = client_for(world.curator).get(f"/campaigns/{world.campaign.slug}/dashboard/")
    html = page.content.decode()
    assert 'id="stats-freshness"' in html and 'data-stale="false"' in html
    assert page.context["stats"]["funnel"]["rejected"] == before["funnel"]["rejected"] + 1


def test_events_of_another_campaign_leave_it_fresh(make_world):
    one, other = make_world("one"), make_world("other")
    grow(one, 1)
    stats_of(one)
    snapshot = snapshot_get(one.campaign.pk)
    grow(other, 1)
    assert Event.objects.filter(campaign=other.campaign, id__gt=snapshot.event_watermark).exists()
    assert not snapshot_is_stale(snapshot)


def test_too_old_a_snapshot_is_stale_without_an_event(world, settings):
    grow(world, 1)
    stats_of(world)
    snapshot = snapshot_get(world.campaign.pk)
    settings.CURATION_STATS_MAX_AGE = 60
    assert not snapshot_is_stale(snapshot)
    assert snapshot_is_stale(snapshot, now=snapshot.computed_at + timedelta(seconds=61))
    # What changes without an event: a background job's token counts.
    Rewrite.objects.filter(campaign=world.campaign).update(question_tokens=7)
    StatsSnapshot.objects.filter(pk=world.campaign.pk).update(
        computed_at=timezone.now() - timedelta(seconds=61)
    )
    assert stats_of(world)["question_tokens"]["median"] == 7


@pytest.fixture
def not_eager() -> Iterator[None]:
    """Celery as with a worker: tasks are sent, not run in-process."""
    before = current_app.conf.task_always_eager
    current_app.conf.update(task_always_eager=False)
    try:
        yield
    finally:
        current_app.conf.update(task_always_eager=before)


@pytest.fixture
def worker(not_eager, monkeypatch) -> list[dict[str, Any]]:
    """Celery with a worker: the task is sent (recorded here), not run."""
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(
        refresh_stats_snapshot,
        "apply_async",
        lambda args, **options: sent.append({"args": args, **options}),
    )
    return sent


def test_with_a_worker_a_stale_snapshot_is_served_and_one_recompute_queued(world, worker, settings):
    settings.CURATION_STATS_MIN_INTERVAL = 30
    grow(world, 2)
    first = stats_of(world)  # no snapshot yet: computed by the request, whatever the worker
    assert first["snapshot"]["stale"] is False and worker == []
    world.submitted(world.annotators[2])
    for _ in range(3):  # three curators' reads, one task
        stale = stats_of(world)
        assert stale["funnel"] == first["funnel"]
        assert stale["snapshot"]["stale"] is True
        assert stale["snapshot"]["computed_at"] == first["snapshot"]["computed_at"]
    assert len(worker) == 1
    assert worker[0]["args"] == (world.campaign.pk,)
    assert 0 < worker[0]["countdown"] <= 30  # not sooner than 30 s after the last computation
    page = client_for(world.curator).get(f"/campaigns/{world.campaign.slug}/dashboard/")
    assert 'data-stale="true"' in page.content.decode()
    # The worker runs it: fresh again, and the next change queues a new one.
    assert refresh_stats_snapshot(world.campaign.pk) is True
    fresh = stats_of(world)
    assert fresh["funnel"]["submitted"] == first["funnel"]["submitted"] + 1
    assert fresh["snapshot"]["stale"] is False
    world.submitted(world.annotators[3])
    assert stats_of(world)["snapshot"]["stale"] is True
    assert len(worker) == 2
    # A computation that took 5 s waits ten times that before the next one.
    snapshot = snapshot_get(world.campaign.pk)
    snapshot.compute_seconds = 5.0
    assert refresh_delay(snapshot, now=snapshot.computed_at + timedelta(seconds=1)) == 49.0


def test_a_broker_that_refuses_the_task_leaves_the_figures_served(world, not_eager, monkeypatch):
    grow(world, 1)
    stats_of(world)

    def refuse(args: Any, **options: Any) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(refresh_stats_snapshot, "apply_async", refuse)
    world.submitted(world.annotators[1])
    body = stats_of(world)
    assert body["snapshot"]["stale"] is True
    # Not marked as queued: the next read tries again.
    assert snapshot_get(world.campaign.pk).requested_at is None


def test_one_recompute_at_a_time(world, postgres):
    """A computation finding another one running (the advisory lock held by another session)
    gives up without writing, and cancels its request so that a later read queues one again."""
    grow(world, 1)
    stats_of(world)
    world.submitted(world.annotators[1])
    StatsSnapshot.objects.filter(pk=world.campaign.pk).update(requested_at=timezone.now())
    before = snapshot_get(world.campaign.pk)
    params = connection.get_connection_params()
    with psycopg.connect(
        **{k: v for k, v in params.items() if k not in {"cursor_factory", "context"}},
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_CLASS, world.campaign.pk])
        assert stats_snapshot_refresh(campaign_id=world.campaign.pk) is None
        assert refresh_stats_snapshot(world.campaign.pk) is False
        after = snapshot_get(world.campaign.pk)
        assert (after.computed_at, after.data) == (before.computed_at, before.data)
        assert after.requested_at is None
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, world.campaign.pk])
    assert refresh_stats_snapshot(world.campaign.pk) is True
    assert not snapshot_is_stale(snapshot_get(world.campaign.pk))


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_is_computed_in_one_repeatable_read(postgres):
    from .conftest import World

    world = World("rr")
    grow(world, 1)
    with CaptureQueriesContext(connection) as ctx:
        snapshot = stats_snapshot_refresh(campaign_id=world.campaign.pk)
    assert snapshot is not None and snapshot.event_watermark == Event.objects.latest("id").id
    sql = [q["sql"] for q in ctx.captured_queries]
    assert any("REPEATABLE READ" in q for q in sql), sql[:3]
    assert jobs.curator_stats(campaign=world.campaign).stale is False


def test_a_snapshot_of_another_shape_is_computed_again(world):
    """A snapshot written by an older version (another ``format``) is never served."""
    grow(world, 1)
    stats_of(world)
    StatsSnapshot.objects.filter(pk=world.campaign.pk).update(format=0, data='{"old": 1}')
    body = stats_of(world)
    assert body["funnel"]["submitted"] == 1 and body["snapshot"]["stale"] is False
    assert StatsSnapshot.objects.get(pk=world.campaign.pk).format == SNAPSHOT_FORMAT


def test_the_staleness_check_reads_the_newest_events_by_primary_key(world, postgres):
    """Every read checks the events written since the snapshot: a short range of the primary
    key, never a scan of the campaign's (millions of) events."""
    grow(world, 1)
    stats_of(world)
    snapshot = snapshot_get(world.campaign.pk)
    Event.objects.bulk_create(
        Event(campaign=world.campaign, kind="seed.sampled", object_type="seed", object_id=i)
        for i in range(20_000)
    )
    newest = Event.objects.latest("id").id
    snapshot.event_watermark = newest - 50
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotation_event")
    # The plan of the query snapshot_is_stale itself runs (its last one).
    with CaptureQueriesContext(connection) as ran:
        assert snapshot_is_stale(snapshot)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + ran.captured_queries[-1]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "annotation_event" in ran.captured_queries[-1]["sql"]
    assert "annotation_event_pkey" in plan and "Seq Scan" not in plan, plan
