"""Races, run for real: several threads, each with its own PostgreSQL connection, start together
at a barrier and call the same services the API calls. SQLite serialises writers, so these tests
need PostgreSQL (skipped locally without DATABASE_URL, failed in CI)."""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from annotation.models import Assignment, Event, Rewrite, Seed
from annotation.services import assignment_claim_next
from core.errors import Conflict
from review.consensus import consensus
from review.models import Ballot
from review.services import ballot_cast

DECIDED = {"accepted", "rejected", "no_consensus"}


def run_together(jobs: list[Callable[[], Any]], timeout: float = 60) -> list[tuple[Any, Any]]:
    """Run each job in its own thread, all released at once by a barrier. Returns one
    ``(result, exception)`` pair per job, in order. Every thread closes its own connection."""
    barrier = threading.Barrier(len(jobs), timeout=timeout)
    outcomes: list[tuple[Any, Any]] = [(None, None)] * len(jobs)

    def worker(i: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            outcomes[i] = (job(), None)
        except BaseException as exc:  # noqa: BLE001 - reported to the test, which asserts on it
            outcomes[i] = (None, exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return outcomes


def cast(ballot: Ballot, decision: str) -> Any:
    return ballot_cast(
        ballot_id=ballot.pk,
        actor=ballot.reviewer,
        decision=decision,
        reasons=["unclear"] if decision == "invalid" else [],
    )


@pytest.mark.django_db(transaction=True)
def test_claim_next_race_hands_each_seed_to_exactly_one_annotator(postgres, make_world):
    world = make_world(slug="race")
    annotators = world.annotators + [world.member(f"race-extra{i}", "annotator") for i in range(6)]
    seeds = 40
    world.add_seeds(seeds)
    assert Seed.objects.filter(status="sampled").count() == seeds

    def claim_until_empty(annotator: Any) -> Callable[[], list[tuple[int, int]]]:
        def job() -> list[tuple[int, int]]:
            got = []
            while (
                a := assignment_claim_next(campaign=world.campaign, actor=annotator)
            ) is not None:
                assert a.annotator_id == annotator.pk
                got.append((a.pk, a.seed_id))
            return got

        return job

    outcomes = run_together([claim_until_empty(a) for a in annotators])

    assert [exc for _, exc in outcomes if exc is not None] == []
    handed_out = [seed_id for got, _ in outcomes for _, seed_id in got]
    twice = [seed_id for seed_id, n in Counter(handed_out).items() if n > 1]
    assert twice == [], f"seeds handed to two annotators: {twice}"
    assert sorted(handed_out) == sorted(Seed.objects.values_list("pk", flat=True))
    assert Assignment.objects.count() == seeds
    assert Assignment.objects.filter(status="active").values("seed").distinct().count() == seeds
    assert Seed.objects.filter(status="assigned").count() == seeds
    assert Event.objects.filter(kind="assignment.claimed").count() == seeds
    # Who got what in memory is what the database recorded.
    stored = dict(Assignment.objects.values_list("pk", "annotator_id"))
    for annotator, (got, _) in zip(annotators, outcomes, strict=True):
        assert all(stored[pk] == annotator.pk for pk, _ in got)
    # With 8 threads on 40 seeds the work really was shared (the race happened).
    assert sum(1 for got, _ in outcomes if got) > 1


@pytest.mark.django_db
def test_database_allows_one_active_assignment_per_seed(world):
    """The constraint backs claim-next on its own, whatever the service does."""
    world.add_seeds(1)
    first = world.claim()
    with pytest.raises(IntegrityError) as err, transaction.atomic():
        Assignment.objects.create(
            campaign=world.campaign, seed=first.seed, annotator=world.annotators[1]
        )
    if connection.vendor == "postgresql":
        assert "assignment_one_active_per_seed" in str(err.value)
    assert Assignment.objects.count() == 1
    # The constraint is partial: once the first is no longer active, a new one may start.
    Assignment.objects.filter(pk=first.pk).update(status="released")
    Assignment.objects.create(
        campaign=world.campaign, seed=first.seed, annotator=world.annotators[1]
    )
    assert Assignment.objects.filter(seed=first.seed, status="active").count() == 1


# The first two ballots are cast one after the other, the last two at the same moment.
PANELS = [
    ["valid", "valid", "valid", "valid"],
    ["valid", "valid", "valid", "invalid"],
    ["valid", "invalid", "valid", "valid"],
    ["invalid", "invalid", "invalid", "valid"],
    ["invalid", "valid", "invalid", "invalid"],
    ["invalid", "invalid", "invalid", "invalid"],
    ["valid", "invalid", "valid", "invalid"],
    ["valid", "valid", "invalid", "invalid"],
    ["invalid", "invalid", "valid", "valid"],
    ["valid", "valid", "valid", "invalid"],
]


@pytest.mark.django_db(transaction=True)
def test_concurrent_last_votes_decide_each_rewrite_exactly_once(postgres, make_world):
    world = make_world(slug="votes")
    world.add_seeds(len(PANELS))
    rewrites = [world.submitted(world.annotators[i % 4]) for i in range(len(PANELS))]
    panel_size, threshold = world.campaign.panel_size, world.campaign.accept_threshold
    assert panel_size == 4

    for rewrite, decisions in zip(rewrites, PANELS, strict=True):
        ballots = list(rewrite.ballots.order_by("id"))
        assert len(ballots) == panel_size
        for ballot, decision in zip(ballots[:2], decisions[:2], strict=True):
            assert cast(ballot, decision).outcome is None
        outcomes = run_together(
            [
                lambda b=ballot, d=decision: cast(b, d)
                for ballot, decision in zip(ballots[2:], decisions[2:], strict=True)
            ]
        )
        assert [exc for _, exc in outcomes if exc is not None] == []

        expected = consensus(
            valid=decisions.count("valid"),
            invalid=decisions.count("invalid"),
            panel_size=panel_size,
            threshold=threshold,
        )
        # Exactly one of the two racing votes saw the full panel and decided.
        assert [r.outcome for r, _ in outcomes if r.outcome is not None] == [expected]
        rewrite.refresh_from_db()
        assert rewrite.status == expected and rewrite.decided_at is not None
        decisions_recorded = Event.objects.filter(
            object_type="rewrite",
            object_id=rewrite.pk,
            kind__startswith="rewrite.",
            to_state__in=DECIDED,
        )
        assert [(e.kind, e.to_state) for e in decisions_recorded] == [
            (f"rewrite.{expected}", expected)
        ]
        assert decisions_recorded.get().data["valid"] == decisions.count("valid")
        assert rewrite.ballots.filter(status="cast").count() == panel_size
        assert Counter(rewrite.ballots.values_list("decision", flat=True)) == Counter(decisions)

    assert Event.objects.filter(kind="ballot.cast").count() == panel_size * len(PANELS)


@pytest.mark.django_db(transaction=True)
def test_same_ballot_cast_twice_at_once_counts_once(postgres, make_world):
    world = make_world(slug="twice")
    world.add_seeds(5)
    for i in range(5):
        ballot = world.submitted(world.annotators[i % 4]).ballots.order_by("id").first()
        outcomes = run_together(
            [lambda b=ballot: cast(b, "valid"), lambda b=ballot: cast(b, "invalid")]
        )

        won = [i for i, (result, _) in enumerate(outcomes) if result is not None]
        lost = [exc for _, exc in outcomes if exc is not None]
        assert len(won) == 1 and len(lost) == 1, outcomes
        assert isinstance(lost[0], Conflict), repr(lost[0])
        ballot.refresh_from_db()
        assert ballot.status == "cast"
        assert ballot.decision == ["valid", "invalid"][won[0]]
        assert (
            Event.objects.filter(
                kind="ballot.cast", object_type="ballot", object_id=ballot.pk
            ).count()
            == 1
        )
        assert Rewrite.objects.get(pk=ballot.rewrite_id).status == "submitted"


def _release_world(make_world: Callable[..., Any], slug: str, texts: list[str]) -> Any:
    world = make_world(slug=slug)
    world.add_seeds(len(texts))
    for i, text in enumerate(texts):
        rewrite = world.submitted(annotator=world.annotators[i % 4], text=text)
        for ballot in rewrite.ballots.select_related("reviewer"):
            cast(ballot, "valid")
    return world


@pytest.mark.django_db(transaction=True)
def test_concurrent_checks_and_a_reference_reload_stay_consistent(postgres, make_world, tmp_path):
    from exports.services import ReleaseParameters, release_build
    from quality.models import ContaminationHit
    from quality.services import reference_set_load, rewrite_quality_check

    leaked = "count the vowels in every word of a sentence and return the word with the most"
    texts = [f"Task {i}: {leaked} please" if i % 2 else f"Unrelated question {i}" for i in range(8)]
    world = _release_world(make_world, "qrace", texts)
    ref = tmp_path / "ref.jsonl"
    ref.write_text('{"task_id": "R/1", "prompt": "' + leaked + '"}\n')
    reference_set_load(name="race-ref", paths=[ref])
    rewrites = list(Rewrite.objects.filter(campaign=world.campaign).order_by("pk"))

    jobs: list[Callable[[], Any]] = [
        lambda i=i: release_build(
            campaign=world.campaign,
            out_dir=tmp_path / f"out{i}",
            parameters=ReleaseParameters(name=f"r{i}"),
        )
        for i in range(4)
    ]
    jobs += [lambda r=r: rewrite_quality_check(rewrite_id=r.pk) for r in rewrites]
    jobs.append(lambda: reference_set_load(name="race-ref", paths=[ref]))
    outcomes = run_together(jobs)
    assert [exc for _, exc in outcomes if exc is not None] == []
    assert {result.total for result, _ in outcomes[:4]} == {4}
    hits = Counter(ContaminationHit.objects.values_list("rewrite_id", flat=True))
    assert sorted(hits) == [r.pk for r in rewrites[1::2]] and set(hits.values()) == {1}


@pytest.mark.django_db(transaction=True)
def test_same_release_name_started_at_once_gives_one_release_and_conflicts(
    postgres, make_world, settings, tmp_path
):
    from exports.jobs import release_start
    from exports.models import Release
    from exports.services import ReleaseParameters

    settings.RELEASES_DIR = tmp_path
    world = _release_world(make_world, "namerace", ["How do I cancel an asyncio task safely?"])
    outcomes = run_together(
        [
            lambda: release_start(
                campaign=world.campaign,
                actor=world.curator,
                parameters=ReleaseParameters(name="v1"),
            )
            for _ in range(4)
        ]
    )
    errors = [type(exc).__name__ for _, exc in outcomes if exc is not None]
    assert sorted(errors) == ["Conflict"] * 3
    assert Release.objects.filter(name="v1").count() == 1
