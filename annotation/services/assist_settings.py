"""Model assistance, the curator's part: a campaign's endpoint settings, its prompt versions and
a connection test. The key itself never passes through here: the settings name the environment
variable that holds it (``api_key_env``), and no event, error or response carries its value.

Every change is one transaction that locks what it reads (the settings row, or the campaign row
for prompt versions) and appends an Event naming what changed; free text (URLs, model names,
prompts) stays out of the event's data, which is logged."""

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from core import access, llm
from core.errors import DomainError, Throttled, Unavailable, ValidationFailed
from core.transitions import EventKind, event_record

from .. import prompts
from ..models import AssistPrompt, AssistPurpose, AssistSettings, CallPurpose, Campaign, Role
from .assist import (
    api_key_env_problem,
    base_url_problem,
    endpoint_for,
    key_transport_problem,
    model_call,
)

# The fields a curator may change, in the order the settings page shows them.
ASSIST_FIELDS = (
    "enabled",
    "base_url",
    "model",
    "api_key_env",
    "timeout_seconds",
    "concurrency",
    "rate_limit_per_minute",
    "max_output_tokens",
    "stream",
    "suggest_drafts",
    "reviewer_hint",
    "hint_before_vote",
)
ASSIST_FLAG_FIELDS = ("enabled", "stream", "suggest_drafts", "reviewer_hint", "hint_before_vote")
TIMEOUT_MAX_SECONDS = 600
CONCURRENCY_MAX = 64
RATE_LIMIT_MAX = 100_000
OUTPUT_TOKENS_MAX = 32_000
BASE_URL_MAX = 500
MODEL_NAME_MAX = 200
API_KEY_ENV_MAX = 100
PROMPT_MAX_CHARS = 20_000
CONNECTION_TEST_VERSION = "connection-test"
CONNECTION_TEST_MESSAGES = [
    {"role": "system", "content": "TASK: connection test\nAnswer with the single word: ok"},
    {"role": "user", "content": "Are you there?"},
]

Errors = dict[str, list[str]]


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_text(
    key: str, value: Any, limit: int, errors: Errors, *, single_line: bool = True
) -> str | None:
    if not isinstance(value, str):
        errors[key] = ["must be text"]
        return None
    text: str = value.strip()
    if len(text) > limit:
        errors[key] = [f"at most {limit} characters"]
        return None
    if single_line and any(ord(c) < 32 for c in text):
        errors[key] = ["must be one line, without control characters"]
        return None
    return text


def _checked(changes: Mapping[str, Any], errors: Errors) -> dict[str, Any]:
    """The valid values among ``changes`` (normalized), every problem added to ``errors``."""
    out: dict[str, Any] = {}
    for key in sorted(set(changes) - set(ASSIST_FIELDS)):
        errors[key] = ["not a model assistance setting"]
    for key in ASSIST_FLAG_FIELDS:
        if key in changes:
            if isinstance(changes[key], bool):
                out[key] = changes[key]
            else:
                errors[key] = ["must be true or false"]
    if "base_url" in changes:
        url = _check_text("base_url", changes["base_url"], BASE_URL_MAX, errors)
        if url:
            problem = base_url_problem(url)
            if problem:
                errors["base_url"] = [problem]
            else:
                out["base_url"] = llm.normalize_base_url(url)
        elif url == "":
            out["base_url"] = ""
    if "model" in changes:
        model = _check_text("model", changes["model"], MODEL_NAME_MAX, errors)
        if model is not None:
            out["model"] = model
    if "api_key_env" in changes:
        name = _check_text("api_key_env", changes["api_key_env"], API_KEY_ENV_MAX, errors)
        if name is not None:
            problem = api_key_env_problem(name)
            if problem:
                errors["api_key_env"] = [problem]
            else:
                out["api_key_env"] = name
    if "timeout_seconds" in changes:
        timeout = changes["timeout_seconds"]
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or not 0 < timeout <= TIMEOUT_MAX_SECONDS
        ):
            errors["timeout_seconds"] = [
                f"must be a number of seconds above 0 and at most {TIMEOUT_MAX_SECONDS}"
            ]
        else:
            out["timeout_seconds"] = float(timeout)
    ranges = {
        "concurrency": (1, CONCURRENCY_MAX, "calls at once"),
        "rate_limit_per_minute": (1, RATE_LIMIT_MAX, "calls per minute"),
        "max_output_tokens": (1, OUTPUT_TOKENS_MAX, "tokens"),
    }
    for key, (low, high, unit) in ranges.items():
        if key in changes:
            value = changes[key]
            if _whole(value) and low <= value <= high:
                out[key] = value
            else:
                errors[key] = [f"must be a whole number of {unit} from {low} to {high}"]
    return out


def api_key_is_set(name: str) -> bool:
    """Whether the variable ``name`` holds a key on this server. Only a name the prefix rule
    allows is looked up: the answer never tells whether some other variable exists."""
    return bool(name) and not api_key_env_problem(name) and bool(os.environ.get(name))


@transaction.atomic
def assist_settings_update(
    *, campaign: Campaign, actor: Any, changes: Mapping[str, Any]
) -> AssistSettings:
    """Change the campaign's model assistance settings (curators): only the fields in
    ``changes`` (any of ``ASSIST_FIELDS``). The endpoint URL is stored normalized
    (``core.llm.normalize_base_url``); turning assistance on needs an endpoint URL and a model.
    Locks the settings row (creating it on the first change); unchanged values are ignored and
    with nothing changed nothing is written. Writes one ASSIST_SETTINGS_CHANGED event naming
    the changed fields (never their values).

    Raises NotFound / NotAllowed (not a curator) and ValidationFailed naming every bad field."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    errors: Errors = {}
    values = _checked(changes, errors)
    locked, _ = AssistSettings.objects.select_for_update(no_key=True).get_or_create(
        campaign=campaign
    )
    enabled = values.get("enabled", locked.enabled)
    if enabled:
        for key, what in (("base_url", "an endpoint URL"), ("model", "a model name")):
            if key not in errors and not values.get(key, getattr(locked, key)):
                errors[key] = [f"model assistance needs {what} to be turned on"]
    url = values.get("base_url", locked.base_url)
    key_env = values.get("api_key_env", locked.api_key_env)
    if url and not {"base_url", "api_key_env"} & set(errors):
        # The pair: a key goes over https only (each alone was checked by ``_checked``).
        problem = key_transport_problem(url, key_env)
        if problem:
            errors["base_url" if "base_url" in values else "api_key_env"] = [problem]
    if errors:
        raise ValidationFailed(
            "The model assistance settings are invalid.", details={"errors": errors}
        )
    changed = [
        key for key in ASSIST_FIELDS if key in values and getattr(locked, key) != values[key]
    ]
    if not changed:
        return locked
    was_on = locked.enabled
    for key in changed:
        setattr(locked, key, values[key])
    locked.updated_by = actor if getattr(actor, "pk", None) else None
    locked.save(update_fields=[*changed, "updated_by", "updated_at"])
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.ASSIST_SETTINGS_CHANGED,
        obj=locked,
        from_state="on" if was_on else "off",
        to_state="on" if locked.enabled else "off",
        data={"changed": changed},
    )
    return locked


def _normalize(text: str) -> str:
    """Browsers send textareas with CRLF line ends: store LF only."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


@transaction.atomic
def assist_prompt_save(
    *, campaign: Campaign, actor: Any, purpose: str, text: str
) -> AssistPrompt | None:
    """Save ``text`` as a new version of the campaign's ``purpose`` prompt (curators); the
    newest version is the one in use. Resetting to the built-in prompt is saving the built-in
    text (``annotation.prompts.INSTRUCTIONS``). Locks the campaign row, so two saves number
    their versions one after the other; writes an ASSIST_PROMPT_SAVED event.

    Returns the new version; the current version when ``text`` is its text already (no-op);
    None when the campaign never saved one and ``text`` is the built-in text (the built-in is
    in use, nothing to save). Raises NotFound / NotAllowed (not a curator) and
    ValidationFailed (unknown purpose, empty or too long text)."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    errors: Errors = {}
    if purpose not in AssistPurpose.values:
        errors["purpose"] = [f"must be one of {', '.join(AssistPurpose.values)}"]
    text = _normalize(text) if isinstance(text, str) else ""
    if not text.strip():
        errors["text"] = ["must not be empty"]
    elif len(text) > PROMPT_MAX_CHARS:
        errors["text"] = [f"at most {PROMPT_MAX_CHARS:,} characters"]
    if errors:
        raise ValidationFailed("The prompt was not saved.", details={"errors": errors})
    Campaign.objects.select_for_update(no_key=True).filter(pk=campaign.pk).first()
    current = (
        AssistPrompt.objects.filter(campaign=campaign, purpose=purpose).order_by("-number").first()
    )
    if current is not None and current.text == text:
        return current
    if current is None and text == prompts.INSTRUCTIONS[purpose]:
        return None
    saved = AssistPrompt.objects.create(
        campaign=campaign,
        purpose=purpose,
        number=(current.number if current else 0) + 1,
        text=text,
        author=actor if getattr(actor, "pk", None) else None,
    )
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.ASSIST_PROMPT_SAVED,
        obj=saved,
        from_state=prompts.campaign_version(current.number) if current else prompts.BUILTIN_VERSION,
        to_state=prompts.campaign_version(saved.number),
        data={"purpose": purpose, "number": saved.number},
    )
    return saved


@dataclass(frozen=True)
class ConnectionTest:
    ok: bool
    model: str
    latency_ms: int
    reason: str  # "" when ok, else a core.llm reason ("unreachable", "auth", "limit", ...)
    message: str  # for a person
    # The model answered as the test asked (the single word "ok"): one that does not is
    # unlikely to keep to the answer formats of suggestions and classifications.
    follows_instructions: bool = False


_SAID_OK = re.compile(r"^\W*ok\W*$", re.IGNORECASE)


def assist_connection_test(*, campaign: Campaign, actor: Any) -> ConnectionTest:
    """Send a tiny prompt through the campaign's endpoint (curators) and report whether it
    answered and how fast. Recorded like any model call, as a connection test (its own
    purpose in the usage, prompt version ``connection-test``). No transaction: it waits on
    the network.

    Raises NotFound / NotAllowed (not a curator) and InvalidTransition (assistance is off:
    save the settings with assistance on first). An endpoint that fails is a result, not an
    error (``ok`` false, with the reason)."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    try:
        # Classification needs nothing but assistance on, whichever uses are switched off.
        config, endpoint = endpoint_for(campaign, purpose=AssistPurpose.CLASSIFY)
        result = model_call(
            campaign=campaign,
            actor=actor,
            purpose=CallPurpose.TEST,
            messages=CONNECTION_TEST_MESSAGES,
            prompt_version=CONNECTION_TEST_VERSION,
            config=config,
            endpoint=endpoint,
        )
    except (Unavailable, Throttled) as exc:
        return ConnectionTest(
            ok=False,
            model=assist_model_name(campaign),
            latency_ms=0,
            reason=_reason(exc),
            message=exc.message,
        )
    completion = result.completion
    follows = bool(_SAID_OK.match(completion.text.strip()))
    message = f"The endpoint answered in {completion.duration_ms} ms."
    if not follows:
        said = " ".join(completion.text.split())
        said = said[:80] + ("…" if len(said) > 80 else "")
        said += "" if said.endswith((".", "!", "?", "…")) else "."
        message += (
            f' But not as asked: told to answer "ok", it said: {said} A model that does not '
            "follow instructions will often not keep to the answer formats of suggestions and "
            "classifications: try another model."
        )
    return ConnectionTest(
        ok=True,
        model=completion.model or endpoint.model,
        latency_ms=completion.duration_ms,
        reason="",
        message=message,
        follows_instructions=follows,
    )


def _reason(exc: DomainError) -> str:
    return str(exc.details.get("reason") or exc.code)


def assist_model_name(campaign: Campaign) -> str:
    found = AssistSettings.objects.filter(campaign=campaign).values_list("model", flat=True)
    return found.first() or ""
