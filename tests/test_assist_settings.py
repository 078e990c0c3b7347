"""Model assistance, the curator's part (issue 16): the campaign's endpoint settings (every
field validated, the key only ever named by its variable), versioned prompts with a reset to
the built-in text, the usage counted by the database, the connection test, the permission
matrix, and the settings page's section."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from annotation import prompts
from annotation.models import AssistPrompt, AssistSettings, Event, ModelCall
from annotation.services import assist_prompt_save, assist_settings_update
from annotation.services.assist_settings import ASSIST_FIELDS
from core.errors import NotAllowed, NotFound, ValidationFailed
from core.transitions import EventKind

from .conftest import World, api_for
from .fake_openai import FakeOpenAI
from .test_schema import check, schema  # noqa: F401 - the schema fixture

API = "/api/v1"
SECRET = "sk-very-secret-value-0123456789"
KEY_VAR = "CURATION_MODEL_KEY_TESTS"


@pytest.fixture(autouse=True)
def _keys_allowed_to_local_hosts(settings: Any) -> None:
    # A key is sent only to hosts an operator allowed; the fake endpoint is on 127.0.0.1.
    settings.CURATION_MODEL_ALLOWED_HOSTS = ["127.0.0.1", "localhost", "api.openai.com"]


@pytest.fixture(autouse=True)
def _fresh_limits() -> Any:
    cache.clear()  # the per-campaign call counters live in the cache
    yield
    cache.clear()


@pytest.fixture
def fake() -> Any:
    with FakeOpenAI() as server:
        yield server


def url(world: World, tail: str = "") -> str:
    return f"{API}/campaigns/{world.campaign.slug}/assist/{tail}"


def errors_of(exc: ValidationFailed) -> dict[str, list[str]]:
    return exc.details["errors"]


# --- settings: the service --------------------------------------------------------------------


def test_update_saves_only_the_given_fields_normalized_with_an_event(world):
    config = assist_settings_update(
        campaign=world.campaign,
        actor=world.curator,
        changes={
            "enabled": True,
            "base_url": "  http://localhost:11434/v1/chat/completions/ ",
            "model": " llama3.1 ",
            "timeout_seconds": 30,
        },
    )
    assert config.base_url == "http://localhost:11434/v1"
    assert config.model == "llama3.1"
    assert config.timeout_seconds == 30.0
    assert config.updated_by == world.curator
    # Untouched fields keep their defaults.
    assert (config.concurrency, config.rate_limit_per_minute, config.stream) == (4, 60, True)
    event = Event.objects.get(kind=EventKind.ASSIST_SETTINGS_CHANGED)
    assert event.data == {"changed": ["enabled", "base_url", "model", "timeout_seconds"]}
    assert (event.from_state, event.to_state) == ("off", "on")
    assert (event.object_type, event.object_id) == ("assistsettings", config.pk)

    # A partial change touches one field; the same values again change nothing.
    assist_settings_update(campaign=world.campaign, actor=world.curator, changes={"concurrency": 2})
    assist_settings_update(
        campaign=world.campaign,
        actor=world.curator,
        changes={"concurrency": 2, "model": "llama3.1"},
    )
    events = Event.objects.filter(kind=EventKind.ASSIST_SETTINGS_CHANGED).order_by("id")
    assert [e.data["changed"] for e in events] == [
        ["enabled", "base_url", "model", "timeout_seconds"],
        ["concurrency"],
    ]
    config.refresh_from_db()
    assert (config.concurrency, config.model, config.enabled) == (2, "llama3.1", True)


BAD_VALUES = {
    "enabled": "yes",
    "base_url": "ftp://example.com/v1",
    "model": "a" * 201,
    "api_key_env": "DATABASE_URL",
    "timeout_seconds": 0,
    "concurrency": 65,
    "rate_limit_per_minute": 0,
    "max_output_tokens": 32_001,
    "stream": 1,
    "suggest_drafts": None,
    "reviewer_hint": "true",
    "hint_before_vote": [],
}


def test_every_bad_field_is_named_at_once_and_nothing_is_written(world):
    with pytest.raises(ValidationFailed) as caught:
        assist_settings_update(
            campaign=world.campaign, actor=world.curator, changes={**BAD_VALUES, "colour": "red"}
        )
    assert set(errors_of(caught.value)) == {*ASSIST_FIELDS, "colour"}
    assert not Event.objects.filter(kind=EventKind.ASSIST_SETTINGS_CHANGED).exists()


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("timeout_seconds", 600, True),
        ("timeout_seconds", 600.5, False),
        ("timeout_seconds", 0.5, True),
        ("timeout_seconds", -1, False),
        ("timeout_seconds", float("nan"), False),
        ("timeout_seconds", True, False),
        ("concurrency", 1, True),
        ("concurrency", 64, True),
        ("concurrency", 0, False),
        ("concurrency", 2.5, False),
        ("rate_limit_per_minute", 1, True),
        ("rate_limit_per_minute", 0, False),
        ("max_output_tokens", 1, True),
        ("max_output_tokens", 32_000, True),
        ("max_output_tokens", 0, False),
        ("model", "gpt-4o-mini", True),
        ("model", "bad\nname", False),
        ("base_url", "https://api.openai.com/v1", True),
        ("base_url", "api.openai.com/v1", False),
        ("base_url", "http://host/v1?x=1", False),
        ("base_url", "", True),
    ],
)
def test_field_ranges(world, field, value, ok):
    changes = {field: value}
    if ok:
        config = assist_settings_update(
            campaign=world.campaign, actor=world.curator, changes=changes
        )
        assert getattr(config, field) == value
    else:
        with pytest.raises(ValidationFailed) as caught:
            assist_settings_update(campaign=world.campaign, actor=world.curator, changes=changes)
        assert list(errors_of(caught.value)) == [field]


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("", True),
        ("CURATION_MODEL_KEY", True),
        ("CURATION_MODEL_KEY_OPENAI", True),
        ("CURATION_MODEL_KEYX", False),
        ("CURATION_MODEL", False),
        ("curation_model_key_openai", False),
        ("DJANGO_SECRET_KEY", False),
        ("DATABASE_URL", False),
        ("CURATION_MODEL_KEY-1", False),
    ],
)
def test_the_key_variable_must_carry_the_prefix(world, name, ok):
    changes = {"api_key_env": name}
    if ok:
        config = assist_settings_update(
            campaign=world.campaign, actor=world.curator, changes=changes
        )
        assert config.api_key_env == name
    else:
        with pytest.raises(ValidationFailed) as caught:
            assist_settings_update(campaign=world.campaign, actor=world.curator, changes=changes)
        assert "api_key_env" in errors_of(caught.value)


@override_settings(CURATION_MODEL_ALLOWED_HOSTS=["api.openai.com", "127.0.0.1"])
def test_only_allowed_hosts_when_the_server_lists_them(world):
    with pytest.raises(ValidationFailed) as caught:
        assist_settings_update(
            campaign=world.campaign,
            actor=world.curator,
            changes={"base_url": "http://169.254.169.254/latest"},
        )
    assert "169.254.169.254 is not among the hosts" in errors_of(caught.value)["base_url"][0]
    for allowed in ("https://api.openai.com/v1", "http://127.0.0.1:8000/v1"):
        config = assist_settings_update(
            campaign=world.campaign, actor=world.curator, changes={"base_url": allowed}
        )
        assert config.base_url == allowed


def test_turning_on_needs_an_endpoint_and_a_model(world):
    with pytest.raises(ValidationFailed) as caught:
        assist_settings_update(
            campaign=world.campaign, actor=world.curator, changes={"enabled": True}
        )
    assert set(errors_of(caught.value)) == {"base_url", "model"}
    with pytest.raises(ValidationFailed) as caught:
        assist_settings_update(
            campaign=world.campaign,
            actor=world.curator,
            changes={"enabled": True, "base_url": "http://localhost:1234/v1"},
        )
    assert set(errors_of(caught.value)) == {"model"}
    assist_settings_update(
        campaign=world.campaign,
        actor=world.curator,
        changes={"enabled": True, "base_url": "http://localhost:1234/v1", "model": "qwen"},
    )
    # Clearing the model of an enabled configuration is refused as well.
    with pytest.raises(ValidationFailed) as caught:
        assist_settings_update(campaign=world.campaign, actor=world.curator, changes={"model": ""})
    assert set(errors_of(caught.value)) == {"model"}
    # Turning it off and clearing together is fine.
    config = assist_settings_update(
        campaign=world.campaign, actor=world.curator, changes={"enabled": False, "model": ""}
    )
    assert (config.enabled, config.model) == (False, "")


def test_only_curators_change_settings_and_prompts(world, make_world):
    other = make_world(slug="other")
    for actor, error in [
        (world.annotators[0], NotAllowed),
        (world.reviewers[0], NotAllowed),
        (other.curator, NotFound),
    ]:
        with pytest.raises(error):
            assist_settings_update(campaign=world.campaign, actor=actor, changes={"concurrency": 2})
        with pytest.raises(error):
            assist_prompt_save(campaign=world.campaign, actor=actor, purpose="draft", text="x")
    assert not AssistSettings.objects.exists()
    assert not AssistPrompt.objects.exists()


# --- settings: the API ------------------------------------------------------------------------


def test_get_and_put_show_the_variable_name_never_the_key(world, schema, monkeypatch):  # noqa: F811
    client = api_for(world.curator)
    res = client.get(url(world))
    assert res.status_code == 200
    check(schema, "get", "/api/v1/campaigns/{slug}/assist/", res)
    assert res.json()["enabled"] is False
    assert res.json()["api_key_set"] is False
    assert res.json()["updated_by"] is None

    monkeypatch.delenv(KEY_VAR, raising=False)
    res = client.put(
        url(world),
        {
            "enabled": True,
            "base_url": "https://api.openai.com/v1/",
            "model": "gpt-4o-mini",
            "api_key_env": KEY_VAR,
        },
        format="json",
    )
    assert res.status_code == 200, res.content
    check(schema, "put", "/api/v1/campaigns/{slug}/assist/", res)
    body = res.json()
    assert body["base_url"] == "https://api.openai.com/v1"
    assert body["api_key_env"] == KEY_VAR
    assert body["api_key_set"] is False
    assert body["api_key_prefix"] == "CURATION_MODEL_KEY"
    assert body["updated_by"] == world.curator.username

    monkeypatch.setenv(KEY_VAR, SECRET)
    res = client.get(url(world))
    assert res.json()["api_key_set"] is True
    # Nowhere: not in the settings, the prompts, the usage, the page or an event.
    texts = [
        res.content.decode(),
        client.put(url(world), {"concurrency": 3}, format="json").content.decode(),
        client.get(url(world, "prompts/")).content.decode(),
        client.get(url(world, "usage/")).content.decode(),
        login(world.curator).get(f"/campaigns/{world.campaign.slug}/settings/").content.decode(),
        json.dumps(list(Event.objects.values("data", "from_state", "to_state"))),
    ]
    for text in texts:
        assert SECRET not in text
    monkeypatch.setenv(KEY_VAR, "")
    assert client.get(url(world)).json()["api_key_set"] is False


def test_a_variable_outside_the_prefix_never_reports_set(world, monkeypatch):
    """Even a name stored before the prefix changed is not looked up."""
    AssistSettings.objects.create(campaign=world.campaign, api_key_env="HOME")
    monkeypatch.setenv("HOME", "/root")
    assert api_for(world.curator).get(url(world)).json()["api_key_set"] is False


def test_put_is_partial(world):
    client = api_for(world.curator)
    client.put(url(world), {"model": "m1", "concurrency": 9}, format="json")
    res = client.put(url(world), {"max_output_tokens": 100}, format="json")
    body = res.json()
    assert (body["model"], body["concurrency"], body["max_output_tokens"]) == ("m1", 9, 100)


def test_put_names_every_bad_field(world):
    res = api_for(world.curator).put(
        url(world),
        {"enabled": True, "timeout_seconds": 0, "concurrency": 99, "api_key_env": "PATH"},
        format="json",
    )
    assert res.status_code == 400
    assert set(res.json()["errors"]) == {
        "timeout_seconds",
        "concurrency",
        "api_key_env",
        "base_url",
        "model",
    }
    # Wrong JSON types are named too (as every API of the project does).
    res = api_for(world.curator).put(
        url(world), {"enabled": "yes", "concurrency": "2"}, format="json"
    )
    assert res.status_code == 400
    assert set(res.json()["errors"]) == {"enabled", "concurrency"}
    assert not AssistSettings.objects.filter(concurrency=99).exists()


def test_enabling_without_an_url_is_a_400(world):
    res = api_for(world.curator).put(url(world), {"enabled": True, "model": "m"}, format="json")
    assert res.status_code == 400
    assert list(res.json()["errors"]) == ["base_url"]
    assert api_for(world.curator).get(url(world)).json()["enabled"] is False


# --- prompts ----------------------------------------------------------------------------------


def test_prompt_versions_no_op_and_reset(world, schema):  # noqa: F811
    client = api_for(world.curator)
    res = client.get(url(world, "prompts/"))
    assert res.status_code == 200
    check(schema, "get", "/api/v1/campaigns/{slug}/assist/prompts/", res)
    by = {p["purpose"]: p for p in res.json()["prompts"]}
    assert set(by) == {"classify", "draft", "hint"}
    assert by["draft"]["in_use"]["version"] == "builtin-v1"
    assert by["draft"]["in_use"]["text"] == prompts.INSTRUCTIONS["draft"]
    assert by["draft"]["in_use"]["is_builtin_text"] is True
    assert by["draft"]["versions"] == []

    # Resetting while the built-in is in use saves nothing.
    res = client.post(
        url(world, "prompts/"), {"purpose": "draft", "text": prompts.INSTRUCTIONS["draft"]}
    )
    assert res.status_code == 200
    assert not AssistPrompt.objects.exists()

    res = client.post(url(world, "prompts/"), {"purpose": "draft", "text": "Rewrite it.\r\nWell."})
    assert res.status_code == 201
    check(schema, "post", "/api/v1/campaigns/{slug}/assist/prompts/", res)
    draft = {p["purpose"]: p for p in res.json()["prompts"]}["draft"]
    assert draft["in_use"] == {
        **draft["in_use"],
        "version": "campaign-v1",
        "number": 1,
        "text": "Rewrite it.\nWell.",
        "author": world.curator.username,
        "is_builtin_text": False,
    }
    # The same text again: no new version.
    res = client.post(url(world, "prompts/"), {"purpose": "draft", "text": "Rewrite it.\nWell."})
    assert res.status_code == 200
    assert AssistPrompt.objects.count() == 1

    assist_prompt_save(campaign=world.campaign, actor=world.curator, purpose="draft", text="v2")
    reset = assist_prompt_save(
        campaign=world.campaign,
        actor=world.curator,
        purpose="draft",
        text=prompts.INSTRUCTIONS["draft"],
    )
    assert reset is not None and reset.number == 3
    draft = {p["purpose"]: p for p in client.get(url(world, "prompts/")).json()["prompts"]}["draft"]
    assert draft["in_use"]["version"] == "campaign-v3"
    assert draft["in_use"]["is_builtin_text"] is True
    assert [v["number"] for v in draft["versions"]] == [3, 2, 1]
    # Other purposes are untouched.
    hint = {p["purpose"]: p for p in client.get(url(world, "prompts/")).json()["prompts"]}["hint"]
    assert hint["in_use"]["version"] == "builtin-v1"
    events = Event.objects.filter(kind=EventKind.ASSIST_PROMPT_SAVED).order_by("id")
    assert [e.data for e in events] == [
        {"purpose": "draft", "number": 1},
        {"purpose": "draft", "number": 2},
        {"purpose": "draft", "number": 3},
    ]
    assert [(e.from_state, e.to_state) for e in events][0] == ("builtin-v1", "campaign-v1")


def test_a_saved_prompt_is_the_one_calls_use(world):
    from annotation.services.assist import prompt_in_use

    assist_prompt_save(
        campaign=world.campaign, actor=world.curator, purpose="hint", text="Be kind."
    )
    used = prompt_in_use(world.campaign, "hint")
    assert (used.instructions, used.version) == ("Be kind.", "campaign-v1")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"purpose": "draft", "text": "   \n "}, "text"),
        ({"purpose": "draft", "text": "x" * 20_001}, "text"),
        ({"purpose": "summary", "text": "Do it."}, "purpose"),
        ({"purpose": "draft"}, "text"),
    ],
)
def test_bad_prompts_are_refused(world, body, field):
    res = api_for(world.curator).post(url(world, "prompts/"), body, format="json")
    assert res.status_code == 400
    assert field in res.json()["errors"]
    assert not AssistPrompt.objects.exists()


def test_prompt_service_refuses_empty_text(world):
    with pytest.raises(ValidationFailed) as caught:
        assist_prompt_save(campaign=world.campaign, actor=world.curator, purpose="hint", text=" ")
    assert list(errors_of(caught.value)) == ["text"]


# --- usage ------------------------------------------------------------------------------------


def make_calls(world: World, n: int, **fields: Any) -> list[ModelCall]:
    values = {
        "purpose": "draft",
        "model": "m1",
        "prompt_version": "builtin-v1",
        "status": "ok",
        "tokens_in": 100,
        "tokens_out": 10,
        "duration_ms": 200,
        **fields,
    }
    return ModelCall.objects.bulk_create(
        ModelCall(campaign=world.campaign, actor=world.annotators[0], **values) for _ in range(n)
    )


def test_usage_counts_per_purpose_and_model_recent_and_all_time(world, make_world, schema):  # noqa: F811
    make_calls(world, 3)  # draft m1, answered
    make_calls(
        world, 1, status="failed", error_code="timeout", error="It timed out.", duration_ms=0
    )
    old = make_calls(world, 2, tokens_in=1000, tokens_out=500, duration_ms=800)
    ModelCall.objects.filter(pk__in=[c.pk for c in old]).update(
        created_at=timezone.now() - timedelta(days=45)
    )
    make_calls(world, 2, purpose="hint", model="m2", tokens_estimated=True, duration_ms=50)
    make_calls(make_world(slug="other"), 5)  # another campaign's calls never count

    res = api_for(world.curator).get(url(world, "usage/"))
    assert res.status_code == 200
    check(schema, "get", "/api/v1/campaigns/{slug}/assist/usage/", res)
    body = res.json()
    rows = {(r["purpose"], r["model"]): r for r in body["rows"]}
    assert set(rows) == {("draft", "m1"), ("hint", "m2")}
    draft = rows[("draft", "m1")]
    assert draft["purpose_label"] == "Draft suggestion"
    assert draft["all_time"] == {
        "calls": 6,
        "failed": 1,
        "tokens_in": 3 * 100 + 100 + 2 * 1000,
        "tokens_out": 3 * 10 + 10 + 2 * 500,
        "estimated": 0,
        # Answered calls only: (3 * 200 + 2 * 800) / 5.
        "mean_duration_ms": 440,
    }
    assert draft["last_30_days"] == {
        "calls": 4,
        "failed": 1,
        "tokens_in": 400,
        "tokens_out": 40,
        "estimated": 0,
        "mean_duration_ms": 200,
    }
    assert rows[("hint", "m2")]["all_time"]["estimated"] == 2
    assert body["totals"]["all_time"]["calls"] == 8
    assert body["totals"]["last_30_days"]["calls"] == 6
    assert body["totals"]["all_time"]["tokens_in"] == 2600
    assert body["days"] == 30
    assert len(body["recent"]) == 8
    newest = body["recent"][0]
    assert newest["purpose"] == "hint" and newest["actor"] == world.annotators[0].username
    failed = next(c for c in body["recent"] if c["status"] == "failed")
    assert (failed["error_code"], failed["error"]) == ("timeout", "It timed out.")


def test_usage_without_calls(world):
    body = api_for(world.curator).get(url(world, "usage/")).json()
    assert body["rows"] == [] and body["recent"] == []
    assert body["totals"]["all_time"] == {
        "calls": 0,
        "failed": 0,
        "tokens_in": 0,
        "tokens_out": 0,
        "estimated": 0,
        "mean_duration_ms": None,
    }


def test_usage_queries_do_not_grow_with_the_calls(world):
    client = api_for(world.curator)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url(world, "usage/")).status_code == 200
        return len(ctx.captured_queries)

    make_calls(world, 2)
    few = queries()
    make_calls(world, 40, purpose="classify", model="m3")
    make_calls(world, 40, purpose="hint", model="m4", status="failed")
    assert queries() == few
    assert len(client.get(url(world, "usage/")).json()["recent"]) == 20


# --- connection test --------------------------------------------------------------------------


def test_connection_test_reports_and_records(world, fake, schema):  # noqa: F811
    client = api_for(world.curator)
    res = client.post(url(world, "test/"))
    assert res.status_code == 409  # assistance off
    client.put(
        url(world),
        {"enabled": True, "base_url": fake.base_url, "model": "fake-good"},
        format="json",
    )
    res = client.post(url(world, "test/"))
    assert res.status_code == 200
    check(schema, "post", "/api/v1/campaigns/{slug}/assist/test/", res)
    assert res.json()["ok"] is True and res.json()["reason"] == ""
    assert res.json()["follows_instructions"] is True
    call = ModelCall.objects.get()
    assert (call.purpose, call.prompt_version, call.status) == ("test", "connection-test", "ok")
    assert call.actor == world.curator

    # A model that answers, but not as asked, reaches the endpoint and is flagged.
    client.put(url(world), {"model": "fake-malformed"}, format="json")
    body = client.post(url(world, "test/")).json()
    assert body["ok"] is True and body["follows_instructions"] is False
    assert "But not as asked" in body["message"] and "can't help" in body["message"]

    client.put(url(world), {"model": "fake-fail"}, format="json")
    body = client.post(url(world, "test/")).json()
    assert body["ok"] is False and body["reason"] == "endpoint_error"
    assert body["follows_instructions"] is False
    assert ModelCall.objects.filter(status="failed").count() == 1


def test_connection_test_says_when_the_key_variable_is_unset(world, fake, monkeypatch):
    monkeypatch.delenv(KEY_VAR, raising=False)
    client = api_for(world.curator)
    client.put(
        url(world),
        {"enabled": True, "base_url": fake.base_url, "model": "fake-auth", "api_key_env": KEY_VAR},
        format="json",
    )
    body = client.post(url(world, "test/")).json()
    assert body["ok"] is False and body["reason"] == "not_configured"
    assert KEY_VAR in body["message"]
    monkeypatch.setenv(KEY_VAR, "sk-test-key")
    body = client.post(url(world, "test/")).json()
    assert body["ok"] is True
    assert "sk-test-key" not in json.dumps(body)


# --- permissions ------------------------------------------------------------------------------

MATRIX = [
    ("get", "", None, 200),
    ("put", "", {"concurrency": 2}, 200),
    ("get", "prompts/", None, 200),
    ("post", "prompts/", {"purpose": "hint", "text": "Be brief."}, 201),
    ("get", "usage/", None, 200),
    ("post", "test/", None, 409),
]


@pytest.mark.parametrize(("method", "tail", "body", "curator_status"), MATRIX)
def test_permission_matrix(make_world, method, tail, body, curator_status):
    world = make_world(slug="camp")
    other = make_world(slug="other")
    clients = {
        "anonymous": (APIClient(), 401),
        "annotator": (api_for(world.annotators[0]), 403),
        "reviewer": (api_for(world.reviewers[0]), 403),
        "other curator": (api_for(other.curator), 404),
        "curator": (api_for(world.curator), curator_status),
    }
    for who, (client, expected) in clients.items():
        call = getattr(client, method)
        res = call(url(world, tail), body, format="json") if body else call(url(world, tail))
        assert res.status_code == expected, (who, method, tail, res.content)
    assert AssistPrompt.objects.count() == (1 if tail == "prompts/" and method == "post" else 0)


# --- the settings page ------------------------------------------------------------------------


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_url(world: World) -> str:
    return f"/campaigns/{world.campaign.slug}/settings/"


def test_page_saves_the_settings_form(world):
    client = login(world.curator)
    res = client.get(page_url(world))
    assert res.status_code == 200
    html = res.content.decode()
    assert 'id="assist-form"' in html and "http://localhost:11434/v1" in html
    assert "the key is never stored here" in html
    assert "can anchor a blind vote" in html
    res = client.post(
        page_url(world),
        {
            "form": "assist",
            "enabled": "true",
            "base_url": "http://localhost:1234/v1/",
            "model": "qwen2.5-coder",
            "api_key_env": "",
            "timeout_seconds": "45",
            "concurrency": "2",
            "rate_limit_per_minute": "30",
            "max_output_tokens": "800",
            "reviewer_hint": "true",
        },
    )
    assert res.status_code == 302
    assert res["Location"].endswith("#assist")
    config = AssistSettings.objects.get()
    assert (config.enabled, config.base_url, config.model) == (
        True,
        "http://localhost:1234/v1",
        "qwen2.5-coder",
    )
    assert (config.timeout_seconds, config.concurrency, config.rate_limit_per_minute) == (45, 2, 30)
    # Unchecked boxes are off.
    assert (config.stream, config.suggest_drafts, config.reviewer_hint) == (False, False, True)
    # The campaign's own settings did not change.
    world.campaign.refresh_from_db()
    assert world.campaign.panel_size == 4


def test_page_shows_each_bad_field_and_keeps_what_was_typed(world):
    res = login(world.curator).post(
        page_url(world),
        {
            "form": "assist",
            "enabled": "true",
            "base_url": "",
            "model": "<b>m</b>",
            "api_key_env": "SECRET_THING",
            "timeout_seconds": "900",
            "concurrency": "2",
            "rate_limit_per_minute": "30",
            "max_output_tokens": "800",
        },
    )
    assert res.status_code == 400
    html = res.content.decode()
    assert "must be CURATION_MODEL_KEY or start with CURATION_MODEL_KEY_" in html
    assert "at most 600" in html
    assert "model assistance needs an endpoint URL" in html
    assert 'value="SECRET_THING"' in html
    assert "&lt;b&gt;m&lt;/b&gt;" in html and "<b>m</b>" not in html
    assert not AssistSettings.objects.filter(enabled=True).exists()


def test_page_saves_and_resets_prompts_and_shows_usage(world):
    client = login(world.curator)
    res = client.post(
        page_url(world),
        {"form": "prompt", "purpose": "hint", "action": "save", "text": "<script>x</script>"},
    )
    assert res.status_code == 302 and res["Location"].endswith("#prompt-hint")
    html = client.get(page_url(world)).content.decode()
    assert "campaign-v1" in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x</script>" not in html
    res = client.post(
        page_url(world), {"form": "prompt", "purpose": "hint", "action": "reset", "text": "z"}
    )
    assert res.status_code == 302
    newest = AssistPrompt.objects.filter(purpose="hint").order_by("-number").first()
    assert newest is not None
    assert (newest.number, newest.text) == (2, prompts.INSTRUCTIONS["hint"])
    res = client.post(page_url(world), {"form": "prompt", "purpose": "hint", "text": " "})
    assert res.status_code == 400
    assert "must not be empty" in res.content.decode()

    html = client.get(page_url(world)).content.decode()
    assert 'id="assist-usage-empty"' in html
    make_calls(world, 2, model="<i>model</i>", error="x")
    html = client.get(page_url(world)).content.decode()
    assert 'id="assist-usage"' in html and 'id="assist-calls"' in html
    assert "&lt;i&gt;model&lt;/i&gt;" in html and "<i>model</i>" not in html


def test_page_is_for_curators(world):
    res = login(world.reviewers[0]).post(page_url(world), {"form": "assist", "enabled": "true"})
    assert res.status_code == 403
    assert not AssistSettings.objects.exists()
