"""The reviewer hint (issue 16): the model's view of a rewrite, asked once per revision and
shared by its panel, shown only after the reviewer's vote unless the campaign says otherwise,
never blocking a vote; its API, the ballot's hint flags and the vote page's panel. The model is
tests/fake_openai.py's server."""

import json
import threading
import time
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from annotation.models import ModelCall
from annotation.services import assist_prompt_save, assist_settings_update
from core.errors import InvalidTransition, NotFound
from review.models import ReviewHint
from review.services import ballot_cast, review_hint_get_or_ask

from .conftest import World, api_for
from .fake_openai import MALFORMED_ANSWER, FakeOpenAI
from .test_schema import check, schema  # noqa: F401 - the schema fixture

API = "/api/v1"
COMPLETIONS = "/v1/chat/completions"


@pytest.fixture(autouse=True)
def _keys_allowed_to_local_hosts(settings: Any) -> None:
    # A key is sent only to hosts an operator allowed; the fake endpoint is on 127.0.0.1.
    settings.CURATION_MODEL_ALLOWED_HOSTS = ["127.0.0.1", "localhost", "api.openai.com"]


@pytest.fixture(autouse=True)
def _fresh_limits() -> Any:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fake() -> Any:
    with FakeOpenAI() as server:
        yield server


def assisted(world: World, fake: FakeOpenAI, **changes: Any) -> None:
    assist_settings_update(
        campaign=world.campaign,
        actor=world.curator,
        changes={
            "enabled": True,
            "base_url": fake.base_url,
            "model": "fake-good",
            "reviewer_hint": True,
            **changes,
        },
    )


def panel(world: World) -> tuple[Any, list[Any]]:
    world.add_seeds(2)
    rewrite = world.submitted(text="Write `chunks(xs, n)` in Python. <b>bold</b>")
    return rewrite, list(rewrite.ballots.select_related("reviewer").order_by("id"))


def vote(ballot: Any, decision: str = "valid") -> None:
    ballot_cast(
        ballot_id=ballot.pk,
        actor=ballot.reviewer,
        decision=decision,
        reasons=[] if decision == "valid" else ["unclear"],
    )


def hint_url(ballot: Any) -> str:
    return f"{API}/ballots/{ballot.pk}/hint/"


def test_refused_before_the_vote_then_asked_after_it(world, fake, schema):  # noqa: F811
    assisted(world, fake)
    rewrite, ballots = panel(world)
    first = ballots[0]
    client = api_for(first.reviewer)

    res = client.post(hint_url(first))
    assert res.status_code == 409
    assert res.json()["detail"] == (
        "The model's view is shown after you vote, so it cannot anchor your vote."
    )
    assert client.get(hint_url(first)).status_code == 409
    assert fake.requests_to(COMPLETIONS) == []

    vote(first)
    res = client.get(hint_url(first))
    assert res.status_code == 404
    assert res.json()["reason"] == "not_asked"

    res = client.post(hint_url(first))
    assert res.status_code == 200, res.content
    check(schema, "post", "/api/v1/ballots/{id}/hint/", res)
    body = res.json()
    assert body["status"] == "ready"
    assert body["clear"] == {"ok": True, "note": "The question states inputs and outputs."}
    assert body["solvable"]["ok"] is False
    assert body["problems"] == ["Missing output format"]
    assert body["model"] == "fake-good"
    assert body["prompt_version"] == "builtin-v1"
    assert body["label"] == "A model's opinion, not a vote"
    # The prompt carried the rewrite, its tags and its seed.
    sent = fake.requests_to(COMPLETIONS)[0]["json"]["messages"]
    assert sent[0]["content"].startswith("TASK: hint")
    assert "chunks(xs, n)" in sent[1]["content"]
    assert "Python" in sent[1]["content"]
    assert rewrite.seed.body in sent[1]["content"]
    call = ModelCall.objects.get()
    assert (call.purpose, call.status, call.actor) == ("hint", "ok", first.reviewer)

    res = client.get(hint_url(first))
    assert res.status_code == 200
    check(schema, "get", "/api/v1/ballots/{id}/hint/", res)
    assert res.json() == body


def test_the_panel_shares_one_hint_one_model_call(world, fake):
    assisted(world, fake)
    rewrite, ballots = panel(world)
    for ballot in ballots[:3]:
        vote(ballot)
    hints = [review_hint_get_or_ask(ballot_id=b.pk, actor=b.reviewer) for b in ballots[:3]]
    assert len({h.pk for h in hints}) == 1
    assert len(fake.requests_to(COMPLETIONS)) == 1
    assert ModelCall.objects.count() == 1
    assert hints[0].requested_by == ballots[0].reviewer
    # A later prompt version does not ask again for a revision that has its hint.
    assist_prompt_save(campaign=world.campaign, actor=world.curator, purpose="hint", text="New.")
    vote(ballots[3])
    again = review_hint_get_or_ask(ballot_id=ballots[3].pk, actor=ballots[3].reviewer)
    assert again.pk == hints[0].pk and again.prompt_version == "builtin-v1"
    assert len(fake.requests_to(COMPLETIONS)) == 1


def test_the_campaign_may_show_it_before_the_vote(world, fake):
    assisted(world, fake, hint_before_vote=True)
    _rewrite, ballots = panel(world)
    res = api_for(ballots[0].reviewer).post(hint_url(ballots[0]))
    assert res.status_code == 200
    # Asking does not vote: the ballot stays pending and the vote still counts.
    ballots[0].refresh_from_db()
    assert ballots[0].status == "pending"
    vote(ballots[0], "invalid")
    ballots[0].refresh_from_db()
    assert ballots[0].decision == "invalid"


def test_a_campaign_prompt_is_used_and_recorded(world, fake):
    assisted(world, fake)
    assist_prompt_save(
        campaign=world.campaign, actor=world.curator, purpose="hint", text="Be terse, reviewer."
    )
    _rewrite, ballots = panel(world)
    vote(ballots[0])
    hint = review_hint_get_or_ask(ballot_id=ballots[0].pk, actor=ballots[0].reviewer)
    assert hint.prompt_version == "campaign-v1"
    assert (
        "Be terse, reviewer." in fake.requests_to(COMPLETIONS)[0]["json"]["messages"][0]["content"]
    )


@pytest.mark.parametrize(
    "changes",
    [{"enabled": False}, {"reviewer_hint": False}],
    ids=["assistance off", "hints off"],
)
def test_off_is_a_409(world, fake, changes):
    assisted(world, fake)
    _rewrite, ballots = panel(world)
    vote(ballots[0])
    assist_settings_update(campaign=world.campaign, actor=world.curator, changes=changes)
    res = api_for(ballots[0].reviewer).post(hint_url(ballots[0]))
    assert res.status_code == 409
    with pytest.raises(InvalidTransition):
        review_hint_get_or_ask(ballot_id=ballots[0].pk, actor=ballots[0].reviewer)
    assert fake.requests_to(COMPLETIONS) == []


def test_a_malformed_answer_is_a_503_stored_as_failed_and_replaced_on_retry(world, fake):
    assisted(world, fake, model="fake-malformed")
    _rewrite, ballots = panel(world)
    vote(ballots[0])
    client = api_for(ballots[0].reviewer)
    res = client.post(hint_url(ballots[0]))
    assert res.status_code == 503
    assert res.json()["reason"] == "malformed"
    assert MALFORMED_ANSWER not in res.json()["detail"]
    stored = ReviewHint.objects.get()
    assert stored.status == "failed" and stored.error
    call = ModelCall.objects.get()
    assert (call.status, call.error_code) == ("failed", "malformed")
    # Not readable as a hint; the flags say it is not ready.
    assert client.get(hint_url(ballots[0])).status_code == 404
    assert client.get(f"{API}/ballots/{ballots[0].pk}/").json()["hint"]["ready"] is False

    assist_settings_update(
        campaign=world.campaign, actor=world.curator, changes={"model": "fake-good"}
    )
    res = client.post(hint_url(ballots[0]))
    assert res.status_code == 200
    stored = ReviewHint.objects.get()
    assert (stored.status, stored.error, stored.model) == ("ready", "", "fake-good")


@pytest.mark.parametrize(
    ("model", "status", "reason"),
    [
        ("fake-fail", 503, "endpoint_error"),
        ("fake-ratelimit", 429, "rate_limited"),
        ("fake-badjson", 503, "malformed"),
    ],
)
def test_endpoint_failures_store_nothing(world, fake, model, status, reason):
    assisted(world, fake, model=model)
    _rewrite, ballots = panel(world)
    vote(ballots[0])
    res = api_for(ballots[0].reviewer).post(hint_url(ballots[0]))
    assert res.status_code == status, res.content
    assert res.json()["reason"] == reason
    assert not ReviewHint.objects.exists()
    assert ModelCall.objects.get().status == "failed"


def test_the_campaign_limit_is_a_429_with_retry_after(world, fake):
    assisted(world, fake, rate_limit_per_minute=1)
    world.add_seeds(3)
    one = world.submitted(world.annotators[0])
    two = world.submitted(world.annotators[1])
    if time.time() % 60 > 50:  # both asks inside one minute of the limiter
        time.sleep(61 - time.time() % 60)
    asks = []
    for rewrite in (one, two):
        ballot = rewrite.ballots.select_related("reviewer").order_by("id").first()
        vote(ballot)
        asks.append(api_for(ballot.reviewer).post(hint_url(ballot)))
    assert asks[0].status_code == 200
    assert asks[1].status_code == 429
    assert int(asks[1]["Retry-After"]) >= 1


def test_an_unset_key_variable_is_a_503_not_configured(world, fake, monkeypatch):
    monkeypatch.delenv("CURATION_MODEL_KEY_HINTS", raising=False)
    assisted(world, fake, model="fake-auth", api_key_env="CURATION_MODEL_KEY_HINTS")
    _rewrite, ballots = panel(world)
    vote(ballots[0])
    res = api_for(ballots[0].reviewer).post(hint_url(ballots[0]))
    assert res.status_code == 503 and res.json()["reason"] == "not_configured"
    monkeypatch.setenv("CURATION_MODEL_KEY_HINTS", "sk-test-key")
    res = api_for(ballots[0].reviewer).post(hint_url(ballots[0]))
    assert res.status_code == 200
    assert fake.requests_to(COMPLETIONS)[-1]["headers"]["authorization"] == "Bearer sk-test-key"


def test_only_my_own_ballot(world, make_world, fake):
    assisted(world, fake, hint_before_vote=True)
    _rewrite, ballots = panel(world)
    mine, theirs = ballots[0], ballots[1]
    client = api_for(mine.reviewer)
    assert client.post(hint_url(theirs)).status_code == 404
    assert client.get(hint_url(theirs)).status_code == 404
    assert client.post(f"{API}/ballots/999999/hint/").status_code == 404
    other = make_world(slug="other")
    assert api_for(other.reviewers[0]).post(hint_url(mine)).status_code == 404
    assert api_for(world.annotators[0]).post(hint_url(mine)).status_code == 403
    with pytest.raises(NotFound):
        review_hint_get_or_ask(ballot_id=theirs.pk, actor=mine.reviewer)
    assert fake.requests_to(COMPLETIONS) == []


def test_ballot_detail_flags_never_the_content(world, fake, schema):  # noqa: F811
    _rewrite, ballots = panel(world)
    first, second = ballots[0], ballots[1]
    client = api_for(first.reviewer)

    def flags(ballot: Any, who: Any = None) -> dict[str, bool]:
        res = api_for(who or ballot.reviewer).get(f"{API}/ballots/{ballot.pk}/")
        assert res.status_code == 200
        check(schema, "get", "/api/v1/ballots/{id}/", res)
        assert "Missing output format" not in res.content.decode()
        return res.json()["hint"]

    assert flags(first) == {"available": False, "visible": False, "ready": False}
    assisted(world, fake)
    assert flags(first) == {"available": True, "visible": False, "ready": False}
    vote(first)
    assert flags(first) == {"available": True, "visible": True, "ready": False}
    assert client.post(hint_url(first)).status_code == 200
    assert flags(first) == {"available": True, "visible": True, "ready": True}
    # The second reviewer has not voted: it exists, but is not theirs to see yet, and not even
    # its existence is told (it would say that another reviewer has voted).
    assert flags(second) == {"available": True, "visible": False, "ready": False}
    # The list of ballots carries the same flags, without a query per ballot.
    res = api_for(second.reviewer).get(f"{API}/campaigns/{world.campaign.slug}/ballots/")
    assert [b["hint"] for b in res.json()["results"]] == [
        {"available": True, "visible": False, "ready": False}
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_asks_store_one_hint(make_world, fake, postgres):
    """Two reviewers ask at the same moment: both may call the model, one hint is stored and
    both get it (no IntegrityError)."""
    world = make_world()
    assisted(world, fake, model="fake-slow")
    fake.slow_seconds = 1.0
    _rewrite, ballots = panel(world)
    for ballot in ballots[:2]:
        vote(ballot)
    results: dict[int, Any] = {}
    barrier = threading.Barrier(2)

    def ask(ballot: Any) -> None:
        try:
            barrier.wait()
            results[ballot.pk] = review_hint_get_or_ask(ballot_id=ballot.pk, actor=ballot.reviewer)
        except Exception as exc:  # noqa: BLE001 - reported below
            results[ballot.pk] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(b,)) for b in ballots[:2]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(isinstance(r, ReviewHint) for r in results.values()), results
    assert len({r.pk for r in results.values()}) == 1
    assert ReviewHint.objects.count() == 1
    # Both asked before either answer was stored: the second store met the first's row.
    assert len(fake.requests_to(COMPLETIONS)) == 2


# --- the vote page --------------------------------------------------------------------------


def page(ballot: Any) -> str:
    client = Client()
    client.force_login(ballot.reviewer)
    res = client.get(f"/ballots/{ballot.pk}/")
    assert res.status_code == 200
    return res.content.decode()


def test_vote_page_panel_before_and_after_the_vote(world, fake):
    _rewrite, ballots = panel(world)
    first = ballots[0]
    assert 'id="model-hint"' not in page(first)  # hints off: no panel at all
    assisted(world, fake)
    html = page(first)
    assert "an opinion, not a vote" in html
    assert 'id="model-hint-after-vote"' in html
    assert 'id="ask-model"' not in html and "js/hint.js" not in html
    vote(first)
    html = page(first)
    assert 'id="ask-model"' in html and "js/hint.js" in html
    assert 'id="model-hint-after-vote"' not in html
    review_hint_get_or_ask(ballot_id=first.pk, actor=first.reviewer)
    html = page(first)
    assert 'id="ask-model"' not in html  # shown, nothing to ask
    assert "The expected output format is not given." in html
    assert "Missing output format" in html and "fake-good" in html and "builtin-v1" in html
    # Another reviewer who has not voted sees the notice only, never the content.
    html = page(ballots[1])
    assert 'id="model-hint-after-vote"' in html
    assert "Missing output format" not in html


def test_vote_page_escapes_the_model_text(world):
    with FakeOpenAI(
        answers={
            "hint": json.dumps(
                {
                    "clear": {"ok": False, "note": "<img src=x onerror=alert(1)>"},
                    "ethical": {"ok": True, "note": "fine"},
                    "solvable": {"ok": True, "note": "fine"},
                    "problems": ["<script>alert(2)</script>"],
                }
            )
        }
    ) as server:
        assisted(world, server)
        _rewrite, ballots = panel(world)
        vote(ballots[0])
        review_hint_get_or_ask(ballot_id=ballots[0].pk, actor=ballots[0].reviewer)
    html = page(ballots[0])
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert(2)" not in html and "&lt;script&gt;alert(2)&lt;/script&gt;" in html


def test_ballot_list_hint_flags_take_no_query_per_ballot(world, fake):
    assisted(world, fake, hint_before_vote=True)
    world.add_seeds(4)
    reviewer = world.reviewers[0]
    client = api_for(reviewer)
    list_url = f"{API}/campaigns/{world.campaign.slug}/ballots/"

    def queries() -> tuple[int, list[Any]]:
        with CaptureQueriesContext(connection) as ctx:
            res = client.get(list_url)
        assert res.status_code == 200
        return len(ctx.captured_queries), [b["hint"] for b in res.json()["results"]]

    rewrite = world.submitted(world.annotators[0])
    ballot = rewrite.ballots.get(reviewer=reviewer)
    review_hint_get_or_ask(ballot_id=ballot.pk, actor=reviewer)
    one, flags = queries()
    assert flags == [{"available": True, "visible": True, "ready": True}]
    for annotator in world.annotators[1:]:
        world.submitted(annotator)
    many, flags = queries()
    assert (
        len(flags) == 4 and flags.count({"available": True, "visible": True, "ready": False}) == 3
    )
    assert many == one
