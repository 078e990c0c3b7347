"""The item page: one seed with every revision, flag, vote, note and event, for the campaign's
curators, with the decisions that apply (each a POST form to the owning app's page, which
comes back here through ``next``)."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation.rendering import render_markdown, render_seed
from annotation.selectors import rewrite_language_names

from .selectors_items import RevisionHistory, campaign_annotators, item_history, state_label


@login_required
def item_page(request: HttpRequest, slug: str, seed_id: int) -> HttpResponse:
    """GET: the seed (rendered and raw), its assignments, every revision with the diff to the
    one before, its tags, flags, votes and notes, and the timeline of events."""
    item = item_history(user=request.user, slug=slug, seed_id=seed_id)
    needs_annotators = any("return" in r.actions for r in item.revisions) or any(
        "reassign" in actions for actions in item.assignment_actions.values()
    )
    revisions = [_revision_view(history) for history in item.revisions]
    return render(
        request,
        "browser/item.html",
        {
            "campaign": item.campaign,
            "item": item,
            "seed": item.seed,
            "seed_html": render_seed(item.seed.body),
            "answer_html": render_seed(item.seed.answer),
            "assignments": [(a, item.assignment_actions.get(a.pk, ())) for a in item.assignments],
            "revisions": revisions,
            "annotators": campaign_annotators(campaign=item.campaign) if needs_annotators else [],
            "here": request.get_full_path(),
        },
    )


def _revision_view(history: RevisionHistory) -> dict[str, Any]:
    rewrite = history.rewrite
    previous = history.previous
    feedback = rewrite.feedback if isinstance(rewrite.feedback, dict) else {}
    outcome = state_label("rewrite", str(feedback.get("outcome", "")))
    came_back = (
        f"Came back after revision {previous.revision} was {outcome or 'decided'}"
        if previous is not None
        else "Came back for a revision"
    )
    return {
        "h": history,
        "rewrite": rewrite,
        "key": f"revision-{rewrite.pk}",
        "html": render_markdown(rewrite.text),
        "languages": rewrite_language_names(rewrite),
        "diff_caption": f"Changes from revision {previous.revision}" if previous else "",
        "came_back": came_back,
    }
