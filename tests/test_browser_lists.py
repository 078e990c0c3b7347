"""The data browser's lists (issue 12, part 1): the API and pages of seeds, assignments,
rewrites and released samples with every filter, search, sorting and keyset pagination; the
CSV (formula-escaped) and JSON-lines exports; the bulk actions (return, reassign, put back in the
pool) with skipped rows and the cap; access for each role; query counts that do not grow with
the page size; and PostgreSQL's full-text path with its GIN index."""

import base64
import csv
import io
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.models import Assignment, Campaign, Event, Rewrite, Role, Seed
from browser import selectors, services
from browser.downloads import csv_cell
from core.transitions import EventKind
from exports.models import Release, ReleaseSample
from quality.models import ContaminationHit, ReferenceDocument, ReferenceSet, SimilarityFlag
from review.models import Ballot
from review.services import ballot_cast, membership_add

from .conftest import World, api_for, cast_panel
from .test_schema import check, schema  # noqa: F401 - the schema fixture

API = "/api/v1/campaigns"
EVIL = '=HYPERLINK("http://evil.example","click")'


class Data:
    """A campaign with every kind of row: seeds in two subcategories (one titled with a
    formula and one with markup), an accepted, a rejected (copies its seed) and a no-consensus
    rewrite, an untouched and a started active assignment, a contamination hit and a release."""

    def __init__(self, world: World) -> None:
        self.world = world
        c = world.campaign
        world.add_seeds(6)
        world.add_seeds(
            1, start=100, subcategory="Data Structures", title=EVIL, text="Linked list reversal"
        )
        world.add_seeds(
            1,
            start=101,
            subcategory="Data Structures",
            title="<script>alert(1)</script>",
            text="Hash map collisions in Go",
        )
        ann = world.annotators
        self.accepted = world.submitted(ann[0], text="Write a binary search in Rust, please.")
        cast_panel(self.accepted, ["valid"] * 4)
        self.rejected = world.submitted(
            ann[1], text="-1 is the answer; explain recursion", difficulty="hard"
        )
        cast_panel(self.rejected, ["invalid"] * 4)
        self.split = world.submitted(
            ann[2], text="Explain the Python GIL and threads", programming_languages=["rust"]
        )
        cast_panel(self.split, ["valid", "valid", "invalid", "invalid"])
        self.untouched = world.claim(ann[3])
        self.started = world.claim(ann[0])
        world.draft(self.started, text="A draft about sorting")
        self.draft = Rewrite.objects.get(assignment=self.started)
        for r in (self.accepted, self.rejected, self.split):
            r.refresh_from_db()
        ref = ReferenceSet.objects.create(name="humaneval", loaded_at=timezone.now())
        doc = ReferenceDocument.objects.create(
            reference_set=ref, doc_id="HumanEval/0", text="binary search", line=1
        )
        ContaminationHit.objects.create(
            campaign=c, rewrite=self.accepted, document=doc, n=10, ngram="a b c", overlap=2
        )
        SimilarityFlag.objects.create(
            campaign=c, rewrite=self.rejected, kind=SimilarityFlag.Kind.COPIED_SEED, score=0.9
        )
        self.release = Release.objects.create(campaign=c, name="v1", status=Release.Status.DONE)
        self.sample = ReleaseSample.objects.create(
            release=self.release, campaign=c, rewrite=self.accepted, sample_id="abc123", position=1
        )
        self.curator = api_for(world.curator)

    def ids(self, kind: str, query: str = "", status: int = 200) -> list[int]:
        res = self.curator.get(f"{API}/{self.world.campaign.slug}/browse/{kind}/?{query}")
        assert res.status_code == status, res.json()
        return [row["id"] for row in res.json()["results"]] if status == 200 else []


@pytest.fixture
def data(world: World) -> Data:
    return Data(world)


def seed_pk(world: World, external_id: str) -> int:
    return Seed.objects.get(campaign=world.campaign, external_id=external_id).pk


# --- lists, shapes and filters ------------------------------------------------------------------


def test_each_kind_lists_its_rows_in_the_documented_shape(data, schema):  # noqa: F811
    c = data.world.campaign
    for kind in selectors.KINDS:
        res = data.curator.get(f"{API}/{c.slug}/browse/{kind}/")
        check(schema, "get", f"/api/v1/campaigns/{{slug}}/browse/{kind}/", res)
        body = res.json()
        assert body["count"] == len(body["results"]) and body["count_capped"] is False
        assert body["next"] is None and body["previous"] is None
    assert data.ids("seeds") == sorted(Seed.objects.filter(campaign=c).values_list("pk", flat=1))
    assert data.ids("rewrites") == [
        data.accepted.pk,
        data.rejected.pk,
        data.split.pk,
        data.draft.pk,
    ]
    assert data.ids("samples") == [data.sample.pk]
    rewrite = data.curator.get(f"{API}/{c.slug}/browse/rewrites/").json()["results"][0]
    assert rewrite["flags"] == ["contaminated"] and rewrite["votes"] == {"valid": 4, "invalid": 0}
    assert rewrite["programming_languages"] == ["python"]
    assert rewrite["subcategory"] == "Algorithm Design and Implementation"
    sample = data.curator.get(f"{API}/{c.slug}/browse/samples/").json()["results"][0]
    assert sample["release"] == {"id": data.release.pk, "name": "v1"}
    assert sample["seed"]["id"] == data.accepted.seed_id


@pytest.mark.parametrize(
    "kind,query,expected",
    [
        ("seeds", "status=assigned", lambda d: sorted([d.untouched.seed_id, d.started.seed_id])),
        (
            "seeds",
            "status=done&status=assigned",
            lambda d: sorted(
                [
                    d.accepted.seed_id,
                    d.rejected.seed_id,
                    d.split.seed_id,
                    d.untouched.seed_id,
                    d.started.seed_id,
                ]
            ),
        ),
        (
            "seeds",
            "subcategory=data structures",
            lambda d: [seed_pk(d.world, "s100"), seed_pk(d.world, "s101")],
        ),
        (
            "seeds",
            "category=Development and Programming&subcategory=Data Structures",
            lambda d: [seed_pk(d.world, "s100"), seed_pk(d.world, "s101")],
        ),
        ("seeds", "annotator=camp-ann4", lambda d: [d.untouched.seed_id]),
        ("seeds", "flags=contaminated", lambda d: [d.accepted.seed_id]),
        (
            "seeds",
            "flags=contaminated&flags=copied_seed",
            lambda d: sorted([d.accepted.seed_id, d.rejected.seed_id]),
        ),
        ("seeds", "created_after=2000-01-01&created_before=2000-12-31", lambda d: []),
        ("assignments", "status=active", lambda d: [d.untouched.pk, d.started.pk]),
        ("assignments", "status=active&started=no", lambda d: [d.untouched.pk]),
        (
            "assignments",
            "started=yes&annotator=camp-ann1",
            lambda d: [d.accepted.assignment_id, d.started.pk],
        ),
        ("assignments", "flags=copied_seed", lambda d: [d.rejected.assignment_id]),
        ("rewrites", "status=rejected", lambda d: [d.rejected.pk]),
        (
            "rewrites",
            "outcome=no_consensus&outcome=accepted",
            lambda d: [d.accepted.pk, d.split.pk],
        ),
        ("rewrites", "difficulty=hard", lambda d: [d.rejected.pk]),
        ("rewrites", "programming_language=RS", lambda d: [d.split.pk]),
        (
            "rewrites",
            "programming_language=py",
            lambda d: [d.accepted.pk, d.rejected.pk, d.draft.pk],
        ),
        (
            "rewrites",
            "natural_language=English",
            lambda d: [d.accepted.pk, d.rejected.pk, d.split.pk, d.draft.pk],
        ),
        ("rewrites", "natural_language=zh", lambda d: []),
        ("rewrites", "annotator=camp-ann2", lambda d: [d.rejected.pk]),
        ("rewrites", "flags=near_duplicate", lambda d: []),
        ("rewrites", "flags=copied_seed", lambda d: [d.rejected.pk]),
        ("rewrites", "subcategory=Data Structures", lambda d: []),
        ("samples", "release=v1", lambda d: [d.sample.pk]),
        ("samples", "flags=contaminated&difficulty=easy", lambda d: [d.sample.pk]),
        ("samples", "annotator=camp-ann2", lambda d: []),
    ],
)
def test_filters(data, kind, query, expected):
    assert data.ids(kind, query) == expected(data)


def test_reviewer_filter_lists_the_revisions_they_have_a_ballot_on(data):
    ballot = Ballot.objects.filter(rewrite=data.split).select_related("reviewer").first()
    with_ballots = set(
        Ballot.objects.filter(reviewer=ballot.reviewer).values_list("rewrite_id", flat=True)
    )
    assert set(data.ids("rewrites", f"reviewer={ballot.reviewer.username}")) == with_ballots
    assert data.split.pk in with_ballots


def test_curator_decided_outcome_and_dates(data):
    Rewrite.objects.filter(pk=data.split.pk).update(decided_by_curator=True)
    assert data.ids("rewrites", "outcome=curator_decided") == [data.split.pk]
    today = timezone.localdate().isoformat()
    assert len(data.ids("rewrites", f"decided_after={today}&decided_before={today}")) == 3
    assert data.ids("rewrites", "submitted_before=2001-01-01") == []


def test_a_bad_filter_value_is_a_400_that_names_the_field_and_the_known_values(data):
    res = data.curator.get(f"{API}/camp/browse/seeds/?subcategory=Nope")
    assert res.status_code == 400
    assert "Algorithm Design and Implementation" in res.json()["errors"]["subcategory"][0]
    res = data.curator.get(f"{API}/camp/browse/seeds/?status=flying")
    assert res.status_code == 400 and "status" in res.json()["errors"]
    for query, field in [
        ("programming_language=cobol2", "programming_language"),
        ("natural_language=xx-nope", "natural_language"),
        ("sort=title", "sort"),
        ("page_size=501", "page_size"),
        ("page_size=abc", "page_size"),
        ("cursor=garbage", "cursor"),
    ]:
        res = data.curator.get(f"{API}/camp/browse/rewrites/?{query}")
        assert res.status_code == 400, query
        assert field in res.json()["errors"], (query, res.json())
    res = data.curator.get(f"{API}/camp/browse/samples/?release=v9")
    assert res.status_code == 400 and res.json()["errors"]["release"] == ["choose one of 'v1'"]


def test_search_on_sqlite_every_word_must_appear(data):
    assert data.ids("seeds", "q=hash map") == [seed_pk(data.world, "s101")]
    assert data.ids("seeds", "q=LINKED") == [seed_pk(data.world, "s100")]
    assert data.ids("seeds", "q=HYPERLINK") == [seed_pk(data.world, "s100")]  # the title
    assert data.ids("seeds", "q=question -number") == []
    assert data.ids("rewrites", "q=rust search") == [data.accepted.pk]
    assert data.ids("rewrites", "q=explain -recursion") == [data.split.pk]
    assert data.ids("rewrites", 'q="python gil"') == [data.split.pk]
    # Assignments search their seed's text; samples their rewrite's.
    assert data.ids("assignments", "q=Question number") == sorted(
        Assignment.objects.filter(campaign=data.world.campaign).values_list("pk", flat=True)
    )
    assert data.ids("samples", "q=binary") == [data.sample.pk]
    assert data.ids("samples", "q=recursion") == []


# --- sorting and keyset pagination --------------------------------------------------------------


def walk(client: APIClient, url: str) -> tuple[list[list[int]], str | None]:
    """Follow 'next' from ``url`` to the end: the pages' ids and the last page's URL."""
    pages, last = [], None
    while url:
        body = client.get(url).json()
        pages.append([row["id"] for row in body["results"]])
        last, url = url, body["next"]
    return pages, last


@pytest.mark.parametrize("sort", ["id", "-id", "external_id", "-external_id", "status", "-created"])
def test_cursor_pagination_walks_every_row_once_forwards_and_backwards(data, sort):
    c = data.world.campaign
    order = {
        "id": ["pk"],
        "-id": ["-pk"],
        "external_id": ["external_id", "pk"],
        "-external_id": ["-external_id", "-pk"],
        "status": ["status", "pk"],
        "-created": ["-created_at", "-pk"],
    }[sort]
    expected = list(Seed.objects.filter(campaign=c).order_by(*order).values_list("pk", flat=True))
    pages, last = walk(data.curator, f"{API}/camp/browse/seeds/?sort={sort}&page_size=3")
    assert [pk for page in pages for pk in page] == expected
    assert all(len(page) == 3 for page in pages[:-1])
    # Back from the last page by 'previous', page by page.
    back, url = [], data.curator.get(last).json()["previous"]
    while url:
        body = data.curator.get(url).json()
        back.insert(0, [row["id"] for row in body["results"]])
        url = body["previous"]
    assert back == pages[:-1]
    # The links keep the filter and the sort.
    body = data.curator.get(f"{API}/camp/browse/seeds/?sort={sort}&page_size=3&q=question").json()
    assert f"sort={sort.replace('-', '-')}" in body["next"] and "q=question" in body["next"]


def test_sorting_by_a_column_that_can_be_empty_puts_empty_values_last_both_ways(data):
    # A waiting revision has no decision yet.
    waiting = data.world.submitted(data.world.annotators[3])
    for sort in ("decided", "-decided"):
        pages, last = walk(data.curator, f"{API}/camp/browse/rewrites/?sort={sort}&page_size=1")
        got = [pk for page in pages for pk in page]
        decided = sorted(
            [data.accepted, data.rejected, data.split],
            key=lambda r: (r.decided_at, r.pk),
            reverse=sort.startswith("-"),
        )
        empty = sorted([data.draft.pk, waiting.pk], reverse=sort.startswith("-"))
        assert got == [r.pk for r in decided] + empty, sort
        back, url = [], data.curator.get(last).json()["previous"]
        while url:
            body = data.curator.get(url).json()
            back.insert(0, body["results"][0]["id"])
            url = body["previous"]
        assert back == got[:-1]


def test_a_cursor_of_another_sort_is_refused(data):
    body = data.curator.get(f"{API}/camp/browse/seeds/?sort=id&page_size=2").json()
    cursor = body["next"].split("cursor=")[1].split("&")[0]
    res = data.curator.get(f"{API}/camp/browse/seeds/?sort=-id&cursor={cursor}")
    assert res.status_code == 400 and "sort" in res.json()["detail"]


def test_the_count_is_capped(data, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    body = data.curator.get(f"{API}/camp/browse/seeds/").json()
    assert body["count"] == 3 and body["count_capped"] is True and len(body["results"]) == 8
    body = data.curator.get(f"{API}/camp/browse/rewrites/?status=rejected&status=accepted").json()
    assert body["count"] == 2 and body["count_capped"] is False


# --- exports ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,cell",
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2", "'-2"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (-2, "-2"),
        (None, ""),
        (True, "true"),
        (["python", "=x"], "python|=x"),
        (["=x", "y"], "'=x|y"),
    ],
)
def test_csv_cells_are_formula_escaped(value, cell):
    assert csv_cell(value) == cell


def test_csv_export_streams_every_filtered_row_formula_escaped(data):
    res = data.curator.get(f"{API}/camp/browse/seeds.csv?subcategory=Data Structures&page_size=1")
    assert res.status_code == 200 and res.streaming
    assert res["Content-Type"].startswith("text/csv")
    assert "attachment" in res["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(res.streaming_content).decode())))
    assert [r["external_id"] for r in rows] == ["s100", "s101"]  # page_size is ignored
    assert rows[0]["title"] == "'" + EVIL
    assert rows[0]["body"] == "Linked list reversal"
    assert rows[1]["title"] == "<script>alert(1)</script>"  # CSV is not HTML
    res = data.curator.get(f"{API}/camp/browse/rewrites.csv?status=rejected")
    (row,) = csv.DictReader(io.StringIO(b"".join(res.streaming_content).decode()))
    assert row["text"] == "'-1 is the answer; explain recursion"
    assert row["flags"] == "copied_seed" and row["votes_invalid"] == "4"
    assert row["id"] == str(data.rejected.pk) and row["programming_languages"] == "python"


def test_jsonl_export_keeps_the_filter_and_the_sort(data):
    res = data.curator.get(
        f"{API}/camp/browse/rewrites.jsonl?sort=-id&outcome=accepted&outcome=rejected"
    )
    assert res["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in b"".join(res.streaming_content).decode().splitlines()]
    assert [r["id"] for r in lines] == [data.rejected.pk, data.accepted.pk]
    assert lines[1]["text"] == "Write a binary search in Rust, please."
    assert lines[1]["seed_external_id"] and lines[1]["flags"] == ["contaminated"]
    empty = data.curator.get(f"{API}/camp/browse/samples.jsonl?release=v1&q=nothingmatches")
    assert b"".join(empty.streaming_content) == b""
    header_only = data.curator.get(f"{API}/camp/browse/samples.csv?q=nothingmatches")
    assert b"".join(header_only.streaming_content).decode().startswith("id,")


def test_exports_read_in_keyset_chunks(data):
    from browser import filters

    c = data.world.campaign
    query = filters.list_query(
        campaign=c, kind="seeds", params=filters.QueryDict("sort=-external_id"), export=True
    )
    with CaptureQueriesContext(connection) as ctx:
        got = [row.pk for row in filters.export_pages(query, chunk=3)]
    expected = list(
        Seed.objects.filter(campaign=c).order_by("-external_id", "-pk").values_list("pk", flat=1)
    )
    assert got == expected
    assert len(ctx.captured_queries) == 3  # 8 rows in chunks of 3


def test_exports_through_the_pages_use_the_session(data):
    client = Client()
    client.force_login(data.world.curator)
    res = client.get("/campaigns/camp/browse/assignments.csv?status=active")
    assert res.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(res.streaming_content).decode())))
    assert [int(r["id"]) for r in rows] == [data.untouched.pk, data.started.pk]
    assert rows[0]["seed_body"].startswith("Question number")


def test_the_workspace_navigation_marks_data_on_every_list_and_sampling_not_seeds(data):
    client = Client()
    client.force_login(data.world.curator)

    def nav(path: str) -> str:
        text = client.get(path).content.decode()
        start = text.index('<nav class="workspace-nav"')
        return text[start : text.index("</nav>", start)]

    for path in ("/campaigns/camp/browse/", "/campaigns/camp/browse/rewrites/"):
        links = nav(path)
        assert '<a href="/campaigns/camp/browse/" aria-current="page">Data</a>' in links
        assert links.count('aria-current="page"') == 1
    links = nav("/campaigns/camp/seeds/sample/")
    assert '<a href="/campaigns/camp/seeds/sample/" aria-current="page">' in links
    assert links.count('aria-current="page"') == 1


# --- bulk actions -------------------------------------------------------------------------------


def bulk(client: APIClient, kind: str, body: dict[str, Any], query: str = "") -> Any:
    return client.post(f"{API}/camp/browse/{kind}/bulk/?{query}", body, format="json")


def test_bulk_return_changes_the_eligible_and_skips_the_rest_with_reasons(data, schema):  # noqa: F811
    res = bulk(
        data.curator,
        "rewrites",
        {
            "action": "return",
            "ids": [data.accepted.pk, data.rejected.pk, data.split.pk, 99999],
            "note": "Say which recursion",
        },
    )
    check(schema, "post", "/api/v1/campaigns/{slug}/browse/rewrites/bulk/", res)
    body = res.json()
    assert body["changed"] == [data.rejected.pk, data.split.pk]
    skipped = {s["id"]: s["reason"] for s in body["skipped"]}
    assert "accepted" in skipped[data.accepted.pk]
    assert skipped[99999] == "no such row in this campaign"
    for r in (data.rejected, data.split):
        r.refresh_from_db()
        assert r.status == Rewrite.Status.RETURNED
        new = Rewrite.objects.get(previous=r)
        assert new.feedback["note"] == "Say which recursion"
    assert Event.objects.filter(kind=EventKind.REWRITE_RETURNED).count() == 2


def test_bulk_return_skips_a_revision_whose_author_left(data):
    from review.services import membership_remove

    membership_remove(
        campaign=data.world.campaign,
        user=data.world.annotators[1],
        role="annotator",
        reassign_to=data.world.annotators[2],
    )
    body = bulk(
        data.curator,
        "rewrites",
        {"action": "return", "all_matching": True},
        "outcome=rejected&outcome=no_consensus",
    ).json()
    assert body["changed"] == [data.split.pk]
    assert "no longer an annotator" in body["skipped"][0]["reason"]


def test_bulk_reassign(data, schema):  # noqa: F811
    target = data.world.annotators[1]
    res = bulk(
        data.curator,
        "assignments",
        {
            "action": "reassign",
            "annotator": target.username,
            "note": "ann1 is away",
            "ids": [data.untouched.pk, data.started.pk, data.accepted.assignment_id],
        },
    )
    check(schema, "post", "/api/v1/campaigns/{slug}/browse/assignments/bulk/", res)
    body = res.json()
    assert body["changed"] == [data.untouched.pk, data.started.pk]
    assert "submitted" in body["skipped"][0]["reason"]
    assert set(
        Assignment.objects.filter(pk__in=body["changed"]).values_list("annotator_id", flat=True)
    ) == {target.pk}
    assert Rewrite.objects.get(assignment=data.started).author_id == target.pk  # the draft too
    assert Event.objects.filter(kind=EventKind.ASSIGNMENT_REASSIGNED).count() == 2
    res = bulk(
        data.curator,
        "assignments",
        {"action": "reassign", "annotator": "camp-rev1", "ids": [data.untouched.pk]},
    )
    assert res.status_code == 400 and "annotator" in res.json()["errors"]
    res = bulk(data.curator, "assignments", {"action": "reassign", "ids": [data.untouched.pk]})
    assert res.status_code == 400 and "annotator" in res.json()["errors"]


def test_bulk_reassign_is_all_or_nothing_at_the_annotators_limit(data):
    Campaign.objects.filter(pk=data.world.campaign.pk).update(max_active_assignments=1)
    target = data.world.annotators[2]
    res = bulk(
        data.curator,
        "assignments",
        {
            "action": "reassign",
            "annotator": target.username,
            "ids": [data.untouched.pk, data.started.pk],
        },
    )
    assert res.status_code == 400 and "limit of 1" in res.json()["detail"]
    assert Assignment.objects.filter(annotator=target, status="active").count() == 0
    assert not Event.objects.filter(kind=EventKind.ASSIGNMENT_REASSIGNED).exists()


def test_bulk_release_puts_unstarted_seeds_back_in_the_pool(data, schema):  # noqa: F811
    res = bulk(
        data.curator, "assignments", {"action": "release", "all_matching": True}, "status=active"
    )
    check(schema, "post", "/api/v1/campaigns/{slug}/browse/assignments/bulk/", res)
    body = res.json()
    assert body["changed"] == [data.untouched.pk]
    assert body["skipped"] == [
        {
            "id": data.started.pk,
            "reason": "its annotator has started it (a draft or a revision); reassign it",
        }
    ]
    data.untouched.refresh_from_db()
    assert data.untouched.status == Assignment.Status.RELEASED
    assert Seed.objects.get(pk=data.untouched.seed_id).status == Seed.Status.SAMPLED
    event = Event.objects.get(kind=EventKind.ASSIGNMENT_RELEASED)
    assert event.object_id == data.untouched.pk and event.actor_id == data.world.curator.pk


def test_bulk_release_of_seeds(data):
    seeds = [data.untouched.seed_id, data.started.seed_id, data.accepted.seed_id]
    body = bulk(data.curator, "seeds", {"action": "release", "ids": seeds}).json()
    assert body["changed"] == [data.untouched.seed_id]
    reasons = {s["id"]: s["reason"] for s in body["skipped"]}
    assert "started" in reasons[data.started.seed_id]
    assert reasons[data.accepted.seed_id] == "no annotator holds it now"


def test_bulk_selection_is_capped(data, monkeypatch):
    monkeypatch.setattr(services, "BULK_LIMIT", 2)
    res = bulk(data.curator, "seeds", {"action": "release", "all_matching": True})
    assert res.status_code == 400
    assert "more than 2 rows" in res.json()["detail"] and res.json()["limit"] == 2
    res = bulk(data.curator, "seeds", {"action": "release", "ids": [1, 2, 3]})
    assert res.status_code == 400 and "at most 2" in res.json()["detail"]
    res = bulk(
        data.curator,
        "seeds",
        {"action": "release", "all_matching": True},
        "status=assigned&annotator=camp-ann4",
    )
    assert res.status_code == 200 and res.json()["changed"] == [data.untouched.seed_id]


def test_bulk_input_errors(data):
    for kind, body, field in [
        ("seeds", {"action": "release"}, "ids"),
        ("seeds", {"action": "release", "ids": [1], "all_matching": True}, "all_matching"),
        ("seeds", {"action": "return", "ids": [1]}, "action"),
        ("rewrites", {"action": "release", "ids": [1]}, "action"),
        ("seeds", {"action": "explode", "ids": [1]}, "action"),
    ]:
        res = bulk(data.curator, kind, body)
        assert res.status_code == 400, body
        assert field in res.json()["errors"], res.json()
    assert bulk(data.curator, "samples", {"action": "release", "ids": [1]}).status_code == 404
    res = bulk(data.curator, "rewrites", {"action": "return", "all_matching": True}, "sort=bad")
    assert res.status_code == 400


# --- access -------------------------------------------------------------------------------------


ENDPOINTS = [
    *[("get", f"{API}/camp/browse/{kind}/") for kind in selectors.KINDS],
    *[
        ("get", f"{API}/camp/browse/{kind}.{fmt}")
        for kind in selectors.KINDS
        for fmt in ("csv", "jsonl")
    ],
    *[("post", f"{API}/camp/browse/{kind}/bulk/") for kind in ("seeds", "assignments", "rewrites")],
]
PAGES = [
    "/campaigns/camp/browse/",
    *[f"/campaigns/camp/browse/{kind}/" for kind in selectors.KINDS],
    "/campaigns/camp/browse/rewrites.csv",
]


def test_each_role_and_a_foreign_campaign(data, make_world):
    other = make_world(slug="other")
    body = {"action": "release", "ids": [data.untouched.seed_id]}
    for method, url in ENDPOINTS:

        def call(client: Any, method: str = method, url: str = url) -> Any:
            return getattr(client, method)(url, body, format="json")

        assert call(APIClient()).status_code == 401, url
        assert call(api_for(data.world.annotators[0])).status_code == 403, url
        assert call(api_for(data.world.reviewers[0])).status_code == 403, url
        assert call(api_for(other.curator)).status_code == 404, url
    assert Seed.objects.get(pk=data.untouched.seed_id).status == Seed.Status.ASSIGNED
    for method, url in ENDPOINTS:
        sent = {"action": "return", "ids": [1]} if "rewrites/bulk" in url else body
        assert getattr(data.curator, method)(url, sent, format="json").status_code == 200, url
    for url in PAGES:
        assert Client().get(url).status_code == 302  # to the login page
        for user, status in [
            (data.world.annotators[0], 403),
            (data.world.reviewers[0], 403),
            (other.curator, 404),
            (data.world.curator, 200),
        ]:
            client = Client()
            client.force_login(user)
            assert client.get(url).status_code == status, (url, user)
    client = Client()
    client.force_login(data.world.annotators[0])
    res = client.post("/campaigns/camp/browse/seeds/bulk/", {"action": "release", "ids": "1"})
    assert res.status_code == 403


def test_an_operator_browses_every_campaign(data):
    from django.contrib.auth import get_user_model

    operator = get_user_model().objects.create_user(
        "op", password="x", is_staff=True, is_superuser=True
    )
    assert api_for(operator).get(f"{API}/camp/browse/seeds/").status_code == 200


# --- query counts -------------------------------------------------------------------------------


@pytest.fixture
def many(world: World) -> World:
    world.add_seeds(14)
    for i in range(12):
        rewrite = world.submitted(world.annotators[i % 4])
        cast_panel(rewrite, ["valid"] * 4 if i % 2 else ["invalid"] * 4)
    release = Release.objects.create(campaign=world.campaign, name="v1", status="done")
    for pos, r in enumerate(Rewrite.objects.filter(campaign=world.campaign, status="accepted")):
        ReleaseSample.objects.create(
            release=release, campaign=world.campaign, rewrite=r, sample_id=f"x{pos}", position=pos
        )
    world.claim(world.annotators[0])
    return world


def queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        res = client.get(url)
        assert res.status_code == 200, url
        if getattr(res, "streaming", False):
            b"".join(res.streaming_content)
    return len(ctx.captured_queries)


@pytest.mark.parametrize("kind", selectors.KINDS)
def test_query_count_does_not_grow_with_the_page_size(many, kind):
    api = api_for(many.curator)
    query = "flags=contaminated&flags=copied_seed" if kind == "seeds" else ""
    small = queries(api, f"{API}/camp/browse/{kind}/?page_size=2")
    large = queries(api, f"{API}/camp/browse/{kind}/?page_size=50")
    assert small == large
    # With every filter kind applies, still the same for 2 and 50 rows.
    if kind in ("rewrites", "samples"):
        query = "programming_language=python&subcategory=Algorithm Design and Implementation"
    assert queries(api, f"{API}/camp/browse/{kind}/?page_size=2&{query}") == queries(
        api, f"{API}/camp/browse/{kind}/?page_size=50&{query}"
    )
    client = Client()
    client.force_login(many.curator)
    client.get("/")
    assert queries(client, f"/campaigns/camp/browse/{kind}/?page_size=2") == queries(
        client, f"/campaigns/camp/browse/{kind}/?page_size=50"
    )


def test_export_query_count_grows_with_chunks_not_rows(many):
    api = api_for(many.curator)
    # 12 rewrites, one chunk: the same as a list.
    assert queries(api, f"{API}/camp/browse/rewrites.csv") <= 6


# --- PostgreSQL full-text search ----------------------------------------------------------------


def test_full_text_search_on_postgresql_uses_the_gin_indexes(data, postgres):
    assert data.ids("seeds", 'q="hash map" -python') == [seed_pk(data.world, "s101")]
    assert data.ids("seeds", "q=hash or linked") == [
        seed_pk(data.world, "s100"),
        seed_pk(data.world, "s101"),
    ]
    assert data.ids("rewrites", "q=python -recursion") == [data.split.pk]
    assert data.ids("samples", "q=binary") == [data.sample.pk]
    assert data.ids("assignments", "q=question") == sorted(
        Assignment.objects.filter(campaign=data.world.campaign).values_list("pk", flat=True)
    )
    # The search expression is the indexed one: with only bitmap scans allowed, PostgreSQL
    # reaches the rows through the GIN index (a tiny test table would be scanned otherwise).
    for kind, model, index in [
        ("seeds", Seed, "seed_search_gin"),
        ("rewrites", Rewrite, "rewrite_search_gin"),
    ]:
        qs = selectors.search(model.objects.order_by(), kind=kind, q="python -java")
        sql, params = qs.values("pk").query.sql_with_params()
        with connection.cursor() as cur:
            cur.execute("SET LOCAL enable_seqscan = off")
            cur.execute("SET LOCAL enable_indexscan = off")
            cur.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cur.fetchall())
        assert f"Bitmap Index Scan on {index}" in plan, plan


# --- odd input and blind review (found by review) -----------------------------------------------


def test_odd_search_cursor_and_id_input_is_a_400_never_a_500(data):
    too_many_words = " ".join(f"w{i}" for i in range(1000))
    for kind in ("seeds", "rewrites"):
        res = data.curator.get(f"{API}/camp/browse/{kind}/", {"q": too_many_words})
        assert res.status_code == 400 and "q" in res.json()["errors"], res.json()
    res = data.curator.get(f"{API}/camp/browse/seeds/", {"q": " ".join(["w"] * 100)})
    assert res.status_code == 400 and "at most 64 words" in res.json()["errors"]["q"][0]
    client = Client()
    client.force_login(data.world.curator)
    assert client.get("/campaigns/camp/browse/", {"q": too_many_words}).status_code == 400
    for cursor in (["external_id", "a\x00b", 1, 0], ["id", 1, 2**70, 0], ["id", 2**70, 1, 0]):
        sort = cursor[0]
        token = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode().rstrip("=")
        res = data.curator.get(f"{API}/camp/browse/seeds/?sort={sort}&cursor={token}")
        assert res.status_code == 400 and "cursor" in res.json()["errors"], cursor
    res = bulk(data.curator, "assignments", {"action": "release", "ids": [10**20]})
    assert res.status_code == 400 and "ids" in res.json()["errors"]


def test_a_people_filter_says_nothing_about_people_of_other_campaigns(data, make_world):
    other = make_world("elsewhere")
    known = data.curator.get(f"{API}/camp/browse/rewrites/?annotator={other.annotators[0]}")
    unknown = data.curator.get(f"{API}/camp/browse/rewrites/?annotator=nobody-at-all")
    assert known.status_code == unknown.status_code == 400
    assert known.json()["detail"].replace(str(other.annotators[0]), "X") == unknown.json()[
        "detail"
    ].replace("nobody-at-all", "X")


def test_a_curator_on_a_panel_still_voting_sees_no_votes_in_the_lists_or_exports(data):
    world = data.world
    membership_add(campaign=world.campaign, user=world.curator, role=Role.REVIEWER)
    rewrite = world.submitted(world.annotators[1], text="Blind until I vote")
    ballots = list(rewrite.ballots.order_by("id"))
    assert world.curator.pk in {b.reviewer_id for b in ballots}
    for b in ballots:
        if b.reviewer_id != world.curator.pk:
            ballot_cast(ballot_id=b.pk, actor=b.reviewer, decision="invalid", reasons=["unclear"])
            break
    rows = data.curator.get(f"{API}/camp/browse/rewrites/?status=submitted").json()["results"]
    assert [r["votes"] for r in rows if r["id"] == rewrite.pk] == [{"valid": None, "invalid": None}]
    client = Client()
    client.force_login(world.curator)
    lines = b"".join(
        client.get("/campaigns/camp/browse/rewrites.jsonl?status=submitted").streaming_content
    ).splitlines()
    record = next(json.loads(x) for x in lines if json.loads(x)["id"] == rewrite.pk)
    assert record["votes_valid"] is None and record["votes_invalid"] is None
    page = client.get(f"/rewrites/{rewrite.pk}/close/").content.decode()
    assert "invalid</span>" not in page and "still voting" in page
    item = data.curator.get(f"{API}/camp/items/{rewrite.seed_id}/").json()
    cast_by_others = [
        e for e in item["timeline"] if e["kind"] == "ballot.cast" and e["actor"] != "camp-curator"
    ]
    assert cast_by_others == []
