"""The model's view of a rewrite for its reviewers (a hint): the three checklist items (clear,
ethical, solvable) with a note each and the problems it sees, labelled as a model's opinion.

One hint per revision, shared by its panel: the first reviewer who asks pays for the call, the
others read the stored one. Shown to a reviewer only after their own vote unless the campaign
says otherwise (``hint_before_vote``), so it cannot anchor a blind vote. Voting never depends
on it.

Failures: an endpoint that fails (Unavailable) or a limit (Throttled) stores nothing here (the
call is recorded as a failed ``ModelCall``) and the error goes to the caller; an answer that is
not a hint is stored as a FAILED hint with the error (a later ask replaces it) and raised as
``Unavailable`` with reason ``malformed``."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from annotation import prompts
from annotation.models import AssistPurpose, Rewrite
from annotation.services.assist import call_failed, endpoint_for, model_call, prompt_in_use
from core import llm

from .. import selectors
from ..models import ReviewHint

HINT_LABEL = "A model's opinion, not a vote"


def review_hint_get_or_ask(*, ballot_id: int, actor: Any) -> ReviewHint:
    """The model's view of the rewrite of ``actor``'s ballot: the stored one when its revision
    has one (no model call), else asked now and stored for the whole panel.

    No transaction is held while the model answers. Two reviewers asking at once may both
    call the model; the first answer stored wins and the other request returns it.

    Raises NotFound (not the actor's ballot), NotAllowed (not a reviewer), InvalidTransition
    (hints off in the campaign, or asked before the vote while they are shown only after it),
    Unavailable (endpoint not configured, down, or its answer unusable: reason ``malformed``)
    and Throttled (the campaign's or the endpoint's rate limit)."""
    ballot = selectors.ballot_for_reviewer(user=actor, ballot_id=ballot_id)
    state = selectors.hint_state(ballot)
    selectors.hint_require_visible(state)
    if state.hint is not None:
        return state.hint
    rewrite = ballot.rewrite
    campaign = ballot.campaign
    config, endpoint = endpoint_for(campaign, purpose=AssistPurpose.HINT)
    prompt = prompt_in_use(campaign, AssistPurpose.HINT)
    messages = prompts.hint_messages(
        instructions=prompt.instructions,
        text=rewrite.text,
        difficulty=rewrite.difficulty,
        languages=[link.language.name for link in rewrite.language_links.all()],
        subcategory=rewrite.subcategory.name if rewrite.subcategory else "",
        seed_text=rewrite.seed.body,
    )
    result = model_call(
        campaign=campaign,
        actor=actor,
        purpose=AssistPurpose.HINT,
        messages=messages,
        prompt_version=prompt.version,
        config=config,
        endpoint=endpoint,
    )
    model = result.completion.model or endpoint.model
    try:
        content = prompts.parse_hint(result.completion.text)
    except ValueError as exc:
        error = llm.malformed(endpoint, str(exc))
        call_failed(result.call, error)
        stored = _store(
            rewrite=rewrite,
            actor=actor,
            status=ReviewHint.Status.FAILED,
            content={},
            model=model,
            prompt_version=prompt.version,
            error=error.message,
        )
        if stored.status == ReviewHint.Status.READY:
            return stored  # another reviewer's ask succeeded meanwhile
        raise error from exc
    return _store(
        rewrite=rewrite,
        actor=actor,
        status=ReviewHint.Status.READY,
        content=content,
        model=model,
        prompt_version=prompt.version,
        error="",
    )


@transaction.atomic
def _store(
    *,
    rewrite: Rewrite,
    actor: Any,
    status: str,
    content: dict[str, Any],
    model: str,
    prompt_version: str,
    error: str,
) -> ReviewHint:
    """Store the revision's hint: create it, or replace a FAILED one; a READY one stays (a
    concurrent ask stored it first) and is returned. Locks the existing row; two first asks
    at once meet on the one-hint-per-revision constraint, which get_or_create resolves."""
    values = {
        "status": status,
        "content": content,
        "model": model[:200],
        "prompt_version": prompt_version[:64],
        "error": error[:300],
        "requested_by": actor if getattr(actor, "pk", None) else None,
    }
    hint, created = ReviewHint.objects.select_for_update(no_key=True).get_or_create(
        rewrite=rewrite, defaults=values
    )
    if created or hint.status == ReviewHint.Status.READY:
        return hint
    for key, value in values.items():
        setattr(hint, key, value)
    hint.created_at = timezone.now()
    hint.save(update_fields=[*values, "created_at"])
    return hint
