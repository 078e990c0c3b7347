"""Model assistance at its boundaries (issue 16 review): what a curator may point the server at
(addresses checked when saved and again on every connection, mapped and metadata addresses, no
credentials in the URL, a key only over https), what an endpoint may send back (NUL and lone
surrogates never reach the database), and the limits that keep a slow endpoint from taking the
server (a slot of a dead process frees itself; a process's threads for people's calls)."""

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.cache import cache
from django.test import override_settings

from annotation.models import AssistSettings, DraftSuggestion, ModelCall
from annotation.services import assist_settings_update
from annotation.services.assist import endpoint_for
from core import llm
from core.errors import Throttled, Unavailable, ValidationFailed
from review.models import ReviewHint
from review.services import ballot_cast

from . import test_assist_drafts as drafts
from .conftest import World, api_for, redis_url
from .fake_openai import HINT_ANSWER, FakeOpenAI

DRAFT = [{"role": "system", "content": "TASK: draft\nRewrite."}, {"role": "user", "content": "x"}]
ODD = "A\x00B \ud800 C"


# test_assist_drafts's fixtures: the fake model's server (one for this module), the server with
# nothing recorded and fresh limits, a campaign with seeds; and its way to turn assistance on.
server = drafts.server
fake = drafts.fake
world = drafts.world
assist = drafts.assist


# --- addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # the metadata service of AWS, GCP, Azure
        "::ffff:169.254.169.254",  # the same, written as an IPv4-mapped IPv6 address
        "2002:a9fe:a9fe::1",  # the same through 6to4
        "fd00:ec2::254",  # AWS's metadata service on IPv6
        "100.100.100.200",  # Alibaba Cloud's
        "fe80::1",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "240.0.0.1",  # reserved
    ],
)
def test_addresses_never_called_even_when_private_ones_are_allowed(address: str) -> None:
    assert "never calls" in llm.address_problem(address, allow_private=True)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "::1", "::ffff:127.0.0.1", "10.0.0.5", "192.168.1.2", "100.64.0.1"]
)
def test_loopback_and_private_addresses_only_when_allowed(address: str) -> None:
    assert "CURATION_MODEL_ALLOWED_HOSTS" in llm.address_problem(address, allow_private=False)
    assert llm.address_problem(address, allow_private=True) == ""


def test_public_addresses_are_called() -> None:
    assert llm.address_problem("8.8.8.8", allow_private=False) == ""
    assert llm.address_problem("2606:4700::1111", allow_private=False) == ""


def test_a_private_endpoint_needs_to_be_listed_in_production(
    world: World, fake: FakeOpenAI, settings: Any
) -> None:
    settings.CURATION_MODEL_ALLOW_PRIVATE = False
    settings.CURATION_MODEL_ALLOWED_HOSTS = []
    assist(world, fake)
    with pytest.raises(Unavailable, match="loopback or private") as caught:
        endpoint_for(world.campaign, purpose="draft")
    assert caught.value.details["reason"] == "not_configured"
    with pytest.raises(ValidationFailed) as refused:
        assist_settings_update(
            campaign=world.campaign,
            actor=world.curator,
            changes={"base_url": "http://[::ffff:127.0.0.1]:8000/v1"},
        )
    assert "loopback or private" in refused.value.details["errors"]["base_url"][0]
    # Listed by an operator: a local model server is fine.
    settings.CURATION_MODEL_ALLOWED_HOSTS = ["127.0.0.1"]
    _, found = endpoint_for(world.campaign, purpose="draft")
    assert found.allow_private
    assert llm.chat(found, DRAFT).text


def test_every_connection_checks_the_address_the_name_has_then(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that resolves to a public address when the URL is checked and to a private one
    when the call connects (DNS rebinding) is refused at the connection, before any byte is
    sent."""
    port = int(fake.base_url.rsplit(":", 1)[1].split("/", 1)[0])
    url = f"http://rebind.example.test:{port}/v1"
    real = socket.getaddrinfo
    answers = iter(["93.184.215.14", "127.0.0.1"])

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example.test":
            address = next(answers, "127.0.0.1")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    assert llm.forbidden_address("rebind.example.test", allow_private=False) == ""
    sent = len(fake.requests)
    with pytest.raises(Unavailable) as caught:
        llm.chat(llm.Endpoint(base_url=url, model="fake-good", timeout=5), DRAFT)
    assert caught.value.details["reason"] == "unreachable"
    assert len(fake.requests) == sent
    # The same name, allowed private addresses (an operator listed it), connects.
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: (
            [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
            if host == "rebind.example.test"
            else real(host, *a, **k)
        ),
    )
    done = llm.chat(llm.Endpoint(base_url=url, model="fake-good", allow_private=True), DRAFT)
    assert done.text and len(fake.requests) == sent + 1


def test_the_guard_sits_on_the_client_the_sdk_uses(fake: FakeOpenAI) -> None:
    """core.llm reaches into httpx for its transport's connection pool: if a new httpx moved
    it, this fails instead of the guard silently going away."""
    endpoint = llm.Endpoint(base_url=fake.base_url, model="fake-good")
    with pytest.raises(Unavailable):  # 127.0.0.1 without allow_private: refused at connect
        llm.chat(endpoint, DRAFT)
    client = llm._client(endpoint)
    transport = client._client._transport_for_url(client._client.base_url)
    assert isinstance(transport._pool._network_backend, llm.GuardedBackend)


@pytest.mark.parametrize(
    "url", ["https://user:sk-secret@api.example.com/v1", "https://:sk-secret@api.example.com/v1"]
)
def test_an_endpoint_url_holds_no_credentials(url: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        llm.normalize_base_url(url)
    assert "user name or key" in caught.value.message


def test_a_key_goes_over_https_only_except_to_this_machine(
    world: World, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.CURATION_MODEL_ALLOWED_HOSTS = ["api.example.com", "127.0.0.1"]
    monkeypatch.setenv("CURATION_MODEL_KEY_EXAMPLE", "sk-live")
    with pytest.raises(ValidationFailed) as caught:
        assist_settings_update(
            campaign=world.campaign,
            actor=world.curator,
            changes={
                "base_url": "http://api.example.com/v1",
                "api_key_env": "CURATION_MODEL_KEY_EXAMPLE",
            },
        )
    assert "https" in caught.value.details["errors"]["base_url"][0]
    for url in ("https://api.example.com/v1", "http://127.0.0.1:1234/v1"):
        assist_settings_update(
            campaign=world.campaign,
            actor=world.curator,
            changes={"base_url": url, "api_key_env": "CURATION_MODEL_KEY_EXAMPLE"},
        )
    # A plain-http URL saved before the key (or before this rule) is refused at call time.
    AssistSettings.objects.filter(campaign=world.campaign).update(
        enabled=True, model="m", base_url="http://api.example.com/v1"
    )
    with pytest.raises(Unavailable, match="https"):
        endpoint_for(world.campaign, purpose="draft")


# --- what an endpoint sends back ----------------------------------------------------------------


def test_nul_and_lone_surrogates_in_a_suggestion_are_replaced(
    world: World, fake: FakeOpenAI
) -> None:
    assist(world, fake)
    fake.answers["draft"] = (
        f"<question>\n{ODD}\n</question>\n<difficulty>easy</difficulty>\n<languages>Py\x00thon"
        "</languages>"
    )
    assignment = world.claim()
    client = api_for(assignment.annotator)
    response = client.post(f"/api/v1/assignments/{assignment.pk}/suggestion/")
    assert response.status_code == 201, response.content
    assert response.json()["text"] == "A\ufffdB \ufffd C"
    streamed = client.post(f"/api/v1/assignments/{assignment.pk}/suggestion/?stream=1")
    events = [json.loads(x) for x in b"".join(streamed.streaming_content).decode().splitlines()]
    assert events[-1]["suggestion"]["text"] == "A\ufffdB \ufffd C", events[-1]
    assert "".join(e["delta"] for e in events[:-1]) == "A\ufffdB \ufffd C"
    assert DraftSuggestion.objects.count() == 2
    assert not ModelCall.objects.filter(status=ModelCall.Status.FAILED).exists()


def test_nul_in_a_hint_is_replaced(world: World, fake: FakeOpenAI) -> None:
    assist(world, fake, reviewer_hint=True)
    hint = json.loads(HINT_ANSWER)
    hint["clear"]["note"] = "x\u0000y"
    hint["problems"] = ["\ud800 lone"]
    fake.answers["hint"] = json.dumps(hint)  # JSON escapes: the NUL arrives as \u0000
    world.add_seeds(1)
    rewrite = world.submitted()
    ballot = rewrite.ballots.select_related("reviewer").order_by("id").first()
    ballot_cast(ballot_id=ballot.pk, actor=ballot.reviewer, decision="valid", reasons=[])
    response = api_for(ballot.reviewer).post(f"/api/v1/ballots/{ballot.pk}/hint/")
    assert response.status_code == 200, response.content
    assert response.json()["clear"]["note"] == "x\ufffdy"
    assert response.json()["problems"] == ["\ufffd lone"]
    assert ReviewHint.objects.count() == 1


def test_an_endpoint_error_message_with_nul_is_recorded(world: World, fake: FakeOpenAI) -> None:
    assert llm._short("bad\x00 thing\ud800") == "bad\ufffd thing\ufffd"


# --- limits -------------------------------------------------------------------------------------


@pytest.fixture
def redis_cache() -> Iterator[str]:
    """Django's cache on the real Redis (as production runs it), in a database of its own."""
    url = redis_url().rsplit("/", 1)[0] + "/13"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means no usable Redis
        from .conftest import require

        require(False, f"needs Redis at {url}: {exc}")
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    }
    with override_settings(CACHES=caches):
        from django.core.cache import caches as handler

        handler["default"].clear()
        yield url
        handler["default"].clear()


@pytest.mark.redis
def test_a_slot_left_by_a_dead_process_frees_itself_on_redis(redis_cache: str) -> None:
    """A process that died mid-call never gives its slot back; the slot's own expiry does, and
    calls refused meanwhile do not keep it alive."""
    from django.core.cache import caches

    shared = caches["default"]
    # What a dead process leaves behind: its slot, with the lifetime it was given.
    assert shared.add("llm:campaign:dead:slot:0", 1, timeout=2)
    for _ in range(3):
        refused = llm.limited("campaign:dead", per_minute=100, at_once=1, hold_seconds=0)
        with pytest.raises(Throttled) as caught, refused:
            pass
        assert caught.value.details["reason"] == "limit"
    ttl = redis.Redis.from_url(redis_cache).pttl(shared.make_key("llm:campaign:dead:slot:0"))
    assert 0 < ttl <= 2000
    time.sleep(ttl / 1000 + 0.1)
    with llm.limited("campaign:dead", per_minute=100, at_once=1, hold_seconds=0):
        pass


@pytest.mark.redis
def test_the_limits_live_in_the_shared_cache(redis_cache: str) -> None:
    """Two processes of a deployment see one count: the minute's calls and the running slots
    are Redis keys, which another connection (another process) reads."""
    with llm.limited("campaign:shared", per_minute=5, at_once=2, hold_seconds=10):
        other = redis.Redis.from_url(redis_cache)
        keys = {k.decode() for k in other.keys("*llm:campaign:shared:*")}
        assert any(k.endswith(":slot:0") for k in keys)
        assert any(":minute:" in k for k in keys)
    assert not other.keys("*llm:campaign:shared:slot:*")


def test_people_s_calls_hold_at_most_some_threads_of_a_process(settings: Any) -> None:
    settings.CURATION_MODEL_CALLS_PER_PROCESS = 1
    cache.clear()
    with llm.limited("campaign:a", per_minute=100, at_once=5, hold_seconds=10):
        refused = llm.limited("campaign:b", per_minute=100, at_once=5, hold_seconds=10)
        with pytest.raises(Throttled) as caught, refused:
            pass
        assert caught.value.details["reason"] == "busy"
        # A job's calls (classification, in a worker) are not people waiting in a web request.
        with llm.limited(
            "campaign:b", per_minute=100, at_once=5, hold_seconds=10, interactive=False
        ):
            pass
    with llm.limited("campaign:b", per_minute=100, at_once=5, hold_seconds=10):
        pass


@pytest.mark.redis
def test_a_long_call_renews_its_slot(redis_cache: str) -> None:
    """A stream that keeps arriving may run longer than its slot's hold; renewing keeps the
    slot (and the campaign's count of calls at once) while it runs."""
    from django.core.cache import caches

    shared = caches["default"]
    other = redis.Redis.from_url(redis_cache)
    name = shared.make_key("llm:campaign:long:slot:0")
    with llm.limited("campaign:long", per_minute=100, at_once=1, hold_seconds=0) as renew:
        other.pexpire(name, 500)  # about to lapse
        renew()
        assert other.pttl(name) > 25_000
    assert not other.exists(name)
