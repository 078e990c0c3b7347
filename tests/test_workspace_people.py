"""The people workspace (issue 11): the curator's people page and members API (add, change a
role, remove, through the membership services), and invitations by email: a single-use,
expiring, signed link with which the invitee sets a password and lands in the campaign.
Expired, reused, revoked and forged links are refused, on the page and through the API."""

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail, signing
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from annotation.models import Assignment, Event, Membership, Role
from annotation.services import user_ensure
from core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from review.models import Ballot, Invitation
from review.selectors_people import INVITATION_SALT, invitation_token
from review.services.invitations import invitation_accept, invitation_create, invitation_revoke

from .conftest import api_for
from .test_schema import check

pytestmark = pytest.mark.django_db

API = "/api/v1"
BASE = "http://testserver/"
STRONG = "a-Long-passphrase-42"


@pytest.fixture(autouse=True)
def _fresh_throttle() -> None:
    # The accept endpoint shares the token endpoint's throttle (20/min per address).
    cache.clear()


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run on-commit callbacks (the invitation email) of the block."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def principals(world, make_world) -> dict[str, APIClient]:
    other = make_world("other")
    return {
        "anonymous": APIClient(),
        "annotator": api_for(world.annotators[0]),
        "reviewer": api_for(world.reviewers[0]),
        "other_curator": api_for(other.curator),
        "curator": api_for(world.curator),
    }


REFUSED = {"anonymous": 401, "annotator": 403, "reviewer": 403, "other_curator": 404}


def invite(world, email="new@example.org", role=Role.ANNOTATOR, **kwargs) -> Any:
    return invitation_create(
        campaign=world.campaign,
        actor=world.curator,
        email=email,
        role=role,
        base_url=BASE,
        **kwargs,
    )


def token_of(link: str) -> str:
    match = re.search(r"/invitations/([^/]+)/$", link)
    assert match, link
    return match.group(1)


def events(campaign, kind: str) -> list[Event]:
    return list(Event.objects.filter(campaign=campaign, kind=kind).order_by("id"))


def csrf_client(user=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def csrf_token(client: Client, url: str) -> str:
    res = client.get(url)
    assert res.status_code == 200, res.content
    return res.cookies["csrftoken"].value


# --- who may call what ---------------------------------------------------------------------------


def _endpoints(world) -> list[tuple[str, str, dict[str, Any], int]]:
    slug = world.campaign.slug
    pending = invite(world, email="matrix@example.org").invitation
    return [
        ("get", f"{API}/campaigns/{slug}/members/", {}, 200),
        (
            "post",
            f"{API}/campaigns/{slug}/members/",
            {"username_or_email": world.reviewers[1].username, "role": "annotator"},
            201,
        ),
        (
            "post",
            f"{API}/campaigns/{slug}/members/role/",
            {
                "username": world.reviewers[4].username,
                "from_role": "reviewer",
                "to_role": "curator",
            },
            200,
        ),
        (
            "post",
            f"{API}/campaigns/{slug}/members/remove/",
            {"username": world.annotators[3].username, "role": "annotator"},
            200,
        ),
        ("get", f"{API}/campaigns/{slug}/invitations/", {}, 200),
        (
            "post",
            f"{API}/campaigns/{slug}/invitations/",
            {"email": "someone@example.org", "role": "reviewer"},
            201,
        ),
        ("post", f"{API}/invitations/{pending.pk}/revoke/", {}, 200),
    ]


@pytest.mark.parametrize("index", range(7))
def test_every_curator_endpoint_over_every_principal(world, make_world, index):
    method, url, body, ok = _endpoints(world)[index]
    clients = principals(world, make_world)
    events_before = Event.objects.count()
    for name, expected in REFUSED.items():
        res = getattr(clients[name], method)(url, body, format="json")
        assert res.status_code == expected, (name, url, res.content)
    assert Event.objects.count() == events_before  # a refusal changes nothing
    res = getattr(clients["curator"], method)(url, body, format="json")
    assert res.status_code == ok, res.content


def test_accept_endpoint_over_every_principal(world, make_world):
    clients = principals(world, make_world)
    token = token_of(invite(world).link)
    body = {"token": token, "username": "newbie", "password": STRONG}
    for name in ["annotator", "reviewer", "other_curator", "curator"]:
        # Logged in as someone the invitation is not for: refused, nothing created.
        res = clients[name].post(f"{API}/invitations/accept/", body, format="json")
        assert res.status_code == 403, (name, res.content)
        assert "Log out" in res.json()["detail"]
    assert not get_user_model().objects.filter(username="newbie").exists()
    res = clients["anonymous"].post(f"{API}/invitations/accept/", body, format="json")
    assert res.status_code == 201, res.content
    assert res.json() == {
        "username": "newbie",
        "campaign": world.campaign.slug,
        "role": "annotator",
        "account_created": True,
    }


def test_responses_match_the_schema(world, on_commit):
    schema = json.loads(Client().get("/api/schema/?format=json").content)
    curator = api_for(world.curator)
    slug = world.campaign.slug
    check(
        schema,
        "get",
        "/api/v1/campaigns/{slug}/members/",
        curator.get(f"{API}/campaigns/{slug}/members/"),
    )
    res = curator.post(
        f"{API}/campaigns/{slug}/members/",
        {"username_or_email": world.reviewers[0].username, "role": "annotator"},
        format="json",
    )
    check(schema, "post", "/api/v1/campaigns/{slug}/members/", res)
    res = curator.post(
        f"{API}/campaigns/{slug}/members/role/",
        {"username": world.reviewers[0].username, "from_role": "annotator", "to_role": "curator"},
        format="json",
    )
    check(schema, "post", "/api/v1/campaigns/{slug}/members/role/", res)
    res = curator.post(
        f"{API}/campaigns/{slug}/members/remove/",
        {"username": world.annotators[0].username, "role": "annotator"},
        format="json",
    )
    check(schema, "post", "/api/v1/campaigns/{slug}/members/remove/", res)
    with on_commit():
        res = curator.post(
            f"{API}/campaigns/{slug}/invitations/",
            {"email": "x@example.org", "role": "reviewer"},
            format="json",
        )
    check(schema, "post", "/api/v1/campaigns/{slug}/invitations/", res)
    link = res.json()["link"]
    check(
        schema,
        "get",
        "/api/v1/campaigns/{slug}/invitations/",
        curator.get(f"{API}/campaigns/{slug}/invitations/"),
    )
    res = APIClient().post(
        f"{API}/invitations/accept/",
        {"token": token_of(link), "username": "xavier", "password": STRONG},
        format="json",
    )
    check(schema, "post", "/api/v1/invitations/accept/", res)
    other = invite(world, email="y@example.org").invitation
    res = curator.post(f"{API}/invitations/{other.pk}/revoke/")
    check(schema, "post", "/api/v1/invitations/{id}/revoke/", res)


# --- members -------------------------------------------------------------------------------------


def test_member_list_shows_roles_activity_and_open_work(world):
    world.add_seeds(3)
    rewrite = world.submitted(world.annotators[0])
    world.claim(world.annotators[1])
    res = api_for(world.curator).get(f"{API}/campaigns/{world.campaign.slug}/members/")
    assert res.status_code == 200
    rows = {row["username"]: row for row in res.json()["results"]}
    assert res.json()["count"] == 1 + 4 + 5
    assert rows[world.curator.username]["roles"] == ["curator"]
    ann0, ann1 = rows[world.annotators[0].username], rows[world.annotators[1].username]
    newest = Event.objects.filter(campaign=world.campaign, actor=world.annotators[0]).last()
    assert newest.kind in {"seed.done", "rewrite.submitted", "ballot.opened"}
    assert ann0["last_activity"] == newest.kind
    assert ann0["active_assignments"] == 0
    assert ann1["last_activity"] == "assignment.claimed"
    assert ann1["active_assignments"] == 1
    on_panel = set(rewrite.ballots.values_list("reviewer__username", flat=True))
    for reviewer in world.reviewers:
        row = rows[reviewer.username]
        assert row["pending_ballots"] == (1 if reviewer.username in on_panel else 0)
        assert row["last_activity_at"] is None  # opening a ballot is not their action
        assert row["joined_at"]


def test_member_list_query_count_does_not_grow_with_members(make_world):
    world = make_world("q")
    world.add_seeds(4)
    world.submitted(world.annotators[0])
    curator = api_for(world.curator)
    url = f"{API}/campaigns/q/members/"
    curator.get(url)  # warm up (content types, ...)
    with CaptureQueriesContext(connection) as few:
        assert curator.get(url).status_code == 200
    for i in range(12):
        world.member(f"q-extra{i}", [Role.ANNOTATOR, Role.REVIEWER][i % 2])
    with CaptureQueriesContext(connection) as many:
        res = curator.get(url)
    assert res.json()["count"] == 10 + 12
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_add_member_by_username_or_email_and_bad_input(world):
    slug = world.campaign.slug
    curator = api_for(world.curator)
    user_ensure(username="dora", email="Dora@Example.org", password="pw")
    res = curator.post(
        f"{API}/campaigns/{slug}/members/",
        {"username_or_email": "dora@example.org", "role": "reviewer"},
        format="json",
    )
    assert res.status_code == 201, res.content
    assert res.json()["roles"] == ["reviewer"]
    again = curator.post(
        f"{API}/campaigns/{slug}/members/",
        {"username_or_email": "dora", "role": "reviewer"},
        format="json",
    )
    assert again.status_code == 200
    assert len(events(world.campaign, "membership.added")) == 1 + 1 + 4 + 5
    res = curator.post(
        f"{API}/campaigns/{slug}/members/", {"username_or_email": "", "role": "boss"}, format="json"
    )
    assert res.status_code == 400
    assert set(res.json()["errors"]) == {"username_or_email", "role"}
    res = curator.post(
        f"{API}/campaigns/{slug}/members/",
        {"username_or_email": "nobody", "role": "reviewer"},
        format="json",
    )
    assert res.status_code == 400
    assert "invite them" in res.json()["errors"]["username_or_email"][0]


def test_role_change_and_the_last_curator(world):
    slug = world.campaign.slug
    curator = api_for(world.curator)
    url = f"{API}/campaigns/{slug}/members/role/"
    res = curator.post(
        url,
        {"username": world.curator.username, "from_role": "curator", "to_role": "reviewer"},
        format="json",
    )
    assert res.status_code == 409
    assert "last curator" in res.json()["detail"]
    assert Membership.objects.filter(user=world.curator, role="curator").exists()
    res = curator.post(
        url,
        {"username": world.annotators[0].username, "from_role": "annotator", "to_role": "reviewer"},
        format="json",
    )
    assert res.status_code == 200
    assert res.json()["roles"] == ["reviewer"]
    (event,) = events(world.campaign, "membership.role_changed")
    assert (event.actor, event.from_state, event.to_state) == (
        world.curator,
        "annotator",
        "reviewer",
    )
    res = curator.post(
        url, {"username": "ghost", "from_role": "x", "to_role": "reviewer"}, format="json"
    )
    assert res.status_code == 400
    assert set(res.json()["errors"]) == {"from_role"}
    res = curator.post(
        url, {"username": "ghost", "from_role": "reviewer", "to_role": "reviewer"}, format="json"
    )
    assert res.status_code == 400
    assert "username" in res.json()["errors"]


def test_remove_hands_work_on(world):
    world.add_seeds(4)
    slug = world.campaign.slug
    leaving, heir = world.annotators[0], world.annotators[1]
    assignment = world.claim(leaving)
    world.draft(assignment)
    rewrite = world.submitted(world.annotators[2])
    reviewer = rewrite.ballots.order_by("id").first().reviewer
    curator = api_for(world.curator)
    url = f"{API}/campaigns/{slug}/members/remove/"
    res = curator.post(
        url,
        {"username": leaving.username, "role": "annotator", "reassign_to": reviewer.username},
        format="json",
    )
    assert res.status_code == 400
    assert "reassign_to" in res.json()["errors"]
    assert Membership.objects.filter(user=leaving, role="annotator").exists()
    res = curator.post(
        url,
        {"username": leaving.username, "role": "annotator", "reassign_to": heir.username},
        format="json",
    )
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["moved"]["assignments_reassigned"] == 1
    assert body["member"] is None
    assignment.refresh_from_db()
    assert assignment.annotator == heir
    res = curator.post(url, {"username": reviewer.username, "role": "reviewer"}, format="json")
    assert res.status_code == 200
    assert res.json()["moved"]["ballots_closed"] == 1
    assert Ballot.objects.get(rewrite=rewrite, reviewer=reviewer).status == "closed"
    res = curator.post(url, {"username": world.curator.username, "role": "curator"}, format="json")
    assert res.status_code == 409


# --- invitations: create, email, accept ----------------------------------------------------------


def test_invitation_email_link_accept_creates_account_and_membership(world, on_commit):
    curator = api_for(world.curator)
    with on_commit():
        res = curator.post(
            f"{API}/campaigns/{world.campaign.slug}/invitations/",
            {"email": "Ada@Example.org", "role": "reviewer"},
            format="json",
        )
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["email"] == "ada@example.org"
    assert body["status"] == "pending" and body["invited_by"] == world.curator.username
    assert body["link"].startswith("http://testserver/invitations/")
    (message,) = mail.outbox
    assert message.to == ["ada@example.org"]
    assert world.campaign.name in message.subject
    assert body["link"] in message.body
    html = message.alternatives[0][0]
    assert body["link"] in html
    # The link from the email, opened anonymously: the form.
    path = body["link"].removeprefix("http://testserver")
    client = csrf_client()
    token = csrf_token(client, path)
    page = client.get(path)
    assert "Join" in page.content.decode() and "reviewer" in page.content.decode()
    res = client.post(
        path,
        {
            "username": "ada",
            "password": STRONG,
            "password2": STRONG,
            "csrfmiddlewaretoken": token,
        },
    )
    assert res.status_code == 302 and res.url == "/"
    ada = get_user_model().objects.get(username="ada")
    assert ada.email == "ada@example.org" and ada.check_password(STRONG)
    assert Membership.objects.filter(campaign=world.campaign, user=ada, role="reviewer").exists()
    assert client.session["_auth_user_id"] == str(ada.pk)
    assert client.get("/").status_code == 302  # the home sends a lone reviewer to their ballots
    invitation = Invitation.objects.get()
    assert (invitation.status, invitation.accepted_by) == ("accepted", ada)
    kinds = list(
        Event.objects.filter(campaign=world.campaign, kind__startswith="invitation.")
        .order_by("id")
        .values_list("kind", "actor__username")
    )
    assert kinds == [("invitation.created", world.curator.username), ("invitation.accepted", "ada")]
    added = events(world.campaign, "membership.added")[-1]
    assert (added.actor, added.to_state) == (ada, "reviewer")
    # Used: the same link again is refused, on the page and through the API.
    again = Client().get(path)
    assert again.status_code == 409
    assert "already been used" in again.content.decode()
    res = APIClient().post(
        f"{API}/invitations/accept/",
        {"token": token_of(body["link"]), "username": "ada2", "password": STRONG},
        format="json",
    )
    assert res.status_code == 409


def test_invitation_page_without_csrf_is_refused(world):
    path = invite(world).link.removeprefix("http://testserver")
    res = csrf_client().post(path, {"username": "x1", "password": STRONG, "password2": STRONG})
    assert res.status_code == 403
    assert not get_user_model().objects.filter(username="x1").exists()


def test_invitation_create_bad_input_and_conflicts(world, on_commit):
    slug = world.campaign.slug
    curator = api_for(world.curator)
    url = f"{API}/campaigns/{slug}/invitations/"
    res = curator.post(url, {"email": "not-an-email", "role": "boss"}, format="json")
    assert res.status_code == 400
    assert set(res.json()["errors"]) == {"email", "role"}
    with on_commit():
        assert curator.post(url, {"email": "a@b.org", "role": "reviewer"}).status_code == 201
        res = curator.post(url, {"email": "A@B.org", "role": "reviewer"})
    assert res.status_code == 409
    assert "pending invitation" in res.json()["detail"]
    assert len(mail.outbox) == 1
    with on_commit():  # another role is another invitation
        assert curator.post(url, {"email": "a@b.org", "role": "annotator"}).status_code == 201
    user_ensure(username="member", email="member@b.org")
    Membership.objects.create(
        campaign=world.campaign,
        user=get_user_model().objects.get(username="member"),
        role="reviewer",
    )
    res = curator.post(url, {"email": "member@b.org", "role": "reviewer"})
    assert res.status_code == 409
    assert "already a reviewer" in res.json()["detail"]
    listed = curator.get(url).json()
    assert [(i["email"], i["role"]) for i in listed["results"]] == [
        ("a@b.org", "annotator"),
        ("a@b.org", "reviewer"),
    ]


def test_an_expired_pending_invitation_is_replaced(world):
    old = invite(world).invitation
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    new = invite(world).invitation
    old.refresh_from_db()
    assert old.status == "revoked" and new.status == "pending" and new.nonce != old.nonce
    (revoked,) = events(world.campaign, "invitation.revoked")
    assert revoked.data["reason"] == "expired; replaced"


def test_invitation_services_check_the_actor(world, make_world):
    other = make_world("other")
    with pytest.raises(NotFound):
        invitation_create(
            campaign=world.campaign,
            actor=other.curator,
            email="z@example.org",
            role="annotator",
            base_url=BASE,
        )
    with pytest.raises(NotAllowed):
        invitation_create(
            campaign=world.campaign,
            actor=world.reviewers[0],
            email="z@example.org",
            role="annotator",
            base_url=BASE,
        )
    invitation = invite(world).invitation
    with pytest.raises(NotFound):
        invitation_revoke(invitation_id=invitation.pk, actor=other.curator)
    assert not Invitation.objects.filter(email="z@example.org").exists()


# --- refused links -------------------------------------------------------------------------------


def _accept_api(token: str, username: str = "eve") -> Any:
    return APIClient().post(
        f"{API}/invitations/accept/",
        {"token": token, "username": username, "password": STRONG},
        format="json",
    )


def _refused_everywhere(token: str, status: int, words: str) -> None:
    page = Client().get(f"/invitations/{token}/")
    assert page.status_code == status
    assert words in page.content.decode()
    post = Client().post(
        f"/invitations/{token}/", {"username": "eve", "password": STRONG, "password2": STRONG}
    )
    assert post.status_code == status
    res = _accept_api(token)
    assert res.status_code == status, res.content
    assert words in res.json()["detail"]
    assert not get_user_model().objects.filter(username="eve").exists()


def test_expired_link_is_refused_with_410(world):
    sent = invite(world)
    Invitation.objects.filter(pk=sent.invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    _refused_everywhere(token_of(sent.link), 410, "expired")


def test_revoked_link_is_refused_with_409(world):
    sent = invite(world)
    res = api_for(world.curator).post(f"{API}/invitations/{sent.invitation.pk}/revoke/")
    assert res.status_code == 200 and res.json()["status"] == "revoked"
    assert res.json()["link"] == ""
    _refused_everywhere(token_of(sent.link), 409, "withdrawn")
    again = api_for(world.curator).post(f"{API}/invitations/{sent.invitation.pk}/revoke/")
    assert again.status_code == 409
    (event,) = events(world.campaign, "invitation.revoked")
    assert (event.actor, event.from_state, event.to_state) == (world.curator, "pending", "revoked")


def test_forged_links_are_refused_with_400(world):
    mine = invite(world).invitation
    theirs = invite(world, email="other@example.org").invitation
    token = invitation_token(mine)
    value, signature = token.rsplit(":", 1)
    altered_signature = (
        f"{value}:{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    )
    altered_payload = signing.dumps({"i": mine.pk, "n": "x" * 43}, salt="another-salt")
    altered_nonce = signing.dumps({"i": mine.pk, "n": "guessed"}, salt=INVITATION_SALT)
    other_id = signing.dumps({"i": theirs.pk, "n": mine.nonce}, salt=INVITATION_SALT)
    missing = signing.dumps({"i": 999999, "n": mine.nonce}, salt=INVITATION_SALT)
    for forged in [altered_signature, altered_payload, altered_nonce, other_id, missing, "junk"]:
        _refused_everywhere(forged, 400, "not valid")
    assert Invitation.objects.filter(status="pending").count() == 2


def test_password_validators_name_every_failure(world):
    token = token_of(invite(world).link)
    res = APIClient().post(
        f"{API}/invitations/accept/",
        {"token": token, "username": "bob", "password": "12345"},
        format="json",
    )
    assert res.status_code == 400
    problems = res.json()["errors"]["password"]
    assert len(problems) >= 3, problems  # too short, too common, entirely numeric
    assert any("short" in p for p in problems) and any("numeric" in p for p in problems)
    res = APIClient().post(
        f"{API}/invitations/accept/",
        {"token": token, "username": "bad name!", "password": "bob@example.org"},
        format="json",
    )
    assert res.status_code == 400
    assert set(res.json()["errors"]) == {"username"} or set(res.json()["errors"]) == {
        "username",
        "password",
    }
    assert not get_user_model().objects.filter(username__in=["bob", "bad name!"]).exists()
    assert Invitation.objects.get().status == "pending"
    # On the page: the errors are shown and the username typed is kept.
    page = Client().post(
        f"/invitations/{token}/", {"username": "bobby", "password": "12345", "password2": "12345"}
    )
    assert page.status_code == 400
    text = page.content.decode()
    assert 'value="bobby"' in text and "too short" in text
    page = Client().post(
        f"/invitations/{token}/", {"username": "bobby", "password": STRONG, "password2": "other"}
    )
    assert page.status_code == 400 and "differ" in page.content.decode()
    assert Invitation.objects.get().status == "pending"


def test_taken_username_is_named(world):
    token = token_of(invite(world).link)
    res = _accept_api(token, username=world.annotators[0].username.upper())
    assert res.status_code == 400
    assert "taken" in res.json()["errors"]["username"][0]


def test_an_existing_account_accepts_while_logged_in(world):
    dora = user_ensure(username="dora", email="dora@example.org", password=STRONG)
    sent = invite(world, email="dora@example.org", role=Role.REVIEWER)
    path = sent.link.removeprefix("http://testserver")
    # Anonymous: asked to log in first; the API says the same.
    page = Client().get(path)
    assert page.status_code == 200 and "Log in with it" in page.content.decode()
    res = _accept_api(token_of(sent.link), username="dora2")
    assert res.status_code == 409 and "log in" in res.json()["detail"]
    # Logged in as someone else: told to log out.
    client = Client()
    client.force_login(world.annotators[0])
    assert "Log out" in client.get(path).content.decode()
    # Logged in as dora: one button; her password stays.
    client = csrf_client(dora)
    token = csrf_token(client, path)
    res = client.post(path, {"csrfmiddlewaretoken": token})
    assert res.status_code == 302
    dora.refresh_from_db()
    assert dora.check_password(STRONG)
    assert Membership.objects.filter(campaign=world.campaign, user=dora, role="reviewer").exists()
    accepted = events(world.campaign, "invitation.accepted")[0]
    assert accepted.data["account_created"] is False


def test_accepting_is_single_use_in_the_service(world):
    token = token_of(invite(world).link)
    invitation_accept(token=token, username="once", password=STRONG)
    with pytest.raises(Conflict):
        invitation_accept(token=token, username="twice", password=STRONG)
    with pytest.raises(ValidationFailed):
        invitation_accept(token=token + "x", username="thrice", password=STRONG)
    assert get_user_model().objects.filter(username__in=["twice", "thrice"]).count() == 0


def test_a_new_reviewer_from_an_invitation_fills_waiting_panels(make_world):
    world = make_world("small", reviewers=3)
    world.add_seeds(2)
    rewrite = world.submitted(world.annotators[0])
    assert rewrite.ballots.count() == 3  # one seat short of the panel of 4
    token = token_of(invite(world, email="rev@example.org", role=Role.REVIEWER).link)
    invitation_accept(token=token, username="rev4", password=STRONG)
    assert rewrite.ballots.filter(reviewer__username="rev4", status="pending").exists()


# --- the people page -----------------------------------------------------------------------------


def test_people_page_lists_members_and_is_for_curators_only(world, make_world):
    world.add_seeds(2)
    world.claim(world.annotators[1])
    invite(world, email="pending@example.org")
    url = f"/campaigns/{world.campaign.slug}/people/"
    client = Client()
    client.force_login(world.curator)
    res = client.get(url)
    assert res.status_code == 200
    text = res.content.decode()
    assert 'aria-current="page">People' in text  # the workspace navigation
    row = re.search(rf'<tr data-user="{world.annotators[1].username}">.*?</tr>', text, re.S)
    assert row and 'data-field="active-assignments">1<' in row.group(0)
    assert "Seed claimed" in row.group(0) and "assignment.claimed" not in row.group(0)
    assert 'data-role="curator"' in text
    assert "pending@example.org" in text and "http://testserver/invitations/" in text
    for user, status in [(world.annotators[0], 403), (world.reviewers[0], 403)]:
        other_client = Client()
        other_client.force_login(user)
        assert other_client.get(url).status_code == status
    outsider = Client()
    outsider.force_login(make_world("other").curator)
    assert outsider.get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the login page


def test_people_page_query_count_does_not_grow_with_members(make_world):
    world = make_world("pq")
    world.add_seeds(4)
    world.submitted(world.annotators[0])
    invite(world, email="one@example.org")
    url = "/campaigns/pq/people/"
    client = Client()
    client.force_login(world.curator)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for i in range(15):
        world.member(f"pq-more{i}", [Role.ANNOTATOR, Role.REVIEWER, Role.CURATOR][i % 3])
        invite(world, email=f"more{i}@example.org")
    with CaptureQueriesContext(connection) as many:
        res = client.get(url)
    assert res.content.decode().count("<tr data-user=") == 10 + 15
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_people_page_forms(world, on_commit):
    url = f"/campaigns/{world.campaign.slug}/people/"
    client = csrf_client(world.curator)
    token = csrf_token(client, url)
    # Without the CSRF token: refused.
    assert (
        client.post(
            url, {"action": "add", "username_or_email": "x", "role": "reviewer"}
        ).status_code
        == 403
    )
    user_ensure(username="carol", email="carol@example.org")
    res = client.post(
        url,
        {
            "action": "add",
            "username_or_email": "carol",
            "role": "reviewer",
            "csrfmiddlewaretoken": token,
        },
    )
    assert res.status_code == 302 and res.url == url
    assert Membership.objects.filter(user__username="carol", role="reviewer").exists()
    # A refusal keeps what was typed and shows the service's message with its status.
    res = client.post(
        url,
        {
            "action": "add",
            "username_or_email": "nobody-here",
            "role": "reviewer",
            "csrfmiddlewaretoken": token,
        },
    )
    assert res.status_code == 400
    assert 'value="nobody-here"' in res.content.decode()
    res = client.post(
        url,
        {
            "action": "remove",
            "username": world.curator.username,
            "role": "curator",
            "csrfmiddlewaretoken": token,
        },
    )
    assert res.status_code == 409 and "last curator" in res.content.decode()
    res = client.post(
        url,
        {
            "action": "role",
            "username": "carol",
            "from_role": "reviewer",
            "to_role": "annotator",
            "csrfmiddlewaretoken": token,
        },
    )
    assert res.status_code == 302
    assert list(
        Membership.objects.filter(user__username="carol").values_list("role", flat=True)
    ) == ["annotator"]
    res = client.post(
        url,
        {
            "action": "remove",
            "username": "carol",
            "role": "annotator",
            "reassign_to": "",
            "csrfmiddlewaretoken": token,
        },
    )
    assert res.status_code == 302
    assert not Membership.objects.filter(user__username="carol").exists()
    with on_commit():
        res = client.post(
            url,
            {
                "action": "invite",
                "email": "new@example.org",
                "role": "annotator",
                "csrfmiddlewaretoken": token,
            },
        )
    assert res.status_code == 302 and len(mail.outbox) == 1
    invitation = Invitation.objects.get(email="new@example.org")
    res = client.post(
        url,
        {
            "action": "invite",
            "email": "new@example.org",
            "role": "annotator",
            "csrfmiddlewaretoken": token,
        },
    )
    assert res.status_code == 409 and 'value="new@example.org"' in res.content.decode()
    res = client.post(
        url, {"action": "revoke", "invitation": invitation.pk, "csrfmiddlewaretoken": token}
    )
    assert res.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == "revoked"
    follow = client.get(url)
    assert "is revoked" in follow.content.decode()
    res = client.post(
        url, {"action": "revoke", "invitation": invitation.pk, "csrfmiddlewaretoken": token}
    )
    assert res.status_code == 409


def test_people_page_revoke_of_a_foreign_invitation_is_404(world, make_world):
    other = make_world("other")
    foreign = invite(other).invitation
    client = Client()
    client.force_login(world.curator)
    res = client.post(
        f"/campaigns/{world.campaign.slug}/people/", {"action": "revoke", "invitation": foreign.pk}
    )
    assert res.status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == "pending"


def test_accept_is_throttled(world, monkeypatch):
    """Like the token endpoint: scope "auth-token", per client address."""
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth-token": "3/min"})
    statuses = [_accept_api("junk").status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 429, 429]


def test_assignment_counts_match_the_database(world):
    # The people rows count only this campaign's active assignments.
    world.add_seeds(3)
    world.claim(world.annotators[2])
    world.claim(world.annotators[2])
    res = api_for(world.curator).get(f"{API}/campaigns/{world.campaign.slug}/members/")
    row = next(r for r in res.json()["results"] if r["username"] == world.annotators[2].username)
    assert (
        row["active_assignments"]
        == Assignment.objects.filter(annotator=world.annotators[2], status="active").count()
        == 2
    )


def test_nobody_can_claim_another_persons_email_address(world):
    """Invitations and "add by email" trust an account's email, so users cannot add or change
    addresses themselves (allauth's email page is switched off)."""
    from django.test import Client

    client = Client()
    client.force_login(world.annotators[0])
    assert client.get("/accounts/email/").status_code == 404
    res = client.post("/accounts/email/", {"email": "alice@corp.example", "action_add": ""})
    assert res.status_code == 404
    world.annotators[0].refresh_from_db()
    assert world.annotators[0].email != "alice@corp.example"
