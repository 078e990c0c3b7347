"""Provenance rules of model-assisted curation (issue 16) that do not depend on what the client
says: a recorded suggestion is sticky (a save with ``suggestion: null`` or without it keeps it;
only another suggestion of the assignment replaces it), a submitted text near one of the
assignment's suggestions is recorded as drafted from it even when it was pasted rather than
inserted, a returned revision's next one keeps its suggestion, and the edit distance is
measured up to a cap. The model is tests/fake_openai.py's server (the fixtures of
test_assist_drafts)."""

from typing import Any

from django.test import Client
from rapidfuzz.distance import Levenshtein

from annotation.models import DraftSuggestion, Event, Rewrite
from annotation.services import DraftInput, draft_save
from review.services import rewrite_return, rewrite_submit
from review.services.submission import EDIT_DISTANCE_MAX, near_suggestion_bound

from . import test_assist_drafts as drafts
from .conftest import GOOD_DRAFT, api_for, cast_panel
from .fake_openai import FakeOpenAI
from .test_assist_drafts import assist, draft_url

# test_assist_drafts's fixtures: the fake model's server (one for this module), the server with
# nothing recorded, a campaign with seeds.
server = drafts.server
fake = drafts.fake
world = drafts.world

API = "/api/v1/assignments"


def suggest(model: FakeOpenAI, assignment: Any, question: str) -> DraftSuggestion:
    """A suggestion of ``question`` for ``assignment``, asked of the fake ``model`` as the
    annotate page asks for one."""
    model.answers["draft"] = f"<question>\n{question}\n</question>"
    response = api_for(assignment.annotator).post(f"{API}/{assignment.pk}/suggestion/")
    assert response.status_code == 201, response.content
    suggestion = DraftSuggestion.objects.get(pk=response.json()["id"])
    assert suggestion.text == question
    return suggestion


def put(assignment: Any, version: int, **changes: Any) -> dict[str, Any]:
    response = api_for(assignment.annotator).put(
        draft_url(assignment), {**GOOD_DRAFT, **changes, "version": version}, format="json"
    )
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def submit(assignment: Any) -> Rewrite:
    response = api_for(assignment.annotator).post(f"{API}/{assignment.pk}/submit/")
    assert response.status_code == 200, response.content
    return Rewrite.objects.select_related("suggestion").get(pk=response.json()["id"])


def shown_provenance(assignment: Any) -> dict[str, Any]:
    body = api_for(assignment.annotator).get(f"{API}/{assignment.pk}/").json()
    provenance: dict[str, Any] = body["draft"]["provenance"]
    return provenance


QUESTION = (
    "Write a Python function `merge_intervals(xs)` that takes a list of (start, end) pairs "
    "and returns the overlapping ones merged, sorted by start."
)
OTHER_QUESTION = (
    "Explain the difference between a process and a thread in Go, with a small example of "
    "goroutines sharing a channel."
)
HUMAN_TEXT = (
    "How do I stream rows from PostgreSQL with psycopg without loading the whole table into "
    "memory, and close the cursor when the consumer stops early?"
)


# --- sticky: the client cannot clear a recorded suggestion ------------------------------------


def test_null_after_insert_keeps_the_suggestion(world, fake):
    assist(world, fake)
    assignment = world.claim()
    suggestion = suggest(fake, assignment, QUESTION)
    inserted = put(assignment, 0, text=QUESTION, suggestion=suggestion.pk)
    assert inserted["suggestion"] == suggestion.pk
    # The model's text, unchanged, sent with null: still the model's.
    kept = put(assignment, 1, text=QUESTION, suggestion=None)
    assert kept["suggestion"] == suggestion.pk
    assert kept["provenance"]["origin"] == "model_drafted"
    assert kept["provenance"]["model"] == "fake-good"
    # Left out: kept too.
    kept = put(assignment, 2, text=QUESTION + " Explain the complexity.")
    assert kept["suggestion"] == suggestion.pk
    assert Rewrite.objects.get(assignment=assignment).suggestion_id == suggestion.pk
    rewrite = submit(assignment)
    assert rewrite.suggestion_id == suggestion.pk
    assert rewrite.suggestion_edit_distance == len(" Explain the complexity.")
    assert shown_provenance(assignment) == {
        "origin": "model_drafted",
        "model": "fake-good",
        "prompt_version": "builtin-v1",
        "edit_distance": len(" Explain the complexity."),
    }


def test_another_suggestion_of_the_assignment_replaces_it(world, fake):
    assist(world, fake)
    assignment = world.claim()
    first = suggest(fake, assignment, QUESTION)
    second = suggest(fake, assignment, OTHER_QUESTION)
    put(assignment, 0, text=QUESTION, suggestion=first.pk)
    replaced = put(assignment, 1, text=OTHER_QUESTION, suggestion=second.pk)
    assert replaced["suggestion"] == second.pk
    # One of another assignment's is refused, and the stored one stays.
    theirs = world.claim(world.annotators[1])
    foreign = suggest(fake, theirs, QUESTION)
    response = api_for(assignment.annotator).put(
        draft_url(assignment),
        {**GOOD_DRAFT, "text": QUESTION, "suggestion": foreign.pk, "version": 2},
        format="json",
    )
    assert response.status_code == 400 and "suggestion" in response.json()["errors"]
    assert Rewrite.objects.get(assignment=assignment).suggestion_id == second.pk
    rewrite = submit(assignment)
    assert (rewrite.suggestion_id, rewrite.suggestion_edit_distance) == (second.pk, 0)


def test_a_draft_without_a_suggestion_stays_without_one_when_null_is_sent(world, fake):
    assist(world, fake)
    assignment = world.claim()
    suggest(fake, assignment, QUESTION)
    saved = put(assignment, 0, text=HUMAN_TEXT, suggestion=None)
    assert saved["suggestion"] is None and saved["provenance"]["origin"] == "human"


# --- at submit: a pasted suggestion is a model's text -----------------------------------------


def test_a_pasted_near_copy_is_recorded_as_model_drafted_at_submit(world, fake):
    assist(world, fake)
    assignment = world.claim()
    older = suggest(fake, assignment, QUESTION)
    suggest(fake, assignment, OTHER_QUESTION)  # the latest, further from the text
    # Copied from the panel and edited a little, never inserted: the client says null.
    pasted = QUESTION.replace("Python", "Rust").replace("sorted by start", "in order")
    saved = put(assignment, 0, text=pasted, suggestion=None)
    assert saved["suggestion"] is None  # nothing is claimed before submit
    distance = Levenshtein.distance(QUESTION, pasted)
    assert 0 < distance <= near_suggestion_bound(len(QUESTION), len(pasted))
    rewrite = submit(assignment)
    assert rewrite.suggestion_id == older.pk  # the nearest, not the latest
    assert rewrite.suggestion_edit_distance == distance
    assert shown_provenance(assignment) == {
        "origin": "model_drafted",
        "model": "fake-good",
        "prompt_version": "builtin-v1",
        "edit_distance": distance,
    }
    event = Event.objects.get(kind="rewrite.submitted", object_id=rewrite.pk)
    assert event.data["suggestion_matched"] == older.pk
    # The seed's item page says why a text nobody inserted counts as the model's.
    page = Client()
    page.force_login(world.curator)
    item = page.get(f"/campaigns/{world.campaign.slug}/items/{assignment.seed_id}/")
    assert "close to a model suggestion the annotator was shown" in item.content.decode()


def test_a_clearly_different_human_text_stays_human(world, fake):
    assist(world, fake)
    assignment = world.claim()
    suggest(fake, assignment, QUESTION)
    put(assignment, 0, text=HUMAN_TEXT)
    assert Levenshtein.distance(QUESTION, HUMAN_TEXT) > near_suggestion_bound(
        len(QUESTION), len(HUMAN_TEXT)
    )
    rewrite = submit(assignment)
    assert (rewrite.suggestion_id, rewrite.suggestion_edit_distance) == (None, None)
    assert shown_provenance(assignment)["origin"] == "human"
    event = Event.objects.get(kind="rewrite.submitted", object_id=rewrite.pk)
    assert "suggestion_matched" not in event.data


def test_the_rule_is_half_the_longer_text(world, fake):
    """Near means an edit distance of at most half the longer text: 50 of 100 characters is
    a model's text, 51 is a person's."""
    assist(world, fake)
    suggested = "a" * 100
    for text, expected in (("a" * 50 + "b" * 50, 50), ("a" * 49 + "b" * 51, None)):
        assignment = world.claim()
        suggestion = suggest(fake, assignment, suggested)
        world.draft(assignment, text=text)
        rewrite = rewrite_submit(assignment_id=assignment.pk, actor=assignment.annotator)
        rewrite.refresh_from_db()
        if expected is None:
            assert (rewrite.suggestion_id, rewrite.suggestion_edit_distance) == (None, None)
        else:
            assert (rewrite.suggestion_id, rewrite.suggestion_edit_distance) == (
                suggestion.pk,
                expected,
            )
    # A text twice as long as the suggestion (the distance at least its length) is far.
    assignment = world.claim()
    suggest(fake, assignment, "x" * 40)
    world.draft(assignment, text="x" * 40 + "y" * 41)
    rewrite = rewrite_submit(assignment_id=assignment.pk, actor=assignment.annotator)
    rewrite.refresh_from_db()
    assert rewrite.suggestion_id is None


def test_a_submit_without_suggestions_records_a_person(world, fake):
    assist(world, fake)
    rewrite = world.submitted()
    rewrite.refresh_from_db()
    assert (rewrite.suggestion_id, rewrite.suggestion_edit_distance) == (None, None)


# --- the revision loop -------------------------------------------------------------------------


def test_a_returned_revisions_next_revision_keeps_the_suggestion_when_null_is_sent(world, fake):
    assist(world, fake)
    assignment = world.claim()
    suggestion = suggest(fake, assignment, QUESTION)
    put(assignment, 0, text=QUESTION, suggestion=suggestion.pk)
    first = submit(assignment)
    cast_panel(first, ["invalid"] * 4)
    revision = rewrite_return(rewrite_id=first.pk, actor=world.curator, note="Be precise.")
    assert revision.text == QUESTION and revision.suggestion_id == suggestion.pk
    # The client sends null with the next save (as a page that never saw an insert would).
    edited = QUESTION + " Intervals may touch."
    saved = put(assignment, revision.version, text=edited, suggestion=None)
    assert saved["suggestion"] == suggestion.pk
    assert saved["provenance"]["origin"] == "model_drafted"
    second = submit(assignment)
    assert second.pk == revision.pk
    assert second.suggestion_id == suggestion.pk
    assert second.suggestion_edit_distance == len(" Intervals may touch.")


def test_a_returned_human_revision_stays_human(world, fake):
    assist(world, fake)
    assignment = world.claim()
    suggest(fake, assignment, QUESTION)
    put(assignment, 0, text=HUMAN_TEXT)
    first = submit(assignment)
    assert first.suggestion_id is None
    cast_panel(first, ["invalid"] * 4)
    revision = rewrite_return(rewrite_id=first.pk, actor=world.curator)
    put(assignment, revision.version, text=HUMAN_TEXT + " Show the code.", suggestion=None)
    second = submit(assignment)
    assert (second.suggestion_id, second.suggestion_edit_distance) == (None, None)


# --- the cap -----------------------------------------------------------------------------------


def test_the_cap_bounds_the_distance_of_an_inserted_suggestion(world, fake):
    """A 2.5M-character text against a 6,000-character suggestion: recorded as the cap + 1
    (the service has no length limit; the API's is 100,000 characters)."""
    assist(world, fake)
    assignment = world.claim()
    suggestion = suggest(fake, assignment, ("Sort the list. " * 400).strip())
    assert len(suggestion.text) > 5_900
    text = "Write a function that merges sorted lists. " * 58_140
    assert len(text) > 2_500_000
    draft_save(
        assignment_id=assignment.pk,
        actor=assignment.annotator,
        data=DraftInput(**{**GOOD_DRAFT, "text": text}, suggestion=suggestion.pk),
        version=0,
    )
    rewrite = rewrite_submit(assignment_id=assignment.pk, actor=assignment.annotator)
    rewrite.refresh_from_db()
    assert rewrite.suggestion_id == suggestion.pk
    assert rewrite.suggestion_edit_distance == EDIT_DISTANCE_MAX + 1


def test_a_text_too_far_to_measure_within_the_cap_is_a_persons(world, fake):
    """Nothing in common with the only suggestion, both long: no suggestion is near within the
    cap, so the text is a person's (the cap bounds the work, not the verdict)."""
    assist(world, fake)
    assignment = world.claim()
    suggest(fake, assignment, "ab" * 60_000)
    text = "cd" * 60_000
    world.draft(assignment, text=text)
    rewrite = rewrite_submit(assignment_id=assignment.pk, actor=assignment.annotator)
    rewrite.refresh_from_db()
    assert rewrite.suggestion_id is None and rewrite.suggestion_edit_distance is None
