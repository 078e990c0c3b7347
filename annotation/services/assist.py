"""Model-assisted curation, the shared part: a campaign's model settings, the prompt in use, and
``model_call`` / ``model_stream``, the only way the platform calls a model. Each call runs under
the campaign's limits (calls per minute, calls at once) and is recorded as a ``ModelCall`` with
tokens in and out, whatever its outcome, in its own short write (a failed call is recorded
even though the operation that wanted it fails).

Drafts (``assist_drafts``), seed classification (``assist_seeds``), settings and prompts
(``assist_settings``) and reviewer hints (``review.services.hints``) build on this.
"""

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from core import llm
from core.errors import DomainError, InvalidTransition, Unavailable, ValidationFailed

from .. import prompts
from ..models import AssistPrompt, AssistPurpose, AssistSettings, Campaign, ModelCall
from ..tokens import count_tokens

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
SLOT_RENEW_SECONDS = 15.0  # a long stream renews its slot of the campaign's calls at once


def assist_settings_of(campaign: Campaign) -> AssistSettings:
    """The campaign's model settings; an unsaved default (off) when it never had any."""
    found = AssistSettings.objects.filter(campaign=campaign).first()
    return found if found is not None else AssistSettings(campaign=campaign)


def api_key_env_problem(name: str) -> str:
    """Why ``name`` cannot hold a campaign's API key ("" when it can)."""
    prefix = settings.CURATION_MODEL_KEY_PREFIX
    if not name:
        return ""
    if not ENV_NAME.match(name):
        return "use capital letters, digits and underscores, e.g. " + f"{prefix}_OPENAI"
    if name != prefix and not name.startswith(prefix + "_"):
        return (
            f"must be {prefix} or start with {prefix}_ (the server sends only such variables "
            "to a model endpoint)"
        )
    if not settings.CURATION_MODEL_ALLOWED_HOSTS:
        # Without a list of hosts, any curator could send the server's key to a host of their
        # own choosing: a key is only ever sent to hosts an operator allowed.
        return (
            "a key is sent only to hosts an operator allowed, and this server allows any host "
            "(CURATION_MODEL_ALLOWED_HOSTS is not set): ask an operator to set it, or use an "
            "endpoint that needs no key"
        )
    return ""


def private_allowed(host: str) -> bool:
    """Whether ``host`` may be on a loopback or private address: an operator listed it in
    ``CURATION_MODEL_ALLOWED_HOSTS``, or the deployment allows such addresses
    (``CURATION_MODEL_ALLOW_PRIVATE``, development and tests)."""
    return settings.CURATION_MODEL_ALLOW_PRIVATE or host in settings.CURATION_MODEL_ALLOWED_HOSTS


def base_url_problem(url: str, *, api_key_env: str = "") -> str:
    """Why the server may not call ``url`` ("" when it may): a scheme other than http(s), a
    host outside ``CURATION_MODEL_ALLOWED_HOSTS`` when that is set, an address the server
    never calls (``core.llm.address_problem``), or a key to be sent over plain http to a host
    other than this machine."""
    try:
        normalized = llm.normalize_base_url(url)
    except ValidationFailed as exc:
        return exc.message
    allowed = settings.CURATION_MODEL_ALLOWED_HOSTS
    host = llm.host_of(normalized)
    if allowed and host not in allowed:
        return f"{host} is not among the hosts this server may call ({', '.join(allowed)})"
    return key_transport_problem(normalized, api_key_env) or llm.forbidden_address(
        host, allow_private=private_allowed(host)
    )


def key_transport_problem(url: str, api_key_env: str) -> str:
    """Why a key named by ``api_key_env`` may not go to ``url`` ("" when it may): a key goes
    over https only, or to this machine."""
    if api_key_env and url.startswith("http://") and not llm.is_loopback(llm.host_of(url)):
        return (
            "an API key is sent only over https:// (or to this machine): use the endpoint's "
            "https:// URL"
        )
    return ""


@dataclass(frozen=True)
class Prompt:
    instructions: str
    version: str  # "builtin-v1" or "campaign-v<n>"


def prompt_in_use(campaign: Campaign, purpose: str) -> Prompt:
    """The campaign's newest prompt of ``purpose``, else the built-in one."""
    saved = (
        AssistPrompt.objects.filter(campaign=campaign, purpose=purpose)
        .order_by("-number")
        .only("number", "text")
        .first()
    )
    if saved is not None:
        return Prompt(saved.text, prompts.campaign_version(saved.number))
    return Prompt(prompts.INSTRUCTIONS[purpose], prompts.BUILTIN_VERSION)


def endpoint_for(campaign: Campaign, *, purpose: str) -> tuple[AssistSettings, llm.Endpoint]:
    """The campaign's settings and endpoint, ready to call for ``purpose``.

    Raises InvalidTransition (assistance off, or this use of it off) and Unavailable (the
    settings are incomplete, the endpoint's host is no longer allowed, or the key's variable is
    not set on this server)."""
    config = assist_settings_of(campaign)
    if not config.enabled:
        raise InvalidTransition("Model assistance is off in this campaign's settings.")
    if purpose == AssistPurpose.DRAFT and not config.suggest_drafts:
        raise InvalidTransition("Draft suggestions are off in this campaign's settings.")
    if purpose == AssistPurpose.HINT and not config.reviewer_hint:
        raise InvalidTransition("Reviewer hints are off in this campaign's settings.")
    if not config.base_url or not config.model:
        raise Unavailable(
            "Model assistance is on but has no endpoint URL or model name: a curator should "
            "complete the campaign settings.",
            details={"reason": "not_configured"},
        )
    problem = base_url_problem(config.base_url, api_key_env=config.api_key_env)
    if problem:
        raise Unavailable(
            f"The campaign's model endpoint cannot be used: {problem}.",
            details={"reason": "not_configured"},
        )
    key: str | None = None
    if config.api_key_env:
        if api_key_env_problem(config.api_key_env):
            raise Unavailable(
                f"The API key variable {config.api_key_env} is not allowed: "
                f"{api_key_env_problem(config.api_key_env)}.",
                details={"reason": "not_configured"},
            )
        key = os.environ.get(config.api_key_env) or None
        if key is None:
            raise Unavailable(
                f"The API key variable {config.api_key_env} is not set on this server: an "
                "operator should set it, or a curator should clear it for an endpoint that "
                "needs no key.",
                details={"reason": "not_configured"},
            )
    return config, llm.Endpoint(
        base_url=llm.normalize_base_url(config.base_url),
        model=config.model,
        api_key=key,
        timeout=config.timeout_seconds,
        max_output_tokens=config.max_output_tokens,
        allow_private=private_allowed(llm.host_of(config.base_url)),
    )


def _limits(config: AssistSettings, *, interactive: bool = True) -> Any:
    return llm.limited(
        f"campaign:{config.campaign_id}",
        per_minute=config.rate_limit_per_minute,
        at_once=config.concurrency,
        hold_seconds=config.timeout_seconds,
        interactive=interactive,
    )


def _record(
    *,
    campaign: Campaign,
    actor: Any,
    purpose: str,
    model: str,
    prompt_version: str,
    messages: list[dict[str, str]],
    completion: llm.Completion | None,
    error: DomainError | None,
    streamed: bool,
    duration_ms: int,
) -> ModelCall:
    tokens_in = completion.tokens_in if completion else None
    tokens_out = completion.tokens_out if completion else None
    estimated = False
    if completion is not None and (tokens_in is None or tokens_out is None):
        # The endpoint did not report usage: the campaign tokenizer's count, marked as such.
        estimated = True
        tokenizer = campaign.tokenizer
        tokens_in = sum(count_tokens(m["content"], tokenizer) for m in messages)
        tokens_out = count_tokens(completion.text, tokenizer)
    return ModelCall.objects.create(
        campaign=campaign,
        actor=actor if getattr(actor, "pk", None) else None,
        purpose=purpose,
        # What the endpoint reports is outside text: bounded to the columns.
        model=((completion.model if completion else "") or model)[:200],
        prompt_version=prompt_version[:64],
        status=ModelCall.Status.FAILED if error else ModelCall.Status.OK,
        error_code=str(error.details.get("reason", error.code))[:32] if error else "",
        error=error.message[:300] if error else "",
        tokens_in=max(0, int(tokens_in or 0)),
        tokens_out=max(0, int(tokens_out or 0)),
        tokens_estimated=estimated,
        streamed=streamed,
        duration_ms=duration_ms,
    )


@dataclass
class CallResult:
    completion: llm.Completion
    call: ModelCall


def model_call(
    *,
    campaign: Campaign,
    actor: Any,
    purpose: str,
    messages: list[dict[str, str]],
    prompt_version: str,
    config: AssistSettings,
    endpoint: llm.Endpoint,
    interactive: bool = True,
) -> CallResult:
    """Call the campaign's model once, under its limits, and record the call. ``interactive``:
    a person waits for it in a web request (``core.llm.limited``); a job's calls are not.

    Raises Throttled (a limit) and Unavailable (see ``core.llm``); the failed call is recorded
    first (a throttled one is not: it never left)."""
    with _limits(config, interactive=interactive):
        started = time.monotonic()
        try:
            completion = llm.chat(endpoint, messages)
        except DomainError as exc:
            _record(
                campaign=campaign,
                actor=actor,
                purpose=purpose,
                model=endpoint.model,
                prompt_version=prompt_version,
                messages=messages,
                completion=None,
                error=exc,
                streamed=False,
                duration_ms=round((time.monotonic() - started) * 1000),
            )
            raise
    call = _record(
        campaign=campaign,
        actor=actor,
        purpose=purpose,
        model=endpoint.model,
        prompt_version=prompt_version,
        messages=messages,
        completion=completion,
        error=None,
        streamed=False,
        duration_ms=completion.duration_ms,
    )
    return CallResult(completion, call)


def call_failed(call: ModelCall, error: DomainError) -> None:
    """Mark a recorded call failed after the fact: its answer arrived but was unusable."""
    ModelCall.objects.filter(pk=call.pk).update(
        status=ModelCall.Status.FAILED,
        error_code=str(error.details.get("reason", error.code))[:32],
        error=error.message[:300],
    )


class StreamedCall:
    """A streamed model call: iterate for text deltas; afterwards ``result`` holds the
    completion and its recorded call. Entered under the campaign's limits when created (a
    throttled call raises at once) and left when the stream ends or fails."""

    def __init__(
        self,
        *,
        campaign: Campaign,
        actor: Any,
        purpose: str,
        messages: list[dict[str, str]],
        prompt_version: str,
        config: AssistSettings,
        endpoint: llm.Endpoint,
    ) -> None:
        self._meta = {
            "campaign": campaign,
            "actor": actor,
            "purpose": purpose,
            "model": endpoint.model,
            "prompt_version": prompt_version,
            "messages": messages,
        }
        self.result: CallResult | None = None
        self._read = False
        self._limits = _limits(config)
        self._renew = self._limits.__enter__()
        started = time.monotonic()
        try:
            self._stream = llm.chat_stream(endpoint, messages)
        except DomainError as exc:
            self._limits.__exit__(None, None, None)
            _record(
                **self._meta,
                completion=None,
                error=exc,
                streamed=True,
                duration_ms=round((time.monotonic() - started) * 1000),
            )
            raise

    def __iter__(self) -> Iterator[str]:
        self._read = True
        parts: list[str] = []
        started = renewed = time.monotonic()
        try:
            for piece in self._stream:
                parts.append(piece)
                if time.monotonic() - renewed > SLOT_RENEW_SECONDS:
                    # A stream that keeps arriving may outlast its slot's hold: still running.
                    self._renew()
                    renewed = time.monotonic()
                yield piece
        except DomainError as exc:
            # The tokens of what arrived before the failure count too (estimated).
            partial = (
                llm.Completion(text="".join(parts), model=self._meta["model"]) if parts else None
            )
            _record(
                **self._meta,
                completion=partial,
                error=exc,
                streamed=True,
                duration_ms=round((time.monotonic() - started) * 1000),
            )
            raise
        except GeneratorExit:
            # The client went away mid-answer (page closed or reloaded): the tokens spent so
            # far still count, estimated from the text that arrived.
            _record(
                **self._meta,
                completion=llm.Completion(text="".join(parts), model=self._meta["model"]),
                error=Unavailable(
                    "The request ended before the model's answer did (the page was closed "
                    "or reloaded).",
                    details={"reason": "abandoned"},
                ),
                streamed=True,
                duration_ms=round((time.monotonic() - started) * 1000),
            )
            raise
        finally:
            self._limits.__exit__(None, None, None)
        completion = self._stream.completion
        if completion is None:  # pragma: no cover - the stream always sets it when it ends
            raise Unavailable("The model's answer ended early.", details={"reason": "malformed"})
        call = _record(
            **self._meta,
            completion=completion,
            error=None,
            streamed=True,
            duration_ms=completion.duration_ms,
        )
        self.result = CallResult(completion, call)

    def close(self) -> None:
        """A stream abandoned before it was read (the client went away first): the request
        was sent, so it is recorded; the connection and the slot are given up."""
        if not self._read:
            self._read = True
            self._stream.close()
            _record(
                **self._meta,
                completion=None,
                error=Unavailable(
                    "The request ended before the model's answer was read.",
                    details={"reason": "abandoned"},
                ),
                streamed=True,
                duration_ms=0,
            )
        self._limits.__exit__(None, None, None)
