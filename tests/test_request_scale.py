"""Requests at scale (issue 18): what an annotator's and a reviewer's requests cost does not grow
with the campaign. Each request's SQL statements are counted on a small campaign and again after
it grew past a page of everything (open assignments, pending and cast ballots, submitted
rewrites): the counts must be the same. The list pages and the ballot list API read a page at a
time by keyset, and their page links work. On PostgreSQL the panel choice at submit reads the
partial index of pending ballots, never the ballot table."""

from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation.models import Assignment, Membership, Rewrite, Role, Seed, Subcategory
from annotation.selectors import QUEUE_PAGE_SIZE
from review.models import Ballot
from review.selectors import QUEUE_PAGE_SIZE as BALLOTS_PAGE_SIZE
from review.selectors import ballots_cast_recently, pending_ballots_page
from review.services import ballot_cast
from review.services.panels import pending_load

from .conftest import GOOD_DRAFT, World, api_for

API = "/api/v1"


def page_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    client.get("/")  # the session's first request (it may refresh the session) is not counted
    return client


def grow(world: World, *, claims: int, submits: int, votes: int) -> None:
    """More of everything: ``claims`` open assignments of the first annotator, ``submits``
    rewrites of the second one in review (the first reviewer sits on most panels), and
    ``votes`` of the first reviewer's ballots cast; and one seed left to claim."""
    start = world.campaign.seeds.count()
    world.add_seeds(claims + submits + 1, start=start)
    for _ in range(submits):
        world.submitted(world.annotators[1])
    for _ in range(claims):
        assert world.claim(world.annotators[0]) is not None
    reviewer = world.reviewers[0]
    for ballot in Ballot.objects.filter(reviewer=reviewer, status="pending").order_by("id")[:votes]:
        ballot_cast(ballot_id=ballot.pk, actor=reviewer, decision="valid", reasons=[], comment="")


def request_counts(world: World) -> dict[str, int]:
    """SQL statements of each annotator and reviewer request, once each."""
    annotator, author, reviewer = world.annotators[0], world.annotators[2], world.reviewers[0]
    slug = world.campaign.slug
    pages = {u.pk: page_client(u) for u in (annotator, reviewer)}
    apis = {u.pk: api_for(u) for u in (annotator, author, reviewer)}
    counts: dict[str, int] = {}

    def count(name: str, call: Any, status: int) -> Any:
        with CaptureQueriesContext(connection) as captured:
            response = call()
        assert response.status_code == status, (name, response.content[:300])
        counts[name] = len(captured.captured_queries)
        return response

    count("queue page", lambda: pages[annotator.pk].get(f"/campaigns/{slug}/queue/"), 200)
    claimed = count(
        "claim-next",
        lambda: apis[author.pk].post(f"{API}/campaigns/{slug}/assignments/next/"),
        201,
    ).json()
    count(
        "draft save",
        lambda: apis[author.pk].put(
            f"{API}/assignments/{claimed['id']}/draft/", {**GOOD_DRAFT, "version": 0}, format="json"
        ),
        200,
    )
    count("submit", lambda: apis[author.pk].post(f"{API}/assignments/{claimed['id']}/submit/"), 200)
    count("ballots page", lambda: pages[reviewer.pk].get(f"/campaigns/{slug}/ballots/"), 200)
    listed = count(
        "ballot list API", lambda: apis[reviewer.pk].get(f"{API}/campaigns/{slug}/ballots/"), 200
    ).json()
    count(
        "ballot list API, cast",
        lambda: apis[reviewer.pk].get(f"{API}/campaigns/{slug}/ballots/?status=cast"),
        200,
    )
    ballot = listed["results"][0]["id"]
    count("vote page", lambda: pages[reviewer.pk].get(f"/ballots/{ballot}/"), 200)
    count(
        "vote",
        lambda: apis[reviewer.pk].post(
            f"{API}/ballots/{ballot}/vote/", {"decision": "valid"}, format="json"
        ),
        200,
    )
    return counts


def test_query_counts_per_request_do_not_grow_with_the_campaign(world):
    grow(world, claims=2, submits=3, votes=1)
    small = request_counts(world)
    grow(world, claims=QUEUE_PAGE_SIZE + 5, submits=BALLOTS_PAGE_SIZE + 40, votes=15)
    assert Assignment.objects.filter(annotator=world.annotators[0], status="active").count() > (
        QUEUE_PAGE_SIZE
    )
    assert Ballot.objects.filter(reviewer=world.reviewers[0], status="pending").count() > (
        BALLOTS_PAGE_SIZE
    )
    large = request_counts(world)
    assert large == small


def test_claim_next_over_the_api_reads_no_membership_and_answers_from_the_claim(world):
    world.add_seeds(2)
    client = api_for(world.annotators[0])
    url = f"{API}/campaigns/{world.campaign.slug}/assignments/next/"
    client.post(url)  # warm: content types and the like
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url)
    assert response.status_code == 201
    sql = [q["sql"] for q in captured.captured_queries]
    # The token, the campaign, the claim (with the role check in it on PostgreSQL, returning
    # the rows the answer shows: no reload).
    assert not any("annotation_membership" in q and q.startswith("SELECT") for q in sql) or (
        connection.vendor != "postgresql"
    ), sql
    assert len(sql) == 3 if connection.vendor == "postgresql" else len(sql) <= 12, sql
    body = response.json()
    assert body["draft"]["version"] == 0 and body["seed"]["external_id"] in {"s0", "s1"}
    assert body["campaign"] == world.campaign.slug and body["status"] == "active"
    # The refusals are the same as before: a reviewer 403, a stranger 404, no campaign 404.
    assert api_for(world.reviewers[0]).post(url).status_code == 403
    stranger = World(slug="elsewhere").annotators[0]
    assert api_for(stranger).post(url).status_code == 404
    missing = api_for(world.annotators[0]).post(f"{API}/campaigns/nope/assignments/next/")
    assert missing.status_code == 404 and missing.json()["detail"] == "No such campaign."


def test_queue_page_reads_a_page_at_a_time_with_working_links(world):
    world.add_seeds(QUEUE_PAGE_SIZE + 7)
    annotator = world.annotators[0]
    claimed = [world.claim(annotator) for _ in range(QUEUE_PAGE_SIZE + 7)]
    Seed.objects.filter(pk=claimed[0].seed_id).update(title="A" * 300)
    client = page_client(annotator)
    first = client.get(f"/campaigns/{world.campaign.slug}/queue/").content.decode()
    ids = sorted(a.pk for a in claimed)
    assert f"/assignments/{ids[0]}/" in first and f"/assignments/{ids[-1]}/" not in first
    assert f"?after={ids[QUEUE_PAGE_SIZE - 1]}" in first and 'id="queue-prev"' not in first
    assert f'id="count-open">{QUEUE_PAGE_SIZE + 7}<' in first
    assert "A" * 79 + "…" in first and "A" * 81 not in first  # the title, cut
    second = client.get(
        f"/campaigns/{world.campaign.slug}/queue/?after={ids[QUEUE_PAGE_SIZE - 1]}"
    ).content.decode()
    assert all(f"/assignments/{pk}/" in second for pk in ids[QUEUE_PAGE_SIZE:])
    assert f"/assignments/{ids[0]}/" not in second and 'id="queue-next"' not in second
    assert f"?before={ids[QUEUE_PAGE_SIZE]}" in second
    back = client.get(
        f"/campaigns/{world.campaign.slug}/queue/?before={ids[QUEUE_PAGE_SIZE]}"
    ).content.decode()
    assert all(f"/assignments/{pk}/" in back for pk in ids[:QUEUE_PAGE_SIZE])
    assert 'id="queue-prev"' not in back and 'id="queue-next"' in back
    # A mangled link reads the first page.
    assert client.get(f"/campaigns/{world.campaign.slug}/queue/?after=x").status_code == 200


def test_ballot_list_api_pages_by_cursor_and_still_by_page_number(world):
    world.add_seeds(12)
    for _ in range(12):
        world.submitted(world.annotators[1])
    reviewer = world.reviewers[0]
    pending = list(
        Ballot.objects.filter(reviewer=reviewer, status="pending")
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    assert len(pending) > 5
    client = api_for(reviewer)
    url = f"{API}/campaigns/{world.campaign.slug}/ballots/?page_size=4"
    body = client.get(url).json()
    assert set(body) >= {"count", "next", "previous", "results"}
    assert body["count"] == len(pending) and body["previous"] is None and "cursor=" in body["next"]
    seen = [b["id"] for b in body["results"]]
    pages = [body]
    while body["next"]:
        body = client.get(body["next"]).json()
        assert body["previous"] and body["count"] == len(pending)
        pages.append(body)
        seen += [b["id"] for b in body["results"]]
    assert seen == pending
    back = client.get(pages[-1]["previous"]).json()
    assert [b["id"] for b in back["results"]] == [b["id"] for b in pages[-2]["results"]]
    # The old way still works: ?page=2.
    second = client.get(url + "&page=2").json()
    assert [b["id"] for b in second["results"]] == pending[4:8]
    assert "page=3" in second["next"]
    bad = client.get(url + "&cursor=zzz")
    assert bad.status_code == 400 and "cursor" in bad.json()["errors"]


def test_ballots_page_pages_by_cursor(world):
    world.add_seeds(BALLOTS_PAGE_SIZE + 15)
    for _ in range(BALLOTS_PAGE_SIZE + 15):
        world.submitted(world.annotators[1])
    reviewer = world.reviewers[0]
    pending = list(
        Ballot.objects.filter(reviewer=reviewer, status="pending")
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    assert len(pending) > BALLOTS_PAGE_SIZE
    client = page_client(reviewer)
    first = client.get(f"/campaigns/{world.campaign.slug}/ballots/").content.decode()
    assert f'href="/ballots/{pending[0]}/"' in first
    assert f'href="/ballots/{pending[BALLOTS_PAGE_SIZE]}/"' not in first
    assert 'id="ballots-next"' in first and 'id="ballots-prev"' not in first
    link = first.split('id="ballots-next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = client.get(f"/campaigns/{world.campaign.slug}/ballots/{link}").content.decode()
    assert all(f'href="/ballots/{pk}/"' in second for pk in pending[BALLOTS_PAGE_SIZE:])
    assert f'href="/ballots/{pending[0]}/"' not in second and 'id="ballots-prev"' in second
    bad = client.get(f"/campaigns/{world.campaign.slug}/ballots/?cursor=nonsense")
    assert bad.status_code == 200 and f'href="/ballots/{pending[0]}/"' in bad.content.decode()


def test_panel_choice_and_reviewer_lists_read_indexes(postgres, world):
    """Enough ballots that a scan would show, then ANALYZE: the load of each candidate reviewer
    (the panel choice at submit) is read by an index, never by a scan of the ballot table; the
    ballots page's pending page and recent votes come from their partial indexes in order,
    without sorting the reviewer's ballots."""
    campaign, annotator = world.campaign, world.annotators[0]
    subcategory = Subcategory.objects.filter(campaign=campaign).first()
    n = 2000
    seeds = Seed.objects.bulk_create(
        Seed(campaign=campaign, external_id=f"p{i}", body=f"q {i}", content_hash=f"h{i}")
        for i in range(n)
    )
    assignments = Assignment.objects.bulk_create(
        Assignment(campaign=campaign, seed=s, annotator=annotator, status="submitted")
        for s in seeds
    )
    rewrites = Rewrite.objects.bulk_create(
        Rewrite(
            campaign=campaign,
            seed=a.seed,
            assignment=a,
            author=annotator,
            text="t",
            difficulty="easy",
            natural_language="en",
            subcategory=subcategory,
            panel_size=4,
            accept_threshold=3,
            status="accepted" if i % 10 else "submitted",
        )
        for i, a in enumerate(assignments)
    )
    now = timezone.now()
    Ballot.objects.bulk_create(
        Ballot(
            campaign=campaign,
            rewrite=r,
            reviewer=reviewer,
            status="cast" if r.status == "accepted" else "pending",
            decision="valid" if r.status == "accepted" else "",
            cast_at=now - timedelta(seconds=i) if r.status == "accepted" else None,
        )
        for i, r in enumerate(rewrites)
        for reviewer in world.reviewers
    )
    with connection.cursor() as cur:
        cur.execute("ANALYZE review_ballot")
        cur.execute("ANALYZE annotation_rewrite")

    candidates = (
        Membership.objects.filter(campaign=campaign, role=Role.REVIEWER)
        .exclude(user_id__in=[annotator.pk])
        .annotate(load=Coalesce(pending_load(campaign_id=campaign.pk), Value(0)))
        .order_by("load", "user_id")
        .values_list("user_id", flat=True)[:4]
    )
    plan = candidates.explain()
    assert "Seq Scan on review_ballot" not in plan, plan
    assert "Index" in plan.split("SubPlan")[1], plan

    reviewer = world.reviewers[0]
    for read, index in [
        (
            lambda: pending_ballots_page(user=reviewer, campaign=campaign, cursor=None),
            "ballot_pending_queue",
        ),
        (lambda: ballots_cast_recently(user=reviewer, campaign=campaign), "ballot_cast_recent"),
    ]:
        with CaptureQueriesContext(connection) as captured:
            read()
        with connection.cursor() as cur:
            cur.execute("EXPLAIN " + captured.captured_queries[0]["sql"])
            plan = "\n".join(row[0] for row in cur.fetchall())
        assert index in plan and "Sort" not in plan.split(index)[0], plan
        assert "Seq Scan on review_ballot" not in plan, plan

    # And a submit seats the least-loaded reviewers through it.
    world.add_seeds(1)
    rewrite = world.submitted(world.annotators[1])
    assert rewrite.ballots.count() == 4
