"""Seed classification by the campaign's model (annotation.services.assist_seeds): the job (run
eagerly, as the test settings run tasks), its retry-once rule, failures, the campaign's rate
limit, the sweep that takes over a lost job, and the curator's decisions, through the
services, the API and the pages. The model is tests/fake_openai.py's server.

The job classifies seeds in threads with their own database connections, so these tests
commit (``transaction=True``): another connection never sees a test's open transaction."""

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from annotation import jobs
from annotation.models import (
    AssistSettings,
    Event,
    ModelCall,
    Seed,
    SeedClassificationJob,
    SeedSuggestion,
    Subcategory,
)
from annotation.selectors_assist import seeds_awaiting_classification
from annotation.services import assist_seeds, seeds_import
from annotation.services.assist_seeds import (
    seed_classification_run,
    seed_classification_start,
    seed_classifications_stale,
    seed_suggestions_accept,
    seed_suggestions_dismiss,
)
from annotation.tasks import record_classification_enqueue_failure
from core.errors import (
    Conflict,
    InvalidTransition,
    NotAllowed,
    NotFound,
    Unavailable,
    ValidationFailed,
)
from tests.conftest import World, api_for
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.django_db(transaction=True)

Job = SeedClassificationJob
Suggestion = SeedSuggestion


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    cache.clear()  # the per-minute call counters of earlier tests


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def world() -> World:
    return World(slug="cls", reviewers=1)


def configure(world: World, fake: FakeOpenAI, **fields: Any) -> AssistSettings:
    values = {"enabled": True, "base_url": fake.base_url, "model": "fake-good", **fields}
    config, _ = AssistSettings.objects.update_or_create(campaign=world.campaign, defaults=values)
    return config


def unclassified(world: World, n: int, start: int = 0) -> list[Seed]:
    seeds_import(
        campaign=world.campaign,
        lines=[
            json.dumps({"id": f"u{i}", "title": f"Title {i}", "text": f"How do I sort list {i}?"})
            for i in range(start, start + n)
        ],
    )
    return list(
        Seed.objects.filter(campaign=world.campaign, external_id__startswith="u").order_by("pk")
    )


def first_subcategory(world: World) -> Subcategory:
    """The subcategory the fake model answers: the first one the prompt lists."""
    sub = (
        Subcategory.objects.filter(campaign=world.campaign)
        .select_related("category")
        .order_by("category__position", "category__name", "position", "name")
        .first()
    )
    assert sub is not None
    return sub


def classify(world: World) -> Job:
    """Start a job as the curator does (it runs eagerly once the start commits)."""
    job = jobs.seed_classification_start(campaign=world.campaign, actor=world.curator)
    job.refresh_from_db()
    return job


def kinds(obj: Any) -> list[str]:
    return list(
        Event.objects.filter(object_type=obj._meta.model_name, object_id=obj.pk)
        .order_by("id")
        .values_list("kind", flat=True)
    )


# --- the job ---------------------------------------------------------------------------------


def test_a_job_suggests_a_subcategory_for_every_seed_without_one(
    world: World, fake: FakeOpenAI
) -> None:
    world.add_seeds(2, sample=False)  # these have a subcategory: never asked about
    seeds = unclassified(world, 9)
    configure(world, fake, concurrency=3)
    job = classify(world)

    assert job.status == Job.Status.DONE
    assert (job.total, job.done_count, job.classified, job.unclassified, job.failed) == (
        9,
        9,
        9,
        0,
        0,
    )
    assert job.progress == 100
    assert job.message == "9 of 9 seeds: 9 suggested, 0 left unclassified, 0 failed"
    assert job.model == "fake-good" and job.prompt_version == "builtin-v1"
    assert job.started_at and job.finished_at
    expected = first_subcategory(world)
    suggestions = Suggestion.objects.filter(job=job)
    assert sorted(s.seed_id for s in suggestions) == [s.pk for s in seeds]
    assert {(s.status, s.subcategory_id, s.model) for s in suggestions} == {
        ("suggested", expected.pk, "fake-good")
    }
    # Suggestions only: no seed changes until a curator accepts.
    assert not Seed.objects.filter(pk__in=[s.pk for s in seeds], subcategory__isnull=False)
    calls = ModelCall.objects.filter(campaign=world.campaign, purpose="classify")
    assert calls.count() == 9 == len(fake.requests_to("/v1/chat/completions"))
    assert all(c.status == "ok" and c.tokens_in > 0 and c.tokens_out > 0 for c in calls)
    assert all(c.actor_id == world.curator.pk for c in calls)
    assert kinds(job) == [
        "seed_classification.queued",
        "seed_classification.started",
        "seed_classification.done",
    ]
    done = Event.objects.get(kind="seed_classification.done", object_id=job.pk)
    assert done.data == {"seeds": 9, "suggested": 9, "unclassified": 0, "failed": 0}
    # The prompt lists the taxonomy and the seed.
    sent = fake.requests_to("/v1/chat/completions")[0]["json"]["messages"]
    assert sent[0]["content"].startswith("TASK: classify")
    assert f"- {expected.category.name} > {expected.name}" in sent[0]["content"]
    assert "How do I sort list" in sent[1]["content"]


def test_an_answer_outside_the_taxonomy_is_asked_again_once(world: World) -> None:
    sub = first_subcategory(world)
    answer = f"<subcategory>{(sub.short_name or sub.name).upper()}</subcategory>"
    with FakeOpenAI(classify_answers=["<subcategory>Cooking</subcategory>", answer]) as fake:
        unclassified(world, 1)
        configure(world, fake)
        job = classify(world)
        requests = fake.requests_to("/v1/chat/completions")
    assert job.status == "done" and job.classified == 1
    suggestion = Suggestion.objects.get(job=job)
    assert suggestion.status == "suggested" and suggestion.subcategory_id == sub.pk
    assert len(requests) == 2
    retry = requests[1]["json"]["messages"]
    assert [m["role"] for m in retry] == ["system", "user", "assistant", "user"]
    assert "Cooking" in retry[2]["content"] and "is not one of the listed" in retry[3]["content"]
    # The unusable answer's call is recorded as failed (malformed), the retry's as ok.
    calls = list(ModelCall.objects.filter(purpose="classify").order_by("id"))
    assert [(c.status, c.error_code) for c in calls] == [("failed", "malformed"), ("ok", "")]
    assert calls[0].tokens_out > 0


def test_two_answers_outside_the_taxonomy_leave_the_seed_unclassified(world: World) -> None:
    answers = ["<subcategory>Cooking</subcategory>", "I think it is about gardening."]
    with FakeOpenAI(classify_answers=answers) as fake:
        unclassified(world, 1)
        configure(world, fake)
        job = classify(world)
        assert len(fake.requests_to("/v1/chat/completions")) == 2  # once again, not more
    assert (job.status, job.classified, job.unclassified) == ("done", 0, 1)
    suggestion = Suggestion.objects.get(job=job)
    assert suggestion.status == "unclassified"
    assert suggestion.subcategory is None
    assert suggestion.raw_answer == "I think it is about gardening."
    assert "1 left unclassified" in job.message


def test_a_failing_endpoint_fails_each_seed_not_the_job(world: World, fake: FakeOpenAI) -> None:
    unclassified(world, 3)
    configure(world, fake, model="fake-fail")
    job = classify(world)
    assert (job.status, job.classified, job.failed, job.done_count) == ("done", 0, 3, 3)
    assert job.message == "3 of 3 seeds: 0 suggested, 0 left unclassified, 3 failed"
    failed = Suggestion.objects.filter(job=job)
    assert {s.status for s in failed} == {"failed"}
    assert all("HTTP 500" in s.error for s in failed)
    assert ModelCall.objects.filter(status="failed", error_code="endpoint_error").count() == 3


def test_the_campaign_rate_limit_is_kept_by_waiting(
    world: World, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two calls a minute, five seeds: the job waits for the next minute twice (the wait is
    replaced by starting a new minute) instead of failing seeds."""
    unclassified(world, 5)
    configure(world, fake, rate_limit_per_minute=2, concurrency=1)
    waits: list[float] = []
    sent_before_wait: list[int] = []

    def next_minute(seconds: float) -> None:
        waits.append(seconds)
        sent_before_wait.append(len(fake.requests_to("/v1/chat/completions")))
        cache.clear()  # the counters of this minute: as if it had passed

    monkeypatch.setattr(assist_seeds, "_wait", next_minute)
    job = classify(world)
    assert (job.status, job.classified, job.failed) == ("done", 5, 0)
    assert sent_before_wait == [2, 4]  # never more than two calls in a minute
    assert all(0 < w <= 65 for w in waits)
    assert len(fake.requests_to("/v1/chat/completions")) == 5  # refused calls never left


def test_the_endpoint_rate_limit_is_waited_for_a_few_times_then_the_seed_fails(
    world: World, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    unclassified(world, 1)
    configure(world, fake, model="fake-ratelimit")
    waits: list[float] = []
    monkeypatch.setattr(assist_seeds, "_wait", waits.append)
    job = classify(world)
    assert waits == [7.0] * assist_seeds.ENDPOINT_THROTTLE_RETRIES  # its Retry-After
    assert (job.status, job.failed) == ("done", 1)
    assert "rate-limiting" in Suggestion.objects.get(job=job).error


def test_a_second_job_skips_seeds_already_suggested(world: World, fake: FakeOpenAI) -> None:
    unclassified(world, 3)
    configure(world, fake)
    first = classify(world)
    assert first.classified == 3
    unclassified(world, 2, start=3)
    second = classify(world)
    assert (second.total, second.classified) == (2, 2)
    assert len(fake.requests_to("/v1/chat/completions")) == 5
    assert Suggestion.objects.filter(status="suggested").count() == 5
    # Nothing left: a third start is refused and nothing is queued.
    with pytest.raises(ValidationFailed, match="every seed has a subcategory"):
        classify(world)
    assert Job.objects.count() == 2


def test_start_needs_assistance_on_and_configured(world: World, fake: FakeOpenAI) -> None:
    unclassified(world, 1)
    with pytest.raises(InvalidTransition, match="off"):
        classify(world)
    configure(world, fake, model="")
    with pytest.raises(Unavailable, match="no endpoint URL or model"):
        classify(world)
    assert not Job.objects.exists()


def test_one_open_job_per_campaign(world: World, fake: FakeOpenAI) -> None:
    unclassified(world, 2)
    configure(world, fake)
    queued = seed_classification_start(campaign=world.campaign, actor=world.curator)  # no task
    with pytest.raises(Conflict, match=f"job {queued.pk} is already queued") as caught:
        seed_classification_start(campaign=world.campaign, actor=world.curator)
    assert caught.value.details == {"job": queued.pk}
    url = f"/api/v1/campaigns/{world.campaign.slug}/seed-classifications/"
    response = api_for(world.curator).post(url)
    assert response.status_code == 409
    assert response.json()["job"] == queued.pk
    assert Job.objects.count() == 1


def test_only_curators_start(world: World, fake: FakeOpenAI) -> None:
    unclassified(world, 1)
    configure(world, fake)
    with pytest.raises(NotAllowed):
        seed_classification_start(campaign=world.campaign, actor=world.annotators[0])
    outsider = World(slug="other", reviewers=1).curator
    with pytest.raises(NotFound):
        seed_classification_start(campaign=world.campaign, actor=outsider)


def test_a_job_fails_when_assistance_is_switched_off_before_it_runs(
    world: World, fake: FakeOpenAI
) -> None:
    unclassified(world, 2)
    configure(world, fake)
    job = seed_classification_start(campaign=world.campaign, actor=world.curator)
    AssistSettings.objects.filter(campaign=world.campaign).update(enabled=False)
    job = seed_classification_run(job_id=job.pk)
    assert job.status == "failed" and "off" in job.error and job.finished_at
    assert kinds(job)[-1] == "seed_classification.failed"
    assert not Suggestion.objects.exists()


def test_switching_assistance_off_stops_a_running_job(
    world: World, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The curator switches assistance off after the first seed: the job stops at its next
    progress write instead of spending calls on the other nine; what was suggested stays."""
    unclassified(world, 10)
    configure(world, fake, concurrency=1)
    monkeypatch.setattr(assist_seeds, "PROGRESS_SEEDS", 1)
    original = assist_seeds._classify_seed

    def then_switch_off(context: Any, seed: Any) -> str:
        outcome = original(context, seed)
        AssistSettings.objects.filter(campaign=world.campaign).update(enabled=False)
        return outcome

    monkeypatch.setattr(assist_seeds, "_classify_seed", then_switch_off)
    job = classify(world)
    assert job.status == "failed" and "switched off" in job.error
    # One seed at a time plus the one queued behind it may have been asked; no more.
    sent = len(fake.requests_to("/v1/chat/completions"))
    assert 1 <= sent <= 2 < 10
    assert 1 <= Suggestion.objects.filter(status="suggested").count() <= sent


def test_running_twice_runs_once(world: World, fake: FakeOpenAI) -> None:
    unclassified(world, 2)
    configure(world, fake)
    job = classify(world)
    again = seed_classification_run(job_id=job.pk)
    assert again.status == "done"
    assert len(fake.requests_to("/v1/chat/completions")) == 2
    assert kinds(job).count("seed_classification.started") == 1


def test_an_enqueue_failure_is_noted_on_the_job(world: World, fake: FakeOpenAI) -> None:
    unclassified(world, 1)
    configure(world, fake)
    job = seed_classification_start(campaign=world.campaign, actor=world.curator)
    record_classification_enqueue_failure(job.pk)(OSError("Connection refused"))
    job.refresh_from_db()
    assert job.status == "queued"
    assert job.message == "enqueue failed, will retry: Connection refused"


# --- the sweep -------------------------------------------------------------------------------


def _running_since(job: Job, minutes: int) -> None:
    """As if a worker took ``job`` ``minutes`` ago and died."""
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING, started_at=timezone.now() - timedelta(minutes=minutes)
    )
    Event.objects.create(
        campaign=job.campaign,
        kind="seed_classification.started",
        object_type="seedclassificationjob",
        object_id=job.pk,
        from_state="queued",
        to_state="running",
    )


def test_the_sweep_takes_over_a_running_job_that_went_quiet(world: World, fake: FakeOpenAI) -> None:
    from annotation.tasks import resume_stale_seed_classifications

    seeds = unclassified(world, 4)
    configure(world, fake)
    job = seed_classification_start(campaign=world.campaign, actor=world.curator)
    _running_since(job, minutes=20)
    # Its dead worker had classified one seed before it stopped, long ago.
    Suggestion.objects.create(
        campaign=world.campaign,
        seed=seeds[0],
        job=job,
        subcategory=first_subcategory(world),
        status="suggested",
        model="fake-good",
        prompt_version="builtin-v1",
    )
    Suggestion.objects.filter(job=job).update(created_at=timezone.now() - timedelta(minutes=19))
    assert seed_classifications_stale() == [job.pk]

    assert resume_stale_seed_classifications() == 1  # runs eagerly here
    job.refresh_from_db()
    assert (job.status, job.total, job.classified) == ("done", 4, 4)
    assert len(fake.requests_to("/v1/chat/completions")) == 3  # the first seed is not asked again
    assert Suggestion.objects.filter(job=job).count() == 4
    resumed = Event.objects.filter(kind="seed_classification.started", object_id=job.pk).last()
    assert resumed is not None and resumed.data == {"attempt": 2, "resumed": True}


def test_the_sweep_leaves_a_live_job_alone(world: World, fake: FakeOpenAI) -> None:
    unclassified(world, 2)
    configure(world, fake)
    job = seed_classification_start(campaign=world.campaign, actor=world.curator)
    _running_since(job, minutes=1)
    assert seed_classifications_stale() == []
    assert seed_classification_run(job_id=job.pk).status == "running"  # a duplicate delivery
    assert not fake.requests_to("/v1/chat/completions")


def test_the_sweep_enqueues_a_job_nobody_took(world: World, fake: FakeOpenAI) -> None:
    from annotation.tasks import resume_stale_seed_classifications

    unclassified(world, 2)
    configure(world, fake)
    job = seed_classification_start(campaign=world.campaign, actor=world.curator)
    assert seed_classifications_stale() == []
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    assert resume_stale_seed_classifications() == 1
    job.refresh_from_db()
    assert (job.status, job.classified) == ("done", 2)


def test_a_job_whose_worker_keeps_dying_is_given_up(world: World, fake: FakeOpenAI) -> None:
    unclassified(world, 2)
    configure(world, fake)
    job = seed_classification_start(campaign=world.campaign, actor=world.curator)
    for _ in range(assist_seeds.MAX_ATTEMPTS):
        _running_since(job, minutes=30)
    job = seed_classification_run(job_id=job.pk)
    assert job.status == "failed" and "Gave up after 3 attempts" in job.error
    assert not fake.requests_to("/v1/chat/completions")


# --- decisions -------------------------------------------------------------------------------


@pytest.fixture
def suggested(world: World, fake: FakeOpenAI) -> list[Suggestion]:
    unclassified(world, 4)
    configure(world, fake)
    classify(world)
    return list(Suggestion.objects.filter(status="suggested").order_by("pk"))


def test_accept_one_by_one_and_in_bulk(world: World, suggested: list[Suggestion]) -> None:
    sub = first_subcategory(world)
    one = seed_suggestions_accept(
        campaign=world.campaign, actor=world.curator, ids=[suggested[0].pk]
    )
    assert (one.accepted, one.dismissed, one.skipped) == (1, 0, 0)
    assert Seed.objects.get(pk=suggested[0].seed_id).subcategory_id == sub.pk
    rest = seed_suggestions_accept(campaign=world.campaign, actor=world.curator, all_suggested=True)
    assert rest.accepted == 3
    assert not Seed.objects.filter(external_id__startswith="u", subcategory__isnull=True)
    rows = Suggestion.objects.filter(pk__in=[s.pk for s in suggested])
    assert {(r.status, r.decided_by_id) for r in rows} == {("accepted", world.curator.pk)}
    assert all(r.decided_at for r in rows)
    events = Event.objects.filter(kind="seed_suggestion.accepted").order_by("id")
    assert [e.object_id for e in events] == [s.pk for s in suggested]
    assert events[0].data["subcategory"] == sub.name
    assert events[0].data["seed_external_id"] == suggested[0].seed.external_id
    assert {(e.from_state, e.to_state, e.actor_id) for e in events} == {
        ("suggested", "accepted", world.curator.pk)
    }
    # Again: nothing is waiting any more.
    with pytest.raises(InvalidTransition, match="already decided"):
        seed_suggestions_accept(campaign=world.campaign, actor=world.curator, ids=[suggested[0].pk])


def test_a_seed_classified_meanwhile_keeps_its_subcategory(
    world: World, suggested: list[Suggestion]
) -> None:
    other = Subcategory.objects.filter(campaign=world.campaign).order_by("-pk").first()
    assert other is not None
    Seed.objects.filter(pk=suggested[1].seed_id).update(subcategory=other)
    outcome = seed_suggestions_accept(
        campaign=world.campaign, actor=world.curator, ids=[s.pk for s in suggested[:2]]
    )
    assert (outcome.accepted, outcome.dismissed) == (1, 1)
    assert outcome.already_classified == [suggested[1].seed.external_id]
    assert Seed.objects.get(pk=suggested[1].seed_id).subcategory_id == other.pk
    late = Suggestion.objects.get(pk=suggested[1].pk)
    assert late.status == "dismissed"
    event = Event.objects.get(kind="seed_suggestion.dismissed", object_id=late.pk)
    assert event.data["reason"] == "the seed already has a subcategory"


def test_dismiss_leaves_the_seeds_alone(world: World, suggested: list[Suggestion]) -> None:
    outcome = seed_suggestions_dismiss(
        campaign=world.campaign, actor=world.curator, ids=[s.pk for s in suggested[:3]]
    )
    assert (outcome.dismissed, outcome.accepted) == (3, 0)
    assert Seed.objects.filter(external_id__startswith="u", subcategory__isnull=True).count() == 4
    assert Event.objects.filter(kind="seed_suggestion.dismissed").count() == 3
    # A dismissed seed is asked about again by the next job.
    assert seeds_awaiting_classification(campaign=world.campaign).count() == 3


def test_ids_of_another_campaign_are_not_found_and_nothing_changes(
    world: World, suggested: list[Suggestion], fake: FakeOpenAI
) -> None:
    other = World(slug="cls2", reviewers=1)
    seeds_import(campaign=other.campaign, lines=[json.dumps({"id": "x", "text": "Other seed"})])
    configure(other, fake)
    jobs.seed_classification_start(campaign=other.campaign, actor=other.curator)
    foreign = Suggestion.objects.get(campaign=other.campaign)
    for decide in (seed_suggestions_accept, seed_suggestions_dismiss):
        with pytest.raises(NotFound, match=str(foreign.pk)):
            decide(campaign=world.campaign, actor=world.curator, ids=[suggested[0].pk, foreign.pk])
    assert set(Suggestion.objects.values_list("status", flat=True)) == {"suggested"}
    assert not Seed.objects.filter(external_id__startswith="u", subcategory__isnull=False)
    assert not Event.objects.filter(kind__startswith="seed_suggestion.")
    # The other campaign's curator cannot decide on this one's either.
    with pytest.raises(NotFound):
        seed_suggestions_accept(campaign=world.campaign, actor=other.curator, all_suggested=True)
    with pytest.raises(NotAllowed):
        seed_suggestions_accept(
            campaign=world.campaign, actor=world.annotators[0], all_suggested=True
        )


def test_choosing_nothing_is_refused(world: World, suggested: list[Suggestion]) -> None:
    with pytest.raises(ValidationFailed):
        seed_suggestions_accept(campaign=world.campaign, actor=world.curator, ids=[])


# --- API -------------------------------------------------------------------------------------


def test_api_start_follow_list_and_decide(world: World, fake: FakeOpenAI) -> None:
    unclassified(world, 3)
    configure(world, fake)
    api = api_for(world.curator)
    slug = world.campaign.slug
    started = api.post(f"/api/v1/campaigns/{slug}/seed-classifications/")
    assert started.status_code == 202, started.json()
    body = started.json()
    assert body["status"] == "done"  # the task ran eagerly on commit
    counts = ("total", "done_count", "classified", "unclassified", "failed")
    assert [body[k] for k in counts] == [3, 3, 3, 0, 0]
    assert body["campaign"] == slug and body["model"] == "fake-good"
    assert body["created_by"] == world.curator.username and body["error"] is None
    assert body["url"].endswith(f"/api/v1/seed-classifications/{body['id']}/")
    detail = api.get(f"/api/v1/seed-classifications/{body['id']}/")
    assert detail.status_code == 200 and detail.json() == body

    listed = api.get(f"/api/v1/campaigns/{slug}/seed-classifications/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]

    sub = first_subcategory(world)
    suggestions = api.get(f"/api/v1/campaigns/{slug}/seed-suggestions/?status=suggested").json()
    assert suggestions["count"] == 3
    row = next(r for r in suggestions["results"] if r["seed"]["external_id"] == "u0")
    assert row["status"] == "suggested"
    assert row["seed"]["title"] == "Title 0"
    assert row["seed"]["snippet"] == "How do I sort list 0?"
    assert row["seed"]["subcategory"] is None
    assert (row["category"], row["subcategory"]) == (sub.category.name, sub.name)
    assert (row["model"], row["prompt_version"], row["job"]) == (
        "fake-good",
        "builtin-v1",
        body["id"],
    )
    by_short = api.get(
        f"/api/v1/campaigns/{slug}/seed-suggestions/",
        {"subcategory": (sub.short_name or sub.name).lower()},
    ).json()
    assert by_short["count"] == 3
    assert (
        api.get(f"/api/v1/campaigns/{slug}/seed-suggestions/?subcategory=nope").json()["count"] == 0
    )
    assert api.get(f"/api/v1/campaigns/{slug}/seed-suggestions/?status=bogus").status_code == 400

    ids = [r["id"] for r in suggestions["results"]]
    accepted = api.post(
        f"/api/v1/campaigns/{slug}/seed-suggestions/accept/", {"ids": ids[:1]}, format="json"
    )
    assert accepted.status_code == 200
    assert accepted.json() == {
        "accepted": 1,
        "dismissed": 0,
        "skipped": 0,
        "already_classified": [],
    }
    dismissed = api.post(
        f"/api/v1/campaigns/{slug}/seed-suggestions/dismiss/", {"ids": ids[1:2]}, format="json"
    )
    assert dismissed.json()["dismissed"] == 1
    accept_url = f"/api/v1/campaigns/{slug}/seed-suggestions/accept/"
    rest = api.post(accept_url, {"all": True}, format="json")
    assert rest.json()["accepted"] == 1
    again = api.post(
        f"/api/v1/campaigns/{slug}/seed-suggestions/accept/", {"ids": ids[:1]}, format="json"
    )
    assert again.status_code == 409
    bad = api.post(f"/api/v1/campaigns/{slug}/seed-suggestions/accept/", {}, format="json")
    assert bad.status_code == 400 and "ids" in bad.json()["errors"]
    both = api.post(
        f"/api/v1/campaigns/{slug}/seed-suggestions/accept/",
        {"ids": ids, "all": True},
        format="json",
    )
    assert both.status_code == 400
    after = api.get(f"/api/v1/campaigns/{slug}/seed-suggestions/?status=accepted").json()
    assert after["count"] == 2
    assert after["results"][0]["seed"]["subcategory"] == sub.name
    assert after["results"][0]["decided_by"] == world.curator.username


def test_api_foreign_ids_are_404(world: World, fake: FakeOpenAI) -> None:
    unclassified(world, 1)
    configure(world, fake)
    classify(world)
    mine = Suggestion.objects.get()
    response = api_for(world.curator).post(
        f"/api/v1/campaigns/{world.campaign.slug}/seed-suggestions/accept/",
        {"ids": [mine.pk, mine.pk + 1000]},
        format="json",
    )
    assert response.status_code == 404
    assert Suggestion.objects.get().status == "suggested"


def test_api_refusals(world: World, fake: FakeOpenAI) -> None:
    unclassified(world, 1)
    configure(world, fake)
    job = classify(world)
    slug = world.campaign.slug
    outsider = World(slug="outside", reviewers=1).curator
    requests = [
        ("post", f"/api/v1/campaigns/{slug}/seed-classifications/", None),
        ("get", f"/api/v1/campaigns/{slug}/seed-classifications/", None),
        ("get", f"/api/v1/seed-classifications/{job.pk}/", None),
        ("get", f"/api/v1/campaigns/{slug}/seed-suggestions/", None),
        ("post", f"/api/v1/campaigns/{slug}/seed-suggestions/accept/", {"all": True}),
        ("post", f"/api/v1/campaigns/{slug}/seed-suggestions/dismiss/", {"all": True}),
    ]
    for user, expected in (
        (world.annotators[0], 403),
        (world.reviewers[0], 403),
        (outsider, 404),
    ):
        api = api_for(user)
        for method, url, data in requests:
            response = getattr(api, method)(url, data, format="json")
            assert response.status_code == expected, (user.username, method, url)
    assert Job.objects.count() == 1
    assert Suggestion.objects.get().status == "suggested"


def test_api_off_is_409_and_unconfigured_is_503(world: World, fake: FakeOpenAI) -> None:
    unclassified(world, 1)
    api = api_for(world.curator)
    url = f"/api/v1/campaigns/{world.campaign.slug}/seed-classifications/"
    assert api.post(url).status_code == 409
    configure(world, fake, model="")
    response = api.post(url)
    assert response.status_code == 503 and response.json()["reason"] == "not_configured"


def test_api_suggestion_list_queries_do_not_grow_with_the_page(
    world: World, fake: FakeOpenAI, django_assert_max_num_queries: Any
) -> None:
    unclassified(world, 12)
    configure(world, fake, concurrency=4)
    classify(world)
    api = api_for(world.curator)
    url = f"/api/v1/campaigns/{world.campaign.slug}/seed-suggestions/"
    with django_assert_max_num_queries(6):
        small = api.get(url, {"page_size": 2})
    with django_assert_max_num_queries(6):
        large = api.get(url, {"page_size": 12})
    assert len(small.json()["results"]) == 2 and len(large.json()["results"]) == 12


# --- pages -----------------------------------------------------------------------------------


def test_seeds_page_hints_at_the_settings_when_assistance_is_off(world: World, client: Any) -> None:
    unclassified(world, 2)
    client.force_login(world.curator)
    page = client.get(reverse("seeds-page", kwargs={"slug": world.campaign.slug}))
    html = page.content.decode()
    assert 'id="classification-off"' in html
    assert reverse("campaign-settings-page", kwargs={"slug": world.campaign.slug}) in html
    assert "Classify with" not in html


def test_seeds_page_offers_classification_and_the_page_decides(
    world: World, fake: FakeOpenAI, client: Any
) -> None:
    unclassified(world, 3)
    configure(world, fake)
    client.force_login(world.curator)
    slug = world.campaign.slug
    seeds_html = client.get(reverse("seeds-page", kwargs={"slug": slug})).content.decode()
    assert "Classify with fake-good" in seeds_html
    assert "3 seeds without a subcategory, 3 not yet classified" in seeds_html

    url = reverse("seeds-classify-page", kwargs={"slug": slug})
    started = client.post(url, {"action": "start"})
    assert started.status_code == 302 and started["Location"] == url
    page = client.get(url)
    html = page.content.decode()
    assert "3 of 3 seeds: 3 suggested" in html
    assert html.count('name="ids"') == 3
    assert "Accept all 3 suggestions" in html
    seed = Seed.objects.get(external_id="u0")
    assert reverse("item-page", kwargs={"slug": slug, "seed_id": seed.pk}) in html

    first, second, third = Suggestion.objects.order_by("pk")
    assert client.post(url, {"accept_one": first.pk}).status_code == 302
    assert client.post(url, {"action": "dismiss", "ids": [second.pk]}).status_code == 302
    assert client.post(url, {"action": "accept", "ids": [third.pk]}).status_code == 302
    statuses = list(Suggestion.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == ["accepted", "dismissed", "accepted"]
    # Nothing ticked: the page says so.
    refused = client.post(url, {"action": "accept"})
    assert refused.status_code == 400 and "Choose the suggestions" in refused.content.decode()


def test_classify_page_lists_what_the_model_left_unclassified(world: World, client: Any) -> None:
    with FakeOpenAI(classify_answers=["nope", "still nope"]) as fake:
        unclassified(world, 1)
        configure(world, fake)
        classify(world)
    client.force_login(world.curator)
    html = client.get(
        reverse("seeds-classify-page", kwargs={"slug": world.campaign.slug})
    ).content.decode()
    assert 'id="left-unclassified"' in html and "still nope" in html


def test_classify_page_is_for_curators(world: World, client: Any) -> None:
    url = reverse("seeds-classify-page", kwargs={"slug": world.campaign.slug})
    client.force_login(world.annotators[0])
    assert client.get(url).status_code == 403
    assert client.post(url, {"action": "start"}).status_code == 403
    client.force_login(World(slug="far", reviewers=1).curator)
    assert client.get(url).status_code == 404


# --- a real worker ---------------------------------------------------------------------------


def test_a_real_worker_classifies_seeds_in_threads(
    postgres: None, redis_broker: str, world: World, fake: FakeOpenAI
) -> None:
    """The task on a Celery worker (a subprocess on Redis and the test database), its pool of
    four threads calling the fake model."""
    from tests.test_celery_worker import Worker, tasks_sent_to

    unclassified(world, 12)
    configure(world, fake, concurrency=4)
    worker = Worker(broker_url=redis_broker)
    try:
        with tasks_sent_to(worker):
            started = api_for(world.curator).post(
                f"/api/v1/campaigns/{world.campaign.slug}/seed-classifications/"
            )
            assert started.status_code == 202 and started.json()["status"] == "queued"
            job = worker.wait_for(
                "the worker to finish the classification",
                lambda: Job.objects.filter(status__in=["done", "failed"]).first(),
            )
            worker.ran("annotation.tasks.classify_seeds")
        assert (job.status, job.classified, job.total) == ("done", 12, 12), job.error
        assert Suggestion.objects.filter(job=job, status="suggested").count() == 12
        assert len(fake.requests_to("/v1/chat/completions")) == 12
    finally:
        worker.stop()
