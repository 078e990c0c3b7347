"""View as (core.view_as, inside core.access): a curator sees a campaign as one of its members
does, read-only and audited, with a banner; the member's other campaigns stay invisible, every
change is refused, and the API with a token is unaffected."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from annotation.models import Assignment, Event, Role
from core.transitions import EventKind
from review.models import Ballot
from review.services import membership_add

from .browser import screenshot

START = "/campaigns/{slug}/view-as/"
STOP = "/view-as/stop/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def events(kind: EventKind):
    return list(Event.objects.filter(kind=kind.value).order_by("id"))


@pytest.fixture
def two_campaigns(make_world):
    """``camp`` with work in flight, and ``other`` where camp's first annotator and first
    reviewer are members too (with work of their own there)."""
    world = make_world(slug="camp")
    world.add_seeds(6)
    world.claim(world.annotators[0])
    world.submitted(world.annotators[1])  # a panel: every reviewer has a pending ballot
    other = make_world(slug="other")
    other.add_seeds(2)
    membership_add(campaign=other.campaign, user=world.annotators[0], role=Role.ANNOTATOR)
    membership_add(campaign=other.campaign, user=world.reviewers[0], role=Role.REVIEWER)
    foreign = other.claim(world.annotators[0])
    return world, other, foreign


def start(client: Client, slug: str, username: str):
    return client.post(START.format(slug=slug), {"username": username})


@pytest.mark.django_db
def test_start_and_stop_are_audited_and_the_banner_is_on_every_page(two_campaigns):
    world, _other, _foreign = two_campaigns
    member = world.annotators[0]
    client = client_for(world.curator)
    res = start(client, "camp", member.username)
    assert res.status_code == 302
    [started] = events(EventKind.VIEW_AS_STARTED)
    assert started.actor_id == world.curator.pk and started.campaign_id == world.campaign.pk
    assert (started.object_type, started.object_id) == ("user", member.pk)

    # Home: only this campaign is visible, so an annotator-only member lands on the queue.
    home = client.get("/")
    assert home.status_code == 302 and home["Location"] == "/campaigns/camp/queue/"
    queue = client.get("/campaigns/camp/queue/")
    text = queue.content.decode()
    assert queue.status_code == 200
    assert re.search(r"Viewing as <strong>camp-ann1</strong> in Camp \(read-only\)", text)
    assert 'action="/view-as/stop/"' in text
    assert queue.context["user"].pk == member.pk  # the page is the member's

    res = client.post(STOP)
    assert res.status_code == 302 and res["Location"] == "/campaigns/camp/people/"
    [ended] = events(EventKind.VIEW_AS_ENDED)
    assert ended.actor_id == world.curator.pk and ended.data["reason"] == "stop"
    # Back to themselves: the curator has no queue, and no banner.
    assert client.get("/campaigns/camp/queue/").status_code == 403
    assert "view-as-banner" not in client.get("/campaigns/camp/people/").content.decode()


@pytest.mark.django_db
def test_pages_show_the_members_queue_and_ballots(two_campaigns):
    world, _other, _foreign = two_campaigns
    client = client_for(world.curator)
    start(client, "camp", world.annotators[0].username)
    mine = Assignment.objects.get(campaign=world.campaign, annotator=world.annotators[0])
    queue = client.get("/campaigns/camp/queue/").content.decode()
    assert f"/assignments/{mine.pk}/" in queue
    assert client.get(f"/assignments/{mine.pk}/").status_code == 200  # the annotate page
    client.post(STOP)

    reviewer = world.reviewers[1]
    start(client, "camp", reviewer.username)
    ballot = Ballot.objects.get(reviewer=reviewer, status="pending")
    ballots = client.get("/campaigns/camp/ballots/")
    assert ballots.status_code == 200
    assert f"/ballots/{ballot.pk}/" in ballots.content.decode()
    assert client.get(f"/ballots/{ballot.pk}/").status_code == 200
    # Someone else's ballot stays someone else's, as for the member.
    other_ballot = Ballot.objects.exclude(reviewer=reviewer).first()
    assert client.get(f"/ballots/{other_ballot.pk}/").status_code == 404


@pytest.mark.django_db
def test_every_change_is_refused_and_nothing_changes(two_campaigns):
    world, _other, _foreign = two_campaigns
    member = world.annotators[0]
    client = client_for(world.curator)
    start(client, "camp", member.username)
    before = (Assignment.objects.count(), Event.objects.count())
    assignment = Assignment.objects.get(campaign=world.campaign, annotator=member)

    page = client.post("/campaigns/camp/next/")
    assert page.status_code == 403
    assert "You are viewing as camp-ann1 (read-only)" in page.content.decode()
    assert "view-as-banner" in page.content.decode()
    api = client.post(
        f"/api/v1/assignments/{assignment.pk}/skip/",
        {"reason": "x"},
        content_type="application/json",
    )
    assert api.status_code == 403 and api.json()["code"] == "view_as_read_only"
    for method in (client.put, client.patch, client.delete):
        assert method(f"/api/v1/assignments/{assignment.pk}/draft/").status_code == 403
    # Starting another view from inside one is a change too.
    assert start(client, "camp", world.annotators[1].username).status_code == 403
    assert (Assignment.objects.count(), Event.objects.count()) == before
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ACTIVE

    # Logging out is allowed, and ends the view.
    assert client.post("/accounts/logout/").status_code == 302
    [ended] = events(EventKind.VIEW_AS_ENDED)
    assert ended.data["reason"] == "logout"


@pytest.mark.django_db
def test_the_members_other_campaigns_stay_invisible(two_campaigns):
    world, other, foreign = two_campaigns
    member = world.annotators[0]
    # The member sees both campaigns; the curator viewing as them sees only camp.
    assert client_for(member).get(f"/assignments/{foreign.pk}/").status_code == 200
    client = client_for(world.curator)
    start(client, "camp", member.username)
    assert client.get("/campaigns/other/queue/").status_code == 404
    assert client.get(f"/assignments/{foreign.pk}/").status_code == 404
    assert client.get("/api/v1/campaigns/other/assignments/").status_code == 404
    slugs = [c["slug"] for c in client.get("/api/v1/campaigns/").json()["results"]]
    assert slugs == ["camp"]
    # The same holds for an operator viewing as the member: no other campaign either.
    operator = get_user_model().objects.create_superuser("op", "op@example.org", "pw-op")
    assert client_for(operator).get("/campaigns/other/people/").status_code == 200
    op_client = client_for(operator)
    assert start(op_client, "camp", member.username).status_code == 302
    assert op_client.get("/campaigns/other/people/").status_code == 404
    assert op_client.get("/campaigns/other/queue/").status_code == 404
    assert op_client.get("/campaigns/camp/queue/").status_code == 200
    del other


@pytest.mark.django_db
def test_only_a_curator_of_the_campaign_starts_it(two_campaigns):
    world, other, _foreign = two_campaigns
    member = world.annotators[1].username
    assert start(client_for(world.annotators[0]), "camp", member).status_code == 403
    assert start(client_for(world.reviewers[0]), "camp", member).status_code == 403
    assert start(client_for(other.curator), "camp", member).status_code == 404  # not theirs
    curator = client_for(world.curator)
    assert start(curator, "camp", other.annotators[0].username).status_code == 404
    assert start(curator, "camp", "nobody").status_code == 404
    assert start(curator, "camp", world.curator.username).status_code == 400
    assert curator.get(START.format(slug="camp")).status_code == 405
    assert not events(EventKind.VIEW_AS_STARTED)
    assert "view-as-banner" not in curator.get("/campaigns/camp/people/").content.decode()
    # CSRF: a forged form without the token is refused.
    forged = Client(enforce_csrf_checks=True)
    forged.force_login(world.curator)
    assert start(forged, "camp", member).status_code == 403
    assert not events(EventKind.VIEW_AS_STARTED)


@pytest.mark.django_db
def test_the_api_with_a_token_is_unaffected(two_campaigns):
    world, _other, _foreign = two_campaigns
    client = client_for(world.curator)
    start(client, "camp", world.annotators[0].username)
    token, _ = Token.objects.get_or_create(user=world.curator)
    res = client.get("/api/v1/campaigns/camp/stats/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert res.status_code == 200  # as the curator, not as the annotator (403)
    assert client.get("/api/v1/campaigns/camp/stats/").status_code == 403  # the session views


@pytest.mark.django_db
def test_a_removed_member_ends_the_view(two_campaigns):
    from review.services import membership_remove

    world, _other, _foreign = two_campaigns
    member = world.reviewers[2]
    client = client_for(world.curator)
    start(client, "camp", member.username)
    membership_remove(campaign=world.campaign, user=member, role=Role.REVIEWER)
    page = client.get("/campaigns/camp/people/")
    assert page.status_code == 200 and "view-as-banner" not in page.content.decode()
    [ended] = events(EventKind.VIEW_AS_ENDED)
    assert ended.data["reason"] == "revoked"


@pytest.mark.django_db(transaction=True)
def test_banner_and_stop_in_the_browser(make_world, new_page, live_server):
    world = make_world(slug="camp")
    world.add_seeds(3)
    world.claim(world.annotators[0])
    page = new_page(world.curator.username, f"pw-{world.curator.username}")
    page.goto(f"{live_server.url}/campaigns/camp/people/")
    page.click(f'tr[data-user="{world.annotators[0].username}"] .view-as-form button')
    page.wait_for_url("**/campaigns/camp/queue/")
    banner = page.locator("#view-as-banner")
    assert banner.is_visible()
    assert "Viewing as camp-ann1" in banner.inner_text() and "read-only" in banner.inner_text()
    screenshot(page, "view-as-banner")
    page.click("#view-as-stop")
    page.wait_for_url("**/campaigns/camp/people/")
    assert page.locator("#view-as-banner").count() == 0
    assert [e.data["reason"] for e in events(EventKind.VIEW_AS_ENDED)] == ["stop"]
