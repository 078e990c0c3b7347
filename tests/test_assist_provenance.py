"""Provenance of model-assisted samples (issue 16): each release sample says whether a person
wrote it or it was drafted from a model suggestion the author inserted (``provenance`` in
benchmark.jsonl and benchmark.parquet, a ``provenance`` block in stats.json whose counts add up,
a Provenance section in the dataset card), read in a fixed number of queries and byte-identical
on a rebuild; the data browser filters rewrites and released samples by origin, shows it in the
lists, the exports and the item page."""

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from annotation.models import DraftSuggestion, Rewrite
from exports.models import Release, ReleaseSample
from exports.services import ReleaseParameters, release_build
from exports.services.build import provenance_stats
from exports.services.formats import MODEL_DRAFTED, Provenance

from .conftest import World, api_for, cast_panel
from .test_releases import UNRELATED, accepted, read_jsonl
from .test_schema import check, schema  # noqa: F401 - the schema fixture

API = "/api/v1/campaigns"
SUBS = ["Algorithm Design and Implementation", "Frontend Technologies", "Database Management"]
HUMAN_RECORD = {
    "origin": "human",
    "model": None,
    "prompt_version": None,
    "edit_distance": None,
    "suggestion_chars": None,
}
# Model-drafted samples: (model, prompt version, suggestion length, edit distance).
DRAFTED = {
    3: ("m-alpha", "builtin-v1", 200, 0),  # inserted unchanged
    4: ("m-alpha", "campaign-v2", 300, 50),
    5: ("m-beta", "builtin-v1", 400, 201),
    6: ("m-beta", "builtin-v1", 500, 1001),
}


def insert_suggestion(
    rewrite: Rewrite, *, model: str, prompt_version: str, chars: int, distance: int | None
) -> DraftSuggestion:
    """Record that ``rewrite``'s author inserted a ``chars``-character suggestion of ``model``
    and that the submitted text is ``distance`` characters away from it."""
    suggestion = DraftSuggestion.objects.create(
        campaign=rewrite.campaign,
        assignment=rewrite.assignment,
        model=model,
        prompt_version=prompt_version,
        text=("ab" * chars)[:chars],
    )
    Rewrite.objects.filter(pk=rewrite.pk).update(
        suggestion=suggestion, suggestion_edit_distance=distance
    )
    return suggestion


class Drafted:
    """Seven accepted rewrites over three subcategories, four of them drafted from a model
    suggestion (``DRAFTED``), plus a rejected one drafted too (never released) and a draft
    with an inserted suggestion (not submitted: no edit distance yet)."""

    def __init__(self, world: World, capture: Any) -> None:
        self.world = world
        for i, sub in enumerate(SUBS):
            world.add_seeds(3, start=10 * i, subcategory=sub)
        self.accepted: list[Rewrite] = []
        for i in range(7):
            self.accepted.append(
                accepted(
                    world,
                    f"{UNRELATED[i % 4]} Case {i}.",
                    capture,
                    subcategory=SUBS[i % 3],
                    programming_languages=["python"],
                )
            )
        for i, (model, version, chars, distance) in DRAFTED.items():
            insert_suggestion(
                self.accepted[i],
                model=model,
                prompt_version=version,
                chars=chars,
                distance=distance,
            )
        with capture(execute=True):
            self.rejected = world.submitted(text="Explain recursion to me, a rejected one.")
        cast_panel(self.rejected, ["invalid"] * 4)
        insert_suggestion(
            self.rejected, model="m-gamma", prompt_version="builtin-v1", chars=10, distance=3
        )
        assignment = world.claim()
        world.draft(assignment, text="A draft started from a suggestion")
        self.draft = Rewrite.objects.get(assignment=assignment)
        insert_suggestion(
            self.draft, model="m-alpha", prompt_version="campaign-v2", chars=33, distance=None
        )
        self.by_seed = {r.seed.external_id: r for r in self.accepted}

    def drafted_ids(self) -> list[int]:
        return sorted([self.accepted[i].pk for i in DRAFTED] + [self.rejected.pk, self.draft.pk])

    def human_ids(self) -> list[int]:
        return sorted(r.pk for i, r in enumerate(self.accepted) if i not in DRAFTED)


@pytest.fixture
def drafted(world, django_capture_on_commit_callbacks) -> Drafted:
    return Drafted(world, django_capture_on_commit_callbacks)


def expected_record(data: Drafted, seed_external_id: str) -> dict[str, Any]:
    index = data.accepted.index(data.by_seed[seed_external_id])
    if index not in DRAFTED:
        return HUMAN_RECORD
    model, version, chars, distance = DRAFTED[index]
    return {
        "origin": "model_drafted",
        "model": model,
        "prompt_version": version,
        "edit_distance": distance,
        "suggestion_chars": chars,
    }


# --- the release files ------------------------------------------------------------------------


def test_every_sample_carries_its_provenance_last(drafted, tmp_path):
    release_build(campaign=drafted.world.campaign, out_dir=tmp_path / "r")
    records = read_jsonl(tmp_path / "r" / "benchmark.jsonl")
    assert len(records) == 7
    for rec in records:
        assert list(rec)[-1] == "provenance"
        assert rec["provenance"] == expected_record(drafted, rec["seed_id"]), rec["seed_id"]
    assert sum(r["provenance"]["origin"] == "model_drafted" for r in records) == 4
    # arena-hard-auto's question format is left as it is.
    for line in read_jsonl(tmp_path / "r" / "questions.jsonl"):
        assert list(line) == ["uid", "category", "subcategory", "prompt"]


def test_stats_provenance_block_has_exact_figures_that_add_up(drafted, tmp_path):
    release_build(campaign=drafted.world.campaign, out_dir=tmp_path / "r")
    stats = json.loads((tmp_path / "r" / "stats.json").read_text())
    prov = stats["provenance"]
    assert prov == {
        "human_written": 3,
        "model_drafted": 4,
        "by_model": {"m-alpha": 2, "m-beta": 2},
        "by_prompt_version": {
            "m-alpha": {"builtin-v1": 1, "campaign-v2": 1},
            "m-beta": {"builtin-v1": 2},
        },
        # distances 0, 50, 201, 1001
        "edit_distance": {"min": 0, "max": 1001, "mean": 313.0, "median": 125.5},
        # ratios 0/200, 50/300, 201/400, 1001/500
        "edit_ratio": {"min": 0.0, "max": 2.002, "mean": 0.668, "median": 0.335},
        "edit_distance_buckets": {"0": 1, "1-50": 1, "51-200": 0, "201-1000": 1, ">1000": 1},
    }
    # Every count adds up.
    assert prov["human_written"] + prov["model_drafted"] == stats["total"]
    assert sum(prov["by_model"].values()) == prov["model_drafted"]
    assert sum(n for v in prov["by_prompt_version"].values() for n in v.values()) == 4
    assert sum(prov["edit_distance_buckets"].values()) == prov["model_drafted"]


@pytest.mark.parametrize(
    "distances,buckets",
    [
        ([0, 0], {"0": 2, "1-50": 0, "51-200": 0, "201-1000": 0, ">1000": 0}),
        ([1, 50, 51, 200], {"0": 0, "1-50": 2, "51-200": 2, "201-1000": 0, ">1000": 0}),
        ([201, 1000, 1001, 99999], {"0": 0, "1-50": 0, "51-200": 0, "201-1000": 2, ">1000": 2}),
    ],
)
def test_edit_distance_buckets_include_their_bounds(distances, buckets):
    prov = provenance_stats(
        [
            Provenance(
                origin=MODEL_DRAFTED,
                model="m",
                prompt_version="v",
                edit_distance=d,
                suggestion_chars=10,
            )
            for d in distances
        ]
    )
    assert prov["edit_distance_buckets"] == buckets
    assert prov["model_drafted"] == len(distances) and prov["human_written"] == 0


def test_provenance_stats_without_model_drafted_samples_and_an_empty_suggestion():
    prov = provenance_stats([Provenance(), Provenance()])
    assert prov == {
        "human_written": 2,
        "model_drafted": 0,
        "by_model": {},
        "by_prompt_version": {},
        "edit_distance": {"min": None, "max": None, "mean": None, "median": None},
        "edit_ratio": {"min": None, "max": None, "mean": None, "median": None},
        "edit_distance_buckets": {"0": 0, "1-50": 0, "51-200": 0, "201-1000": 0, ">1000": 0},
    }
    # An empty suggestion divides by 1, not 0.
    empty = Provenance(
        origin=MODEL_DRAFTED, model="m", prompt_version="v", edit_distance=7, suggestion_chars=0
    )
    assert provenance_stats([empty])["edit_ratio"]["max"] == 7.0


def test_the_card_has_a_provenance_section_and_a_valid_header(drafted, tmp_path):
    release_build(campaign=drafted.world.campaign, out_dir=tmp_path / "r")
    card = (tmp_path / "r" / "README.md").read_text()
    _, front, body = card.split("---\n", 2)
    header = yaml.safe_load(front)
    assert header["configs"][0]["data_files"] == [{"split": "test", "path": "benchmark.jsonl"}]
    assert "## Provenance" in body
    section = body.split("## Provenance", 1)[1].split("\n## ", 1)[0]
    assert "| written by a person (`human`) | 3 | 42.9% |" in section
    assert "| drafted from a model suggestion (`model_drafted`) | 4 | 57.1% |" in section
    assert "| m-alpha | builtin-v1 | 1 |" in section
    assert "| m-alpha | campaign-v2 | 1 |" in section
    assert "| m-beta | builtin-v1 | 2 |" in section
    assert "| edit distance (characters) | 0 | 1001 | 313.0 | 125.5 |" in section
    assert "| edit ratio | 0.0 | 2.002 | 0.668 | 0.335 |" in section
    assert "| 0 (inserted unchanged) | 1 |" in section
    assert "| more than 1,000 | 1 |" in section
    assert "accepted by the reviewer panel like every other sample" in section
    assert "4 of them drafted from a model suggestion" in body
    assert "| `provenance` |" in body  # in the data fields


def test_a_release_written_by_people_only_says_so(
    world, django_capture_on_commit_callbacks, tmp_path
):
    world.add_seeds(2)
    for i in range(2):
        accepted(world, f"{UNRELATED[i]} Only people.", django_capture_on_commit_callbacks)
    release_build(campaign=world.campaign, out_dir=tmp_path / "r")
    records = read_jsonl(tmp_path / "r" / "benchmark.jsonl")
    assert [r["provenance"] for r in records] == [HUMAN_RECORD, HUMAN_RECORD]
    card = (tmp_path / "r" / "README.md").read_text()
    assert "No sample of this release was drafted from a model suggestion." in card
    assert "drafted from a model suggestion that the annotator" not in card
    stats = json.loads((tmp_path / "r" / "stats.json").read_text())
    assert (stats["provenance"]["human_written"], stats["provenance"]["model_drafted"]) == (2, 0)
    table = pq.read_table(tmp_path / "r" / "benchmark.parquet")
    assert table.column("provenance").to_pylist() == [HUMAN_RECORD, HUMAN_RECORD]


def test_parquet_has_a_provenance_struct_column_last(drafted, tmp_path):
    release_build(campaign=drafted.world.campaign, out_dir=tmp_path / "r")
    table = pq.read_table(tmp_path / "r" / "benchmark.parquet")
    assert table.column_names[-1] == "provenance"
    assert table.schema.field("provenance").type == pa.struct(
        [
            pa.field("origin", pa.string()),
            pa.field("model", pa.string()),
            pa.field("prompt_version", pa.string()),
            pa.field("edit_distance", pa.int64()),
            pa.field("suggestion_chars", pa.int64()),
        ]
    )
    records = read_jsonl(tmp_path / "r" / "benchmark.jsonl")
    assert table.column("provenance").to_pylist() == [r["provenance"] for r in records]


def all_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_rebuild_is_byte_identical(drafted, tmp_path):
    params = ReleaseParameters(name="v1", size=5, seed=3)
    release_build(campaign=drafted.world.campaign, out_dir=tmp_path / "one", parameters=params)
    release_build(campaign=drafted.world.campaign, out_dir=tmp_path / "two", parameters=params)
    one, two = all_files(tmp_path / "one"), all_files(tmp_path / "two")
    assert sorted(one) == sorted(two)
    for name in one:
        assert one[name] == two[name], name
    stats = json.loads(one["stats.json"])
    assert stats["provenance"]["human_written"] + stats["provenance"]["model_drafted"] == 5


def test_provenance_is_read_in_one_query_whatever_the_number_of_drafted_samples(drafted, tmp_path):
    campaign = drafted.world.campaign
    release_build(campaign=campaign, out_dir=tmp_path / "warm")  # builds caches
    with CaptureQueriesContext(connection) as before:
        release_build(campaign=campaign, out_dir=tmp_path / "a")
    # Every human sample becomes model-drafted too.
    for i, r in enumerate(drafted.accepted):
        if i not in DRAFTED:
            insert_suggestion(r, model="m-delta", prompt_version="v9", chars=20, distance=4)
    with CaptureQueriesContext(connection) as after:
        release_build(campaign=campaign, out_dir=tmp_path / "b")
    assert len(after.captured_queries) == len(before.captured_queries)
    reading = [q for q in after.captured_queries if "draftsuggestion" in q["sql"].lower()]
    assert len(reading) == 1
    stats = json.loads((tmp_path / "b" / "stats.json").read_text())
    assert stats["provenance"]["model_drafted"] == 7 and stats["provenance"]["human_written"] == 0


# --- the data browser -------------------------------------------------------------------------


def ids(client: Any, kind: str, query: str) -> list[int]:
    res = client.get(f"{API}/camp/browse/{kind}/?{query}")
    assert res.status_code == 200, res.content
    return [row["id"] for row in res.json()["results"]]


def test_the_rewrites_list_filters_and_shows_the_origin(drafted, schema):  # noqa: F811
    api = api_for(drafted.world.curator)
    assert ids(api, "rewrites", "provenance=model_drafted") == drafted.drafted_ids()
    assert ids(api, "rewrites", "provenance=human") == drafted.human_ids()
    both = ids(api, "rewrites", "")
    assert sorted(both) == sorted(drafted.drafted_ids() + drafted.human_ids())
    # Combined with another filter.
    assert ids(api, "rewrites", "provenance=model_drafted&status=accepted") == sorted(
        drafted.accepted[i].pk for i in DRAFTED
    )
    res = api.get(f"{API}/camp/browse/rewrites/?provenance=model_drafted")
    check(schema, "get", "/api/v1/campaigns/{slug}/browse/rewrites/", res)
    rows = {row["id"]: row for row in res.json()["results"]}
    assert rows[drafted.accepted[4].pk]["provenance"] == {
        "origin": "model_drafted",
        "model": "m-alpha",
        "prompt_version": "campaign-v2",
        "edit_distance": 50,
    }
    assert rows[drafted.draft.pk]["provenance"]["edit_distance"] is None
    human = api.get(f"{API}/camp/browse/rewrites/?provenance=human").json()["results"][0]
    assert human["provenance"] == {
        "origin": "human",
        "model": None,
        "prompt_version": None,
        "edit_distance": None,
    }
    bad = api.get(f"{API}/camp/browse/rewrites/?provenance=robot")
    assert bad.status_code == 400 and "provenance" in bad.json()["errors"]


def test_released_samples_filter_by_origin(drafted):
    c = drafted.world.campaign
    release = Release.objects.create(campaign=c, name="v1", status=Release.Status.DONE)
    samples = {
        i: ReleaseSample.objects.create(
            release=release, campaign=c, rewrite=r, sample_id=f"s{i}", position=i
        )
        for i, r in enumerate(drafted.accepted)
    }
    api = api_for(drafted.world.curator)
    assert ids(api, "samples", "provenance=model_drafted") == sorted(samples[i].pk for i in DRAFTED)
    assert ids(api, "samples", "provenance=human") == sorted(
        s.pk for i, s in samples.items() if i not in DRAFTED
    )
    row = api.get(f"{API}/camp/browse/samples/?provenance=model_drafted").json()["results"][0]
    assert row["provenance"]["origin"] == "model_drafted" and row["provenance"]["model"]


def test_the_rewrites_page_filters_by_origin_and_shows_a_badge(drafted):
    client = Client()
    client.force_login(drafted.world.curator)
    res = client.get("/campaigns/camp/browse/rewrites/?provenance=model_drafted")
    assert res.status_code == 200
    html = res.content.decode()
    shown = sorted(int(pk) for pk in re.findall(r'<tr data-id="(\d+)"', html))
    assert shown == drafted.drafted_ids()
    assert '<option value="model_drafted" selected>' in html
    assert html.count('data-role="provenance"') == len(drafted.drafted_ids())
    assert "model-drafted</span> m-alpha · edit distance 50" in html
    res = client.get("/campaigns/camp/browse/rewrites/?provenance=human")
    html = res.content.decode()
    shown = sorted(int(pk) for pk in re.findall(r'<tr data-id="(\d+)"', html))
    assert shown == drafted.human_ids()
    assert 'data-role="provenance"' not in html


def test_exports_carry_the_origin_columns(drafted):
    api = api_for(drafted.world.curator)
    res = api.get(f"{API}/camp/browse/rewrites.csv?provenance=model_drafted&status=accepted")
    rows = list(csv.DictReader(io.StringIO(b"".join(res.streaming_content).decode())))
    by_id = {int(r["id"]): r for r in rows}
    assert sorted(by_id) == sorted(drafted.accepted[i].pk for i in DRAFTED)
    row = by_id[drafted.accepted[5].pk]
    assert (
        row["provenance_origin"],
        row["provenance_model"],
        row["provenance_prompt_version"],
        row["provenance_edit_distance"],
    ) == ("model_drafted", "m-beta", "builtin-v1", "201")
    res = api.get(f"{API}/camp/browse/rewrites.jsonl?provenance=human")
    lines = [json.loads(x) for x in b"".join(res.streaming_content).decode().splitlines()]
    assert {x["provenance_origin"] for x in lines} == {"human"}
    assert {x["provenance_model"] for x in lines} == {None}


def count_queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        res = client.get(url)
        assert res.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize("kind", ["rewrites", "samples"])
def test_list_queries_do_not_grow_with_drafted_rows(drafted, kind):
    c = drafted.world.campaign
    release = Release.objects.create(campaign=c, name="v1", status=Release.Status.DONE)
    for i, r in enumerate(drafted.accepted):
        ReleaseSample.objects.create(
            release=release, campaign=c, rewrite=r, sample_id=f"s{i}", position=i
        )
    api = api_for(drafted.world.curator)
    for query in ("", "provenance=model_drafted", "provenance=human"):
        small = count_queries(api, f"{API}/camp/browse/{kind}/?page_size=1&{query}")
        large = count_queries(api, f"{API}/camp/browse/{kind}/?page_size=50&{query}")
        assert small == large, query
    client = Client()
    client.force_login(drafted.world.curator)
    client.get("/")
    assert count_queries(
        client, f"/campaigns/camp/browse/{kind}/?page_size=1&provenance=model_drafted"
    ) == count_queries(
        client, f"/campaigns/camp/browse/{kind}/?page_size=50&provenance=model_drafted"
    )


def test_the_item_page_says_who_wrote_each_revision(drafted, schema):  # noqa: F811
    client = Client()
    client.force_login(drafted.world.curator)
    r4 = drafted.accepted[4]
    html = client.get(f"/campaigns/camp/items/{r4.seed_id}/").content.decode()
    (origin,) = re.findall(r'<dd data-role="provenance">(.*?)</dd>', html)
    assert re.sub(r"<[^>]+>", "", origin) == (
        "Drafted from a suggestion by m-alpha (prompt campaign-v2); edit distance 50 characters"
    )
    human = drafted.accepted[0]
    html = client.get(f"/campaigns/camp/items/{human.seed_id}/").content.decode()
    (origin,) = re.findall(r'<dd data-role="provenance">(.*?)</dd>', html)
    assert origin == "Written by a person"
    html = client.get(f"/campaigns/camp/items/{drafted.draft.seed_id}/").content.decode()
    (origin,) = re.findall(r'<dd data-role="provenance">(.*?)</dd>', html)
    assert "edit distance measured at submit" in origin

    res = api_for(drafted.world.curator).get(f"/api/v1/campaigns/camp/items/{r4.seed_id}/")
    check(schema, "get", "/api/v1/campaigns/{slug}/items/{seed_id}/", res)
    (revision,) = res.json()["revisions"]
    assert revision["provenance"] == {
        "origin": "model_drafted",
        "model": "m-alpha",
        "prompt_version": "campaign-v2",
        "edit_distance": 50,
        "suggestion_chars": 300,
    }


def test_a_model_name_is_escaped_on_the_pages(drafted):
    DraftSuggestion.objects.filter(rewrites=drafted.accepted[3]).update(
        model="<script>alert(1)</script>"
    )
    client = Client()
    client.force_login(drafted.world.curator)
    for url in (
        "/campaigns/camp/browse/rewrites/?provenance=model_drafted",
        f"/campaigns/camp/items/{drafted.accepted[3].seed_id}/",
    ):
        html = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
