"""The REST API over HTTP (DESIGN.md section 6): authentication, status codes, role and
campaign scoping, representations, the review loop, pagination, statistics, query counts and the
OpenAPI schema. Data is built with the World helpers, i.e. the same services the API calls."""

import json
import statistics
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
import tiktoken
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.crypto import get_random_string
from rest_framework.test import APIClient

from annotation.models import Assignment, Membership, Rewrite, Role, Seed
from annotation.services import (
    assignment_reject_seed,
    campaign_create,
    user_ensure,
)
from review.models import Ballot
from review.services import ballot_cast, membership_add, rewrite_return
from tests.conftest import GOOD_DRAFT, api_for, cast_panel

pytestmark = pytest.mark.django_db

API = "/api/v1"
PAGE_KEYS = {"count", "next", "previous", "results"}
FUNNEL_KEYS = {
    "seeds",
    "sampled",
    "assigned",
    "rewritten",
    "rejected_by_annotators",
    "submitted",
    "waiting_for_votes",
    "accepted",
    "rejected",
    "no_consensus",
    "returned",
    "contaminated",
}


# --- helpers ---------------------------------------------------------------------------------


def draft_body(version: int = 0, **changes: Any) -> dict[str, Any]:
    return {**GOOD_DRAFT, **changes, "version": version}


def assert_json_error(response: Any, status: int) -> dict[str, Any]:
    """The response has ``status`` and a JSON body with a non-empty human ``detail``."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body.get("detail"), str) and body["detail"].strip(), body
    return body


def panel(rewrite: Rewrite) -> list[Ballot]:
    return list(Ballot.objects.filter(rewrite=rewrite).select_related("reviewer").order_by("id"))


def campaign_endpoints(slug: str, active: Any, ballot: Any, rewrite: Any) -> list[tuple]:
    """Every campaign-scoped endpoint, as (method, url[, body]), for access-control sweeps."""
    return [
        ("get", f"{API}/campaigns/{slug}/assignments/"),
        ("post", f"{API}/campaigns/{slug}/assignments/next/"),
        ("get", f"{API}/assignments/{active.pk}/"),
        ("put", f"{API}/assignments/{active.pk}/draft/", draft_body(1, text="not yours")),
        ("post", f"{API}/assignments/{active.pk}/submit/"),
        ("post", f"{API}/assignments/{active.pk}/reject/", {"reason": "unclear"}),
        ("get", f"{API}/campaigns/{slug}/ballots/"),
        ("get", f"{API}/ballots/{ballot.pk}/"),
        ("post", f"{API}/ballots/{ballot.pk}/vote/", {"decision": "valid"}),
        ("get", f"{API}/campaigns/{slug}/rewrites/"),
        ("post", f"{API}/rewrites/{rewrite.pk}/return/", {"note": "x"}),
        ("get", f"{API}/campaigns/{slug}/stats/"),
    ]


def vote(ballot: Ballot, decision: str, reasons: list[str] | None = None, comment: str = ""):
    if reasons is None:
        reasons = [] if decision == "valid" else ["unclear"]
    return api_for(ballot.reviewer).post(
        f"{API}/ballots/{ballot.pk}/vote/",
        {"decision": decision, "reasons": reasons, "comment": comment},
        format="json",
    )


def request(client: APIClient, method: str, url: str, data: Any = None) -> Any:
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, data if data is not None else {}, format="json")


# --- authentication ----------------------------------------------------------------------------


def test_token_login_returns_a_token_that_works(world):
    user = world.annotators[0]
    client = APIClient()
    r = client.post(
        f"{API}/auth/token/",
        {"username": user.username, "password": "pw-" + user.username},
        format="json",
    )
    assert r.status_code == 200, r.content
    token = r.json()["token"]
    assert isinstance(token, str) and token

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    r = client.get(f"{API}/campaigns/")
    assert r.status_code == 200
    assert [c["slug"] for c in r.json()["results"]] == ["camp"]

    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_json_error(client.get(f"{API}/campaigns/"), 401)


def test_token_login_with_wrong_password_is_400_json(world):
    user = world.annotators[0]
    r = APIClient().post(
        f"{API}/auth/token/",
        {"username": user.username, "password": "not-the-password"},
        format="json",
    )
    body = assert_json_error(r, 400)
    assert "token" not in body


def test_anonymous_requests_get_401_with_token_challenge(world):
    world.add_seeds(3)
    rewrite = world.submitted()
    ballot = panel(rewrite)[0]
    active = world.claim(world.annotators[1])
    world.draft(active)
    slug = world.campaign.slug
    requests = [("get", f"{API}/campaigns/"), *campaign_endpoints(slug, active, ballot, rewrite)]
    anonymous = APIClient()
    for method, url, *data in requests:
        r = request(anonymous, method, url, *data)
        assert_json_error(r, 401)
        assert r.get("WWW-Authenticate", "").startswith("Token"), (method, url)
    # Nothing changed.
    active.refresh_from_db()
    assert active.status == Assignment.Status.ACTIVE
    assert Rewrite.objects.get(assignment=active).text == GOOD_DRAFT["text"]
    assert Assignment.objects.count() == 2
    assert not Ballot.objects.filter(status=Ballot.Status.CAST).exists()


def test_session_auth_enforces_csrf(world):
    world.add_seeds(2)
    user = world.annotators[0]
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=user.username, password="pw-" + user.username)
    url = f"{API}/campaigns/{world.campaign.slug}/assignments/next/"

    assert client.get(f"{API}/campaigns/").status_code == 200  # safe methods need no token
    body = assert_json_error(client.post(url), 403)
    assert "csrf" in body["detail"].lower()
    assert not Assignment.objects.exists()

    # The same session with a matching CSRF cookie and header is accepted.
    token = get_random_string(32)
    client.cookies[settings.CSRF_COOKIE_NAME] = token
    r = client.post(url, HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 201, r.content
    assert Assignment.objects.filter(annotator=user).count() == 1


# --- campaigns ---------------------------------------------------------------------------------


def test_campaign_list_shows_only_my_campaigns_with_my_roles(world, make_world):
    other = make_world(slug="other")
    make_world(slug="third")  # the user is not a member of this one
    user = world.annotators[0]
    membership_add(campaign=world.campaign, user=user, role=Role.REVIEWER)
    membership_add(campaign=other.campaign, user=user, role=Role.CURATOR)

    r = api_for(user).get(f"{API}/campaigns/")
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= PAGE_KEYS
    assert body["count"] == 2
    by_slug = {c["slug"]: c for c in body["results"]}
    assert set(by_slug) == {"camp", "other"}
    assert sorted(by_slug["camp"]["roles"]) == ["annotator", "reviewer"]
    assert by_slug["camp"]["role"] == "reviewer"
    assert by_slug["other"]["roles"] == ["curator"]
    assert by_slug["other"]["role"] == "curator"

    r = api_for(world.reviewers[0]).get(f"{API}/campaigns/")
    [only] = r.json()["results"]
    assert (only["slug"], only["roles"], only["role"]) == ("camp", ["reviewer"], "reviewer")


# --- annotator flow ----------------------------------------------------------------------------


def test_claim_next_returns_the_assignment_then_204_when_nothing_is_left(world):
    world.add_seeds(
        1, title="Chunking lists", answer="Use slicing.", source_url="https://example.com/q/1"
    )
    client = api_for(world.annotators[0])
    url = f"{API}/campaigns/{world.campaign.slug}/assignments/next/"

    r = client.post(url)
    assert r.status_code == 201, r.content
    body = r.json()
    assert {"id", "status", "lease_expires_at", "seed", "draft", "feedback"} <= set(body)
    assignment = Assignment.objects.get(pk=body["id"])
    assert assignment.annotator == world.annotators[0]
    assert body["status"] == "active"
    lease = datetime.fromisoformat(body["lease_expires_at"].replace("Z", "+00:00"))
    assert lease > timezone.now()

    seed = Seed.objects.get(pk=assignment.seed_id)
    assert body["seed"] == {
        **body["seed"],
        "id": seed.pk,
        "external_id": "s0",
        "title": "Chunking lists",
        "text": seed.body,
        "answer": "Use slicing.",
        "source_url": "https://example.com/q/1",
        "subcategory": "Algorithm Design and Implementation",
        "category": "Development and Programming",
    }
    draft = body["draft"]
    assert {
        "text",
        "difficulty",
        "programming_languages",
        "natural_language",
        "subcategory",
        "checklist",
        "version",
    } <= set(draft)
    assert draft["version"] == 0
    assert draft["text"] == ""
    assert draft["programming_languages"] == []
    assert draft["checklist"] == {"clear": False, "ethical": False, "solvable": False}
    assert body["feedback"] is None

    r = client.post(url)
    assert r.status_code == 204
    assert r.content == b""
    assert Assignment.objects.count() == 1


def test_draft_save_versions_and_stale_save_is_409_changing_nothing(world):
    world.add_seeds(1)
    assignment = world.claim()
    client = api_for(world.annotators[0])
    url = f"{API}/assignments/{assignment.pk}/draft/"

    r = client.put(url, draft_body(0, text="first"), format="json")
    assert r.status_code == 200, r.content
    assert (r.json()["version"], r.json()["text"]) == (1, "first")
    r = client.put(url, draft_body(1, text="newer"), format="json")
    assert r.status_code == 200, r.content
    assert r.json()["version"] == 2

    for stale in (1, 0, 7):
        r = client.put(url, draft_body(stale, text=f"stale {stale}"), format="json")
        body = assert_json_error(r, 409)
        assert body["code"] == "stale_version"
        assert body["current_version"] == 2

    r = client.get(f"{API}/assignments/{assignment.pk}/")
    assert r.status_code == 200
    assert (r.json()["draft"]["text"], r.json()["draft"]["version"]) == ("newer", 2)
    assert Rewrite.objects.get(assignment=assignment).text == "newer"


def test_submit_incomplete_draft_is_400_naming_every_missing_field(world):
    world.add_seeds(1)
    assignment = world.claim()
    client = api_for(world.annotators[0])
    r = client.put(
        f"{API}/assignments/{assignment.pk}/draft/",
        {"text": "Only text so far.", "checklist": {"clear": True}, "version": 0},
        format="json",
    )
    assert r.status_code == 200, r.content

    body = assert_json_error(client.post(f"{API}/assignments/{assignment.pk}/submit/"), 400)
    errors = body["errors"]
    assert set(errors) == {
        "difficulty",
        "programming_languages",
        "natural_language",
        "subcategory",
        "checklist",
    }
    checklist_problems = " ".join(errors["checklist"])
    assert "ethical" in checklist_problems and "solvable" in checklist_problems
    assert "clear" not in checklist_problems
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ACTIVE
    assert Rewrite.objects.get(assignment=assignment).status == Rewrite.Status.DRAFT
    assert not Ballot.objects.exists()


def test_submit_without_any_draft_names_every_missing_field(world):
    world.add_seeds(1)
    assignment = world.claim()
    r = api_for(world.annotators[0]).post(f"{API}/assignments/{assignment.pk}/submit/")
    body = assert_json_error(r, 400)
    assert set(body["errors"]) == {
        "text",
        "difficulty",
        "programming_languages",
        "natural_language",
        "subcategory",
        "checklist",
    }
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ACTIVE


def test_submit_complete_draft_then_tokens_are_counted(world, django_capture_on_commit_callbacks):
    world.add_seeds(1)
    assignment = world.claim()
    client = api_for(world.annotators[0])
    r = client.put(f"{API}/assignments/{assignment.pk}/draft/", draft_body(0), format="json")
    assert r.status_code == 200, r.content

    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"{API}/assignments/{assignment.pk}/submit/")
    assert r.status_code == 200, r.content
    submitted = r.json()
    rewrite = Rewrite.objects.get(assignment=assignment)
    # Submit answers with the rewrite it created (DESIGN.md: "-> rewrite (status submitted)").
    assert (submitted["id"], submitted["status"], submitted["revision"]) == (
        rewrite.pk,
        "submitted",
        1,
    )
    assert submitted["assignment"] == assignment.pk
    assert submitted["text"] == GOOD_DRAFT["text"]
    assert submitted["programming_languages"] == ["python"]
    assert submitted["panel"] == {"panel_size": 4, "seated": 4}

    r = client.get(f"{API}/assignments/{assignment.pk}/")
    tokens = r.json()["draft"]["question_tokens"]
    expected = len(tiktoken.get_encoding(world.campaign.tokenizer).encode(GOOD_DRAFT["text"]))
    assert isinstance(tokens, int) and tokens > 0
    assert tokens == expected
    rewrite = Rewrite.objects.get(assignment=assignment)
    assert len(panel(rewrite)) == world.campaign.panel_size

    # Submitting twice, or editing after submitting, is a conflict that changes nothing.
    assert_json_error(client.post(f"{API}/assignments/{assignment.pk}/submit/"), 409)
    r = client.put(
        f"{API}/assignments/{assignment.pk}/draft/", draft_body(1, text="late edit"), format="json"
    )
    assert_json_error(r, 409)
    assert Rewrite.objects.filter(assignment=assignment).count() == 1
    assert rewrite.text == Rewrite.objects.get(pk=rewrite.pk).text == GOOD_DRAFT["text"]


def test_reject_seed_with_reason_and_unknown_reason(world):
    world.add_seeds(2)
    first = world.claim()
    second = world.claim()
    client = api_for(world.annotators[0])

    r = client.post(
        f"{API}/assignments/{first.pk}/reject/",
        {"reason": "duplicate", "note": "Same as s7."},
        format="json",
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "rejected"
    assert (body["reject_reason"], body["reject_note"]) == ("duplicate", "Same as s7.")
    first.refresh_from_db()
    assert (first.status, first.reject_reason) == ("rejected", "duplicate")
    assert Seed.objects.get(pk=first.seed_id).status == Seed.Status.DONE

    r = client.post(
        f"{API}/assignments/{second.pk}/reject/", {"reason": "boring", "note": ""}, format="json"
    )
    body = assert_json_error(r, 400)
    assert "reason" in body["errors"]
    second.refresh_from_db()
    assert second.status == Assignment.Status.ACTIVE


def test_vocabulary_aliases_and_short_names_are_stored_canonically(world):
    world.add_seeds(1)
    assignment = world.claim()
    client = api_for(world.annotators[0])
    url = f"{API}/assignments/{assignment.pk}/draft/"

    r = client.put(
        url,
        draft_body(0, programming_languages=["py", "C++", "TypeScript"], subcategory="algorithm"),
        format="json",
    )
    assert r.status_code == 200, r.content
    d = r.json()
    assert d["programming_languages"] == ["python", "c++", "ts"]
    assert d["subcategory"] == "Algorithm Design and Implementation"
    assert d["category"] == "Development and Programming"

    r = client.put(
        url,
        draft_body(1, programming_languages=["cpp", "PYTHON"], subcategory="code DEBUGGING"),
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["programming_languages"] == ["c++", "python"]
    assert r.json()["subcategory"] == "Code Debugging"

    r = client.put(url, draft_body(2, subcategory="DEBUG", natural_language="zh"), format="json")
    assert r.status_code == 200, r.content
    assert (r.json()["subcategory"], r.json()["natural_language"]) == ("Code Debugging", "zh")

    detail = client.get(f"{API}/assignments/{assignment.pk}/").json()["draft"]
    assert detail["programming_languages"] == ["python"]
    assert detail["subcategory"] == "Code Debugging"

    r = client.put(
        url,
        draft_body(3, programming_languages=["klingon"], subcategory="No such thing"),
        format="json",
    )
    body = assert_json_error(r, 400)
    assert {"programming_languages", "subcategory"} <= set(body["errors"])
    assert Rewrite.objects.get(assignment=assignment).version == 3


# --- roles -------------------------------------------------------------------------------------


def test_wrong_role_is_403(world):
    world.add_seeds(3)
    pending = world.submitted(world.annotators[0])
    ballot = panel(pending)[0]
    split = world.submitted(world.annotators[1])
    cast_panel(split, ["valid", "valid", "invalid", "invalid"])
    slug = world.campaign.slug
    annotator = api_for(world.annotators[2])
    reviewer = api_for(world.reviewers[0])

    assert_json_error(annotator.get(f"{API}/campaigns/{slug}/ballots/"), 403)
    assert_json_error(annotator.get(f"{API}/ballots/{ballot.pk}/"), 403)
    r = annotator.post(f"{API}/ballots/{ballot.pk}/vote/", {"decision": "valid"}, format="json")
    assert_json_error(r, 403)
    # The author of the rewrite is an annotator too: no peeking at the ballots of their rewrite.
    assert_json_error(api_for(world.annotators[0]).get(f"{API}/ballots/{ballot.pk}/"), 403)

    assert_json_error(reviewer.post(f"{API}/campaigns/{slug}/assignments/next/"), 403)
    assert Assignment.objects.count() == 2

    for client in (annotator, reviewer):
        assert_json_error(client.get(f"{API}/campaigns/{slug}/rewrites/"), 403)
        r = client.post(f"{API}/rewrites/{split.pk}/return/", {"note": "again"}, format="json")
        assert_json_error(r, 403)
        assert_json_error(client.get(f"{API}/campaigns/{slug}/stats/"), 403)

    ballot.refresh_from_db()
    split.refresh_from_db()
    assert ballot.status == Ballot.Status.PENDING
    assert split.status == Rewrite.Status.NO_CONSENSUS


def test_reviewer_not_on_the_panel_gets_404(world):
    world.add_seeds(1)
    rewrite = world.submitted()
    ballots = panel(rewrite)
    seated = {b.reviewer_id for b in ballots}
    [outsider] = [r for r in world.reviewers if r.pk not in seated]
    client = api_for(outsider)

    for ballot in ballots:
        assert_json_error(client.get(f"{API}/ballots/{ballot.pk}/"), 404)
        r = client.post(f"{API}/ballots/{ballot.pk}/vote/", {"decision": "valid"}, format="json")
        assert_json_error(r, 404)
    r = client.get(f"{API}/campaigns/{world.campaign.slug}/ballots/?status=all")
    assert r.json()["results"] == []
    assert not Ballot.objects.filter(status=Ballot.Status.CAST).exists()


def test_reviewer_never_gets_a_ballot_for_their_own_rewrite(world):
    dual = world.annotators[0]
    membership_add(campaign=world.campaign, user=dual, role=Role.REVIEWER)
    world.add_seeds(3)
    others = world.submitted(world.annotators[1])
    client = api_for(dual)
    slug = world.campaign.slug

    r = client.post(f"{API}/campaigns/{slug}/assignments/next/")
    assert r.status_code == 201, r.content
    assignment_id = r.json()["id"]
    r = client.put(f"{API}/assignments/{assignment_id}/draft/", draft_body(0), format="json")
    assert r.status_code == 200, r.content
    r = client.post(f"{API}/assignments/{assignment_id}/submit/")
    assert r.status_code == 200, r.content

    own = Rewrite.objects.get(assignment_id=assignment_id)
    own_panel = panel(own)
    assert len(own_panel) == world.campaign.panel_size  # five other reviewers are available
    assert dual.pk not in {b.reviewer_id for b in own_panel}

    listed = client.get(f"{API}/campaigns/{slug}/ballots/?status=all").json()["results"]
    assert listed, "the dual-role user should review someone else's rewrite"
    assert {b["rewrite"]["id"] for b in listed} == {others.pk}
    for ballot in own_panel:
        assert_json_error(client.get(f"{API}/ballots/{ballot.pk}/"), 404)


# --- blind review, votes, decisions, the revision loop -----------------------------------------


def test_ballot_is_blind_until_the_reviewer_votes(world):
    world.add_seeds(1)
    author = world.annotators[0].username
    rewrite = world.submitted(world.annotators[0])
    first, second, third, _fourth = panel(rewrite)
    assert vote(first, "valid", comment="Clear enough.").status_code == 200

    client = api_for(second.reviewer)
    r = client.get(f"{API}/ballots/{second.pk}/")
    assert r.status_code == 200
    body = r.json()
    assert {"id", "status", "rewrite", "seed", "contamination"} <= set(body)
    assert body["status"] == "pending"
    assert body["rewrite"]["text"] == GOOD_DRAFT["text"]
    assert body["rewrite"]["revision"] == 1
    assert body["rewrite"]["programming_languages"] == ["python"]
    assert "question_tokens" in body["rewrite"]
    assert body["seed"]["external_id"] == "s0"
    assert isinstance(body["contamination"], list)
    assert not {"tally", "votes", "author"} & set(body)
    text = r.content.decode()
    assert author not in text
    assert "Clear enough." not in text
    assert first.reviewer.username not in text

    listed = client.get(f"{API}/campaigns/{world.campaign.slug}/ballots/")
    [item] = listed.json()["results"]
    assert item["id"] == second.pk
    assert not {"tally", "votes", "author"} & set(item)
    assert author not in listed.content.decode()

    r = vote(second, "invalid", ["not_self_contained"], "Which n?")
    assert r.status_code == 200, r.content
    for after in (r.json(), client.get(f"{API}/ballots/{second.pk}/").json()):
        assert after["status"] == "cast"
        assert after["author"] == author
        cast = Ballot.objects.filter(rewrite=rewrite, status=Ballot.Status.CAST)
        assert after["tally"]["valid"] == cast.filter(decision="valid").count() == 1
        assert after["tally"]["invalid"] == cast.filter(decision="invalid").count() == 1
        assert len(after["votes"]) == 2
        assert sorted(v["comment"] for v in after["votes"]) == ["Clear enough.", "Which n?"]

    still_blind = api_for(third.reviewer).get(f"{API}/ballots/{third.pk}/")
    assert not {"tally", "votes", "author"} & set(still_blind.json())
    assert author not in still_blind.content.decode()


def test_repeated_vote_is_409_and_counted_once(world):
    world.add_seeds(1)
    rewrite = world.submitted()
    ballot = panel(rewrite)[0]
    assert vote(ballot, "valid").status_code == 200
    r = vote(ballot, "invalid", ["unclear"], "changed my mind")
    assert_json_error(r, 409)
    cast = Ballot.objects.filter(rewrite=rewrite, status=Ballot.Status.CAST)
    assert cast.count() == 1
    assert cast.get().decision == "valid"
    assert Ballot.objects.filter(rewrite=rewrite).count() == world.campaign.panel_size


def test_four_votes_accept_and_curator_lists_it(world):
    world.add_seeds(2)
    rewrite = world.submitted()
    world.submitted(world.annotators[1])  # stays under review
    ballots = panel(rewrite)
    for ballot, decision in zip(ballots, ["valid", "invalid", "valid", "valid"], strict=True):
        r = vote(ballot, decision, None if decision == "valid" else ["wrong_tags"], "ok")
        assert r.status_code == 200, r.content
    rewrite.refresh_from_db()
    assert rewrite.status == Rewrite.Status.ACCEPTED

    curator = api_for(world.curator)
    url = f"{API}/campaigns/{world.campaign.slug}/rewrites/"
    r = curator.get(url + "?status=accepted")
    assert r.status_code == 200
    [item] = r.json()["results"]
    assert (item["id"], item["status"]) == (rewrite.pk, "accepted")
    assert (item["tally"]["valid"], item["tally"]["invalid"]) == (3, 1)
    submitted = curator.get(url + "?status=submitted").json()["results"]
    assert rewrite.pk not in {i["id"] for i in submitted}
    assert len(submitted) == 1
    assert curator.get(url).json()["count"] == 2
    body = assert_json_error(curator.get(url + "?status=bogus"), 400)
    assert "status" in json.dumps(body)

    # The author sees the outcome, never the individual votes or who cast them.
    r = api_for(rewrite.author).get(f"{API}/assignments/{rewrite.assignment_id}/")
    assert r.json()["draft"]["status"] == "accepted"
    assert not {"tally", "votes"} & set(r.json())
    for ballot in ballots:
        assert ballot.reviewer.username not in r.content.decode()


def test_split_panel_is_no_consensus_and_return_sends_feedback_without_names(world):
    world.add_seeds(1)
    author = world.annotators[0]
    rewrite = world.submitted(author)
    comments = ["Too vague about n.", "Looks fine.", "Say what the input is.", "Good."]
    decisions = ["invalid", "valid", "invalid", "valid"]
    for ballot, decision, comment in zip(panel(rewrite), decisions, comments, strict=True):
        assert vote(ballot, decision, comment=comment).status_code == 200
    rewrite.refresh_from_db()
    assert rewrite.status == Rewrite.Status.NO_CONSENSUS

    curator = api_for(world.curator)
    listed = curator.get(f"{API}/campaigns/{world.campaign.slug}/rewrites/?status=no_consensus")
    assert [i["id"] for i in listed.json()["results"]] == [rewrite.pk]

    note = "Please state what n is and give an example."
    r = curator.post(f"{API}/rewrites/{rewrite.pk}/return/", {"note": note}, format="json")
    assert r.status_code == 201, r.content
    rewrite.refresh_from_db()
    assert rewrite.status == Rewrite.Status.RETURNED

    r = api_for(author).get(f"{API}/assignments/{rewrite.assignment_id}/")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "active"
    assert body["draft"]["revision"] == 2
    assert body["draft"]["text"] == rewrite.text
    feedback = json.dumps(body["feedback"])
    assert note in feedback
    for comment in comments:
        assert comment in feedback
    text = r.content.decode()
    for reviewer in world.reviewers:
        assert reviewer.username not in text

    # A returned revision cannot be returned again.
    r = curator.post(f"{API}/rewrites/{rewrite.pk}/return/", {"note": "again"}, format="json")
    assert_json_error(r, 409)

    # The author revises and resubmits; the new revision is voted on afresh.
    client = api_for(author)
    version = body["draft"]["version"]
    r = client.put(
        f"{API}/assignments/{rewrite.assignment_id}/draft/",
        draft_body(version, text="Write chunks(xs, n) for n >= 1; e.g. chunks([1,2,3], 2)."),
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["version"] == version + 1
    r = client.post(f"{API}/assignments/{rewrite.assignment_id}/submit/")
    assert r.status_code == 200, r.content
    revised = Rewrite.objects.get(assignment_id=rewrite.assignment_id, revision=2)
    assert revised.status == Rewrite.Status.SUBMITTED
    fresh = panel(revised)
    assert len(fresh) == world.campaign.panel_size
    assert all(b.status == Ballot.Status.PENDING for b in fresh)
    assert Ballot.objects.filter(rewrite=rewrite, status=Ballot.Status.CAST).count() == 4


def test_returning_an_accepted_rewrite_is_409(world):
    world.add_seeds(1)
    rewrite = world.submitted()
    cast_panel(rewrite, ["valid"] * 4)
    r = api_for(world.curator).post(
        f"{API}/rewrites/{rewrite.pk}/return/", {"note": "no"}, format="json"
    )
    assert_json_error(r, 409)
    rewrite.refresh_from_db()
    assert rewrite.status == Rewrite.Status.ACCEPTED
    assert Rewrite.objects.filter(assignment_id=rewrite.assignment_id).count() == 1


# --- scoping -----------------------------------------------------------------------------------


def test_members_of_another_campaign_get_404_everywhere(world, make_world):
    other = make_world(slug="other")
    world.add_seeds(4)
    rewrite = world.submitted(world.annotators[0])
    ballot = panel(rewrite)[0]
    split = world.submitted(world.annotators[1])
    cast_panel(split, ["valid", "invalid", "valid", "invalid"])
    active = world.claim(world.annotators[2])
    world.draft(active, text="mine")
    slug = world.campaign.slug
    assignments_before = Assignment.objects.filter(campaign=world.campaign).count()
    requests = campaign_endpoints(slug, active, ballot, split)
    for outsider in (other.annotators[0], other.reviewers[0], other.curator):
        client = api_for(outsider)
        for method, url, *data in requests:
            r = request(client, method, url, *data)
            assert r.status_code == 404, (outsider.username, method, url, r.status_code)
            assert_json_error(r, 404)

    active.refresh_from_db()
    assert active.status == Assignment.Status.ACTIVE
    draft = Rewrite.objects.get(assignment=active)
    assert (draft.text, draft.version) == ("mine", 1)
    ballot.refresh_from_db()
    assert ballot.status == Ballot.Status.PENDING
    split.refresh_from_db()
    assert split.status == Rewrite.Status.NO_CONSENSUS
    assert Assignment.objects.filter(campaign=world.campaign).count() == assignments_before


def test_another_annotator_of_the_same_campaign_gets_404_on_my_assignment(world):
    world.add_seeds(1)
    mine = world.claim(world.annotators[0])
    world.draft(mine, text="mine")
    client = api_for(world.annotators[1])
    for method, url, *data in [
        ("get", f"{API}/assignments/{mine.pk}/"),
        ("put", f"{API}/assignments/{mine.pk}/draft/", draft_body(1, text="theirs")),
        ("post", f"{API}/assignments/{mine.pk}/submit/"),
        ("post", f"{API}/assignments/{mine.pk}/reject/", {"reason": "unclear"}),
    ]:
        assert_json_error(request(client, method, url, *data), 404)
    mine.refresh_from_db()
    assert mine.status == Assignment.Status.ACTIVE
    assert Rewrite.objects.get(assignment=mine).text == "mine"
    listed = client.get(f"{API}/campaigns/{world.campaign.slug}/assignments/").json()
    assert listed["results"] == []


# --- errors ------------------------------------------------------------------------------------


def test_errors_are_json_with_a_human_detail(world):
    world.add_seeds(1)
    assignment = world.claim()
    annotator = api_for(world.annotators[0])
    reviewer = api_for(world.reviewers[0])
    curator = api_for(world.curator)

    assert_json_error(annotator.get(f"{API}/assignments/999999/"), 404)
    assert_json_error(annotator.post(f"{API}/assignments/999999/submit/"), 404)
    assert_json_error(reviewer.get(f"{API}/ballots/999999/"), 404)
    r = curator.post(f"{API}/rewrites/999999/return/", {"note": ""}, format="json")
    assert_json_error(r, 404)
    assert_json_error(curator.get(f"{API}/campaigns/no-such-campaign/stats/"), 404)

    url = f"{API}/assignments/{assignment.pk}/draft/"
    r = annotator.put(url, data="{not json", content_type="application/json")
    assert_json_error(r, 400)
    body = {k: v for k, v in draft_body(0).items() if k != "version"}
    r = annotator.put(url, body, format="json")
    assert "version" in assert_json_error(r, 400)["errors"]
    r = annotator.put(url, draft_body(0, difficulty="impossible"), format="json")
    assert "difficulty" in assert_json_error(r, 400)["errors"]
    assert not Rewrite.objects.exists()

    world.draft(assignment)
    r = annotator.post(f"{API}/assignments/{assignment.pk}/submit/")
    assert r.status_code == 200, r.content
    ballot = Ballot.objects.filter(reviewer=world.reviewers[0]).get()
    r = reviewer.post(f"{API}/ballots/{ballot.pk}/vote/", {"decision": "maybe"}, format="json")
    assert "decision" in assert_json_error(r, 400)["errors"]
    r = reviewer.post(
        f"{API}/ballots/{ballot.pk}/vote/",
        {"decision": "invalid", "reasons": ["too_long"]},
        format="json",
    )
    assert "reasons" in assert_json_error(r, 400)["errors"]
    ballot.refresh_from_db()
    assert ballot.status == Ballot.Status.PENDING


# --- pagination --------------------------------------------------------------------------------


def test_lists_are_paginated_with_page_size(world):
    world.add_seeds(5)
    for _ in range(5):
        world.claim(world.annotators[0])
    client = api_for(world.annotators[0])
    url = f"{API}/campaigns/{world.campaign.slug}/assignments/"

    body = client.get(url).json()
    assert set(body) >= PAGE_KEYS
    assert (body["count"], len(body["results"])) == (5, 5)
    assert body["next"] is None and body["previous"] is None

    first = client.get(url + "?page_size=2").json()
    assert (first["count"], len(first["results"])) == (5, 2)
    assert first["previous"] is None and "page=2" in first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 2 and second["previous"]
    third = client.get(second["next"]).json()
    assert len(third["results"]) == 1 and third["next"] is None
    ids = [a["id"] for page in (first, second, third) for a in page["results"]]
    assert sorted(ids) == sorted(
        Assignment.objects.filter(annotator=world.annotators[0]).values_list("pk", flat=True)
    )

    world.add_seeds(1, start=5)
    world.submitted(world.annotators[1])
    for client_, list_url in [
        (api_for(world.reviewers[0]), f"{API}/campaigns/{world.campaign.slug}/ballots/"),
        (api_for(world.curator), f"{API}/campaigns/{world.campaign.slug}/rewrites/"),
        (api_for(world.curator), f"{API}/campaigns/"),
    ]:
        assert set(client_.get(list_url).json()) >= PAGE_KEYS, list_url


def test_page_size_is_capped_at_500(db):
    user = user_ensure(username="many", password="pw-many")
    for i in range(501):
        campaign = campaign_create(slug=f"c{i:03d}", name=f"C {i}", taxonomy=None)
        membership_add(campaign=campaign, user=user, role=Role.ANNOTATOR)
    client = api_for(user)
    body = client.get(f"{API}/campaigns/?page_size=1000").json()
    assert body["count"] == 501
    assert len(body["results"]) == 500
    assert body["next"] is not None
    rest = client.get(body["next"]).json()
    assert [c["slug"] for c in rest["results"]] == ["c500"]


# --- statistics --------------------------------------------------------------------------------


def fleiss_kappa_of(rows: list[tuple[int, int]]) -> float:
    """Fleiss' kappa written out again here, so the test does not trust the app's version."""
    raters = sum(rows[0])
    subjects = len(rows)
    share = [sum(row[j] for row in rows) / (subjects * raters) for j in (0, 1)]
    agreement = [(sum(c * c for c in row) - raters) / (raters * (raters - 1)) for row in rows]
    p_bar = sum(agreement) / subjects
    p_e = sum(p * p for p in share)
    return (p_bar - p_e) / (1 - p_e)


def test_stats_match_counts_computed_from_the_database(world, django_capture_on_commit_callbacks):
    campaign = world.campaign
    ann = world.annotators
    world.add_seeds(8)
    world.add_seeds(2, start=8, sample=False)  # stay in the pool
    with django_capture_on_commit_callbacks(execute=True):
        accepted = world.submitted(ann[0])
        accepted_too = world.submitted(
            ann[1],
            text="Why does my C++ loop `for (auto x : v)` copy every element? Fix it.",
            difficulty="hard",
            programming_languages=["cpp", "py"],
            natural_language="zh",
            subcategory="Debug",
        )
        rejected = world.submitted(ann[2])
        split = world.submitted(ann[3])
        waiting = world.submitted(ann[0])
    drafting = world.claim(ann[1])
    world.draft(drafting)
    refused = world.claim(ann[2])
    assignment_reject_seed(assignment_id=refused.pk, actor=ann[2], reason="off_topic")
    cast_panel(accepted, ["valid", "valid", "invalid", "valid"])
    cast_panel(accepted_too, ["valid"] * 4)
    cast_panel(rejected, ["invalid"] * 4)
    cast_panel(split, ["valid", "invalid", "invalid", "valid"])
    rewrite_return(rewrite_id=split.pk, actor=world.curator, note="Try again.")

    r = api_for(world.curator).get(f"{API}/campaigns/{campaign.slug}/stats/")
    assert r.status_code == 200, r.content
    stats = r.json()

    # Funnel: the script's numbers, and the same numbers counted straight from the tables.
    funnel = stats["funnel"]
    assert set(funnel) >= FUNNEL_KEYS
    seeds = list(Seed.objects.filter(campaign=campaign))
    rewrites = list(Rewrite.objects.filter(campaign=campaign))
    assignments = list(Assignment.objects.filter(campaign=campaign))
    by_status = Counter(r.status for r in rewrites)
    from_db = {
        "seeds": len(seeds),
        "sampled": sum(s.status != "pooled" for s in seeds),
        "assigned": sum(s.status in ("assigned", "done") for s in seeds),
        "rewritten": len({r.seed_id for r in rewrites if r.status != "draft"}),
        "rejected_by_annotators": len({a.seed_id for a in assignments if a.status == "rejected"}),
        "submitted": sum(r.status != "draft" for r in rewrites),
        "waiting_for_votes": by_status["submitted"],
        "accepted": by_status["accepted"],
        "rejected": by_status["rejected"],
        "no_consensus": by_status["no_consensus"],
        "returned": by_status["returned"],
        "contaminated": 0,
    }
    scripted = {
        "seeds": 10,
        "sampled": 8,
        "assigned": 7,
        "rewritten": 5,
        "rejected_by_annotators": 1,
        "submitted": 5,
        "waiting_for_votes": 1,
        "accepted": 2,
        "rejected": 1,
        "no_consensus": 0,
        "returned": 1,
        "contaminated": 0,
    }
    assert from_db == scripted
    assert {k: funnel[k] for k in FUNNEL_KEYS} == scripted

    # Distributions over accepted rewrites.
    accepted_rows = list(
        Rewrite.objects.filter(campaign=campaign, status="accepted")
        .select_related("subcategory__category")
        .prefetch_related("language_links__language")
    )
    assert {r.pk for r in accepted_rows} == {accepted.pk, accepted_too.pk}

    def nonzero(counts: dict[str, int]) -> dict[str, int]:
        return {k: v for k, v in counts.items() if v}

    assert nonzero(stats["categories"]) == dict(
        Counter(r.subcategory.category.name for r in accepted_rows)
    )
    assert nonzero(stats["subcategories"]) == dict(
        Counter(r.subcategory.name for r in accepted_rows)
    )
    assert nonzero(stats["subcategories"]) == {
        "Algorithm Design and Implementation": 1,
        "Code Debugging": 1,
    }
    assert nonzero(stats["difficulty"]) == dict(Counter(r.difficulty for r in accepted_rows))
    assert nonzero(stats["difficulty"]) == {"easy": 1, "hard": 1}
    assert nonzero(stats["programming_languages"]) == {"python": 2, "c++": 1}
    assert nonzero(stats["natural_languages"]) == {"en": 1, "zh": 1}

    tokens = sorted(r.question_tokens for r in accepted_rows)
    assert all(isinstance(t, int) and t > 0 for t in tokens)
    summary = stats["question_tokens"]
    assert (summary["min"], summary["max"]) == (tokens[0], tokens[-1])
    assert summary["mean"] == pytest.approx(statistics.fmean(tokens), abs=0.01)
    assert summary["median"] == pytest.approx(statistics.median(tokens))

    # Agreement over every fully voted panel (decided or returned revisions).
    rows = []
    for rewrite in (accepted, accepted_too, rejected, split):
        decisions = Counter(b.decision for b in panel(rewrite))
        rows.append((decisions["valid"], decisions["invalid"]))
    assert stats["agreement"]["fleiss_kappa"] == pytest.approx(fleiss_kappa_of(rows), abs=1e-3)

    # People.
    people = stats["people"]
    annotators = {p["username"]: p for p in people["annotators"]}
    assert set(annotators) == {a.username for a in ann}
    for user in ann:
        mine = [a for a in assignments if a.annotator_id == user.pk]
        row = annotators[user.username]
        assert row["assigned"] == len(mine)
        assert row["submitted"] == sum(a.status == "submitted" for a in mine)
        assert row["rejected_seeds"] == sum(a.status == "rejected" for a in mine)
        assert row["accepted"] == sum(
            r.status == "accepted" and r.author_id == user.pk for r in rewrites
        )
    reviewers = {p["username"]: p for p in people["reviewers"]}
    assert set(reviewers) == {r.username for r in world.reviewers}
    ballots = list(Ballot.objects.filter(campaign=campaign))
    for user in world.reviewers:
        mine = [b for b in ballots if b.reviewer_id == user.pk]
        assert reviewers[user.username]["pending"] == sum(b.status == "pending" for b in mine)
        assert reviewers[user.username]["cast"] == sum(b.status == "cast" for b in mine)
    assert Rewrite.objects.get(pk=waiting.pk).status == Rewrite.Status.SUBMITTED


# --- query counts ------------------------------------------------------------------------------


def build_rows(make_world: Any, n: int) -> Any:
    """A campaign with ``n`` rows in every list: ``n`` submitted rewrites by one annotator (a
    third accepted, a third with one vote, a third untouched) plus one claimed seed without a
    draft; four reviewers, so each sits on every panel; a user who belongs to ``n`` campaigns."""
    world = make_world(slug=f"rows{n}", reviewers=4)
    world.add_seeds(n + 1)
    for i in range(n):
        rewrite = world.submitted(world.annotators[0])
        if i % 3 == 0:
            cast_panel(rewrite, ["valid", "valid", "invalid", "valid"])
        elif i % 3 == 1:
            first = panel(rewrite)[0]
            ballot_cast(ballot_id=first.pk, actor=first.reviewer, decision="valid")
    world.claim(world.annotators[0])
    world.member_of_many = user_ensure(username=f"rows{n}-multi")
    for i in range(n):
        campaign = campaign_create(slug=f"rows{n}-c{i}", name=f"C{i}", taxonomy=None)
        membership_add(campaign=campaign, user=world.member_of_many, role=Role.REVIEWER)
    return world


LIST_ENDPOINTS: dict[str, tuple[Any, str, Any]] = {
    # name: (who asks, path, how many rows the answer holds for n)
    "campaigns": (lambda w: w.member_of_many, "/campaigns/", lambda n: n),
    "assignments": (lambda w: w.annotators[0], "/campaigns/{slug}/assignments/", lambda n: n + 1),
    "ballots-pending": (
        lambda w: w.reviewers[1],
        "/campaigns/{slug}/ballots/",
        lambda n: n - n // 3,
    ),
    "ballots-all": (lambda w: w.reviewers[0], "/campaigns/{slug}/ballots/?status=all", lambda n: n),
    "rewrites": (lambda w: w.curator, "/campaigns/{slug}/rewrites/", lambda n: n),
    "stats": (lambda w: w.curator, "/campaigns/{slug}/stats/", lambda n: n),
}


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
def test_query_count_does_not_grow_with_rows(make_world, endpoint):
    user_of, path, rows_for = LIST_ENDPOINTS[endpoint]
    measured = {}
    for n in (3, 30):
        world = build_rows(make_world, n)
        client = api_for(user_of(world))
        url = API + path.format(slug=world.campaign.slug)
        with CaptureQueriesContext(connection) as queries:
            r = client.get(url)
        assert r.status_code == 200, r.content
        body = r.json()
        shown = len(body["results"]) if "results" in body else body["funnel"]["submitted"]
        assert shown == rows_for(n), (endpoint, n, shown)
        measured[n] = len(queries)
    assert measured[30] <= measured[3], (endpoint, measured)


# --- OpenAPI -----------------------------------------------------------------------------------


def test_openapi_schema_and_docs_are_served(world):
    for client in (APIClient(), api_for(world.annotators[0])):
        r = client.get("/api/schema/?format=json")
        assert r.status_code == 200, r.content[:300]
        schema = json.loads(r.content)
        assert "put" in schema["paths"]["/api/v1/assignments/{id}/draft/"]
        assert "post" in schema["paths"]["/api/v1/ballots/{id}/vote/"]
        assert "/api/v1/campaigns/{slug}/stats/" in schema["paths"]
    r = APIClient().get("/api/schema/")
    assert r.status_code == 200
    assert b"/api/v1/assignments/{id}/draft/" in r.content
    r = APIClient().get("/api/docs/")
    assert r.status_code == 200
    assert b"swagger" in r.content.lower()


def test_curator_who_also_reviews_sees_no_votes_before_casting_theirs(world):
    world.add_seeds(1)
    world.member(world.curator.username, Role.REVIEWER)
    for reviewer in world.reviewers[3:]:  # leave exactly three other reviewers + the curator
        Membership.objects.filter(user=reviewer, role=Role.REVIEWER).delete()
    rewrite = world.submitted()
    ballots = panel(rewrite)
    assert world.curator.pk in {b.reviewer_id for b in ballots}
    others = [b for b in ballots if b.reviewer_id != world.curator.pk]
    for b in others:
        ballot_cast(ballot_id=b.pk, actor=b.reviewer, decision="valid", comment="secret-note")
    client = api_for(world.curator)
    body = client.get(f"{API}/campaigns/{world.campaign.slug}/rewrites/").json()
    assert "secret-note" not in json.dumps(body)
    assert body["results"][0]["tally"]["valid"] == 0
    mine = next(b for b in ballots if b.reviewer_id == world.curator.pk)
    ballot_cast(ballot_id=mine.pk, actor=world.curator, decision="valid")
    body = client.get(f"{API}/campaigns/{world.campaign.slug}/rewrites/").json()
    assert body["results"][0]["tally"]["valid"] == 4
