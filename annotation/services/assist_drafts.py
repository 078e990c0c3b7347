"""Draft suggestions: the campaign's model proposes a rewrite and tags for an annotator's seed.

A suggestion is stored (``DraftSuggestion``) and shown beside the editor, never written into the
draft: the annotator inserts it, and the draft then records which suggestion it started from
(``Rewrite.suggestion``, see ``draft_save``); the edit distance to what they submit is measured
at submit (``review.services.submission``).

The model is called outside any transaction (a call takes seconds): the assignment is checked
before the call, in a short locked read, and again when the suggestion is stored.
"""

import inspect
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any, Literal, overload

from django.db import transaction

from core import llm
from core.errors import DomainError, Unavailable

from .. import prompts
from ..models import AssistPurpose, AssistSettings, Campaign, Difficulty, DraftSuggestion
from ..vocabulary import Vocabulary
from .assignments import assignment_lock_own_active
from .assist import (
    CallResult,
    Prompt,
    StreamedCall,
    call_failed,
    endpoint_for,
    model_call,
    prompt_in_use,
)

# HTTP statuses with which an endpoint refuses a streamed request it would answer unstreamed.
STREAM_REFUSED = frozenset({400, 415, 422, 501})


@dataclass(frozen=True)
class DraftEvent:
    """One event of a streamed suggestion: a piece of the question's text as it arrives
    (``delta``), then either the stored ``suggestion`` or the ``error`` that ended the stream."""

    delta: str = ""
    suggestion: DraftSuggestion | None = None
    error: DomainError | None = None


@dataclass
class _Request:
    assignment_id: int
    actor: Any
    campaign: Campaign
    config: AssistSettings
    endpoint: llm.Endpoint
    prompt: Prompt
    messages: list[dict[str, str]]
    vocab: Vocabulary


def _prepare(*, assignment_id: int, actor: Any) -> _Request:
    with transaction.atomic():
        assignment = assignment_lock_own_active(assignment_id=assignment_id, actor=actor)
    campaign = assignment.campaign
    config, endpoint = endpoint_for(campaign, purpose=AssistPurpose.DRAFT)
    prompt = prompt_in_use(campaign, AssistPurpose.DRAFT)
    vocab = Vocabulary.for_campaign(campaign)
    seed = assignment.seed
    subcategory = seed.subcategory
    messages = prompts.draft_messages(
        instructions=prompt.instructions,
        languages=sorted({lang.name for lang in vocab.languages.values()}, key=str.casefold),
        title=seed.title,
        body=seed.body,
        answer=seed.answer,
        subcategory=subcategory.name if subcategory is not None else "",
    )
    return _Request(
        assignment_id=assignment_id,
        actor=actor,
        campaign=campaign,
        config=config,
        endpoint=endpoint,
        prompt=prompt,
        messages=messages,
        vocab=vocab,
    )


def _finish(request: _Request, result: CallResult) -> DraftSuggestion:
    """Read the model's answer and store the suggestion. Raises Unavailable (malformed: the
    call is marked failed) and, should the assignment have changed meanwhile, what
    ``assignment_lock_own_active`` raises."""
    try:
        answer = prompts.parse_draft(result.completion.text)
    except ValueError as exc:
        error = llm.malformed(request.endpoint, str(exc))
        call_failed(result.call, error)
        raise error from exc
    languages: list[str] = []
    for name in answer.languages:
        language = request.vocab.language(name)
        if language is not None and language.name not in languages:
            languages.append(language.name)
    with transaction.atomic():
        assignment = assignment_lock_own_active(
            assignment_id=request.assignment_id, actor=request.actor
        )
        suggestion = DraftSuggestion.objects.create(
            campaign=request.campaign,
            assignment=assignment,
            requested_by=request.actor,
            model=(result.completion.model or request.config.model)[:200],
            prompt_version=request.prompt.version,
            text=answer.question,
            difficulty=answer.difficulty if answer.difficulty in Difficulty.values else "",
            programming_languages=languages,
            call=result.call,
        )
    suggestion.call = result.call  # the representation reads its token counts
    return suggestion


def _suggest_once(request: _Request) -> DraftSuggestion:
    result = model_call(
        campaign=request.campaign,
        actor=request.actor,
        purpose=AssistPurpose.DRAFT,
        messages=request.messages,
        prompt_version=request.prompt.version,
        config=request.config,
        endpoint=request.endpoint,
    )
    return _finish(request, result)


class DraftStream:
    """The events of a streamed suggestion (iterate once): ``DraftEvent(delta=...)`` while the
    question arrives, then one ``DraftEvent(suggestion=...)`` or ``DraftEvent(error=...)``.
    Errors after the first byte cannot change the response's status any more, so they are
    events. The HTTP response calls ``close`` when it ends, also when the client went away
    before the end: the call's slot under the campaign's limits is given back either way."""

    def __init__(
        self,
        request: _Request,
        *,
        call: StreamedCall | None = None,
        ready: DraftSuggestion | None = None,
    ) -> None:
        self._request = request
        self._call = call
        self._ready = ready
        self._running: Generator[DraftEvent, None, None] | None = None
        self._closed = False

    def __iter__(self) -> Iterator[DraftEvent]:
        if self._closed:
            return iter(())
        if self._running is None:
            self._running = self._events()
        return self._running

    def close(self) -> None:
        """Stop reading: a stream being read gives up its connection and its slot (in the
        generator's ``finally``); one never read gives its slot back here. Idempotent."""
        if self._closed:
            return
        self._closed = True
        running = self._running
        if running is not None and inspect.getgeneratorstate(running) != inspect.GEN_CREATED:
            running.close()
            return
        if running is not None:
            running.close()
        if self._call is not None:
            self._call.close()

    def _events(self) -> Generator[DraftEvent, None, None]:
        if self._call is None:
            # The campaign's endpoint does not stream: the one answer, already stored.
            if self._ready is not None:
                yield DraftEvent(suggestion=self._ready)
            return
        call = self._call
        deltas = iter(call)
        text = ""
        sent = ""
        try:
            for piece in deltas:
                text += piece
                # Trailing whitespace waits for what follows it (the stored question is
                # stripped), so every delta extends what was sent.
                so_far = prompts.question_so_far(text).rstrip()
                if len(so_far) > len(sent) and so_far.startswith(sent):
                    yield DraftEvent(delta=so_far[len(sent) :])
                    sent = so_far
        except DomainError as exc:  # recorded as a failed call by StreamedCall
            if exc.details.get("empty_stream") and not sent:
                # The endpoint answered the streamed request with no events at all (it cannot
                # stream): ask once without streaming.
                try:
                    yield DraftEvent(suggestion=_suggest_once(self._request))
                except DomainError as again:
                    yield DraftEvent(error=again)
                return
            yield DraftEvent(error=exc)
            return
        finally:
            close = getattr(deltas, "close", None)
            if close is not None:
                close()  # a stream abandoned mid-way gives its slot back and its connection up
        result = call.result
        if result is None:  # pragma: no cover - StreamedCall sets it whenever it ends well
            yield DraftEvent(error=llm.malformed(self._request.endpoint, "it ended early"))
            return
        try:
            suggestion = _finish(self._request, result)
        except DomainError as exc:
            yield DraftEvent(error=exc)
            return
        yield DraftEvent(suggestion=suggestion)


@overload
def draft_suggest(
    *, assignment_id: int, actor: Any, stream: Literal[False] = False
) -> DraftSuggestion: ...


@overload
def draft_suggest(*, assignment_id: int, actor: Any, stream: Literal[True]) -> DraftStream: ...


def draft_suggest(
    *, assignment_id: int, actor: Any, stream: bool = False
) -> DraftSuggestion | DraftStream:
    """Ask the campaign's model for a rewrite and tags of the seed of the actor's own active
    assignment, and store it as a ``DraftSuggestion`` (the model's name, the prompt version,
    the question, a valid difficulty or "", the suggested languages that are in the campaign's
    vocabulary, and the recorded ``ModelCall``). The draft itself is not touched.

    With ``stream`` the answer is streamed: a ``DraftStream`` of events (see there). When the
    campaign's endpoint does not stream (``AssistSettings.stream`` off), the one answer is
    asked for at once and the stream holds only its final event.

    Raises, before anything is streamed: NotFound (not the actor's assignment), NotAllowed (not
    an annotator), InvalidTransition (the assignment is not active; assistance or draft
    suggestions are off), Unavailable (not configured; the endpoint is unreachable, timed out,
    refused the key, answered an error status or, not streaming, an unusable answer: the
    call is recorded as failed) and Throttled (the campaign's limits, or the endpoint's)."""
    request = _prepare(assignment_id=assignment_id, actor=actor)
    if not stream:
        return _suggest_once(request)
    if not request.config.stream:
        return DraftStream(request, ready=_suggest_once(request))
    try:
        call = StreamedCall(
            campaign=request.campaign,
            actor=actor,
            purpose=AssistPurpose.DRAFT,
            messages=request.messages,
            prompt_version=request.prompt.version,
            config=request.config,
            endpoint=request.endpoint,
        )
    except Unavailable as exc:
        if exc.details.get("status") not in STREAM_REFUSED:
            raise
        # An endpoint that refuses a streamed request (some servers reject `stream` or
        # `stream_options`): the one answer, asked without streaming.
        return DraftStream(request, ready=_suggest_once(request))
    return DraftStream(request, call=call)
