"""Releases the evaluation tools read unmodified: the dataset card's configs load with Hugging
Face ``datasets``, ``benchmark.parquet`` holds the rows of ``benchmark.jsonl``, arena-hard-auto's
answer files round-trip through the responses import, the missing-answers policy (refuse,
drop_model, drop_key) is applied and reported, every file (parquet and zip included) is
byte-identical on a rebuild, and the new parameters and the zip download work through the
command, the API and the Releases page (roles, foreign campaigns)."""

import hashlib
import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from annotation.codearena import levels_for
from annotation.models import Campaign, Category, Subcategory
from core.errors import ValidationFailed
from exports.models import BaselineResponse, Release
from exports.services import ReleaseParameters, release_build, responses_import

from .conftest import api_for
from .test_release_golden import (
    ARENA,
    PARAMETERS,
    build_golden_campaign,
)


@pytest.fixture
def golden(make_world, tmp_path, django_capture_on_commit_callbacks) -> tuple[Campaign, Path]:
    out = build_golden_campaign(make_world, tmp_path, django_capture_on_commit_callbacks)
    return Campaign.objects.get(slug="golden"), out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def all_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- Hugging Face datasets and Parquet --------------------------------------------------------


def test_datasets_loads_every_config_of_the_card(golden, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    _campaign, out = golden
    card = (out / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["license"] == "other"
    assert header["license_name"] == "golden-terms-1.0"
    assert header["license_link"] == "https://example.org/golden-terms"
    configs = {c["config_name"]: c for c in header["configs"]}
    assert list(configs) == ["default", "questions"]
    # datasets infers one builder from the first config for all: one file format everywhere.
    assert {Path(c["data_files"][0]["path"]).suffix for c in configs.values()} == {".jsonl"}

    records = read_jsonl(out / "benchmark.jsonl")
    questions = read_jsonl(out / "questions.jsonl")
    expected = {"default": records, "questions": questions}
    for name in configs:
        ds = datasets.load_dataset(str(out), name, cache_dir=str(tmp_path / "cache"))
        assert list(ds) == ["test"], name
        rows = ds["test"].to_list()
        assert [r["id" if name == "default" else "uid"] for r in rows] == [
            r["id" if name == "default" else "uid"] for r in expected[name]
        ]
    # Without a config name, the default one (the samples).
    default = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))["test"]
    assert default.num_rows == 3
    row = default.to_list()[0]
    assert row["meta"] == {"parsed": {"task_type": [records[0]["meta"]["parsed"]["task_type"][0]]}}
    assert row["baseline"] == records[0]["baseline"]


def test_parquet_holds_the_rows_of_benchmark_jsonl(golden):
    _campaign, out = golden
    records = read_jsonl(out / "benchmark.jsonl")
    table = pq.read_table(out / "benchmark.parquet")
    # The same columns in the same order (provenance last, as in every sample); a key left out
    # of a sample (drop_key) reads as null.
    columns = [k for k in dict.fromkeys(k for r in records for k in r) if k != "provenance"]
    columns.append("provenance")
    assert all(list(r)[-1] == "provenance" for r in records)
    assert table.column_names == columns
    rows = table.to_pylist()
    assert len(rows) == len(records)
    for row, rec in zip(rows, records, strict=True):
        assert {k: v for k, v in row.items() if k in rec} == rec
        assert all(row[k] is None for k in row if k not in rec)
        assert [k for k in row if k not in rec] in ([], ["partial-1_response"])


# --- byte-identical rebuilds, the zip ---------------------------------------------------------


def test_every_file_including_parquet_and_zip_is_byte_identical_on_a_rebuild(golden, tmp_path):
    campaign, out = golden
    again = tmp_path / "again"
    result = release_build(campaign=campaign, out_dir=again, parameters=PARAMETERS)
    first, second = all_files(out), all_files(again)
    assert sorted(first) == sorted(second) == sorted(result.files)
    for name in first:
        assert first[name] == second[name], name
    for name, meta in result.files.items():
        assert meta == {
            "sha256": hashlib.sha256(second[name]).hexdigest(),
            "bytes": len(second[name]),
        }

    # The zip holds every other file under one folder, byte for byte, and not itself.
    archive = zipfile.ZipFile(io.BytesIO(first["golden-golden-v1.zip"]))
    names = archive.namelist()
    assert names == sorted(names)
    assert {n.removeprefix("golden-golden-v1/") for n in names} == set(first) - {
        "golden-golden-v1.zip"
    }
    for name in names:
        assert archive.read(name) == first[name.removeprefix("golden-golden-v1/")]
    assert archive.testzip() is None
    # The manifest lists every file but itself and the zip.
    manifest = json.loads(first["manifest.json"])
    assert set(manifest["files"]) == set(first) - {"manifest.json", "golden-golden-v1.zip"}
    for name, meta in manifest["files"].items():
        assert meta["sha256"] == hashlib.sha256(first[name]).hexdigest(), name


# --- arena-hard-auto answers round trip ---------------------------------------------------------


def test_arena_hard_answers_round_trip_through_the_responses_import(golden, tmp_path):
    campaign, out = golden
    answer_file = out / ARENA / "model_answer" / "baseline-1.jsonl"
    exported = read_jsonl(answer_file)
    before = dict(
        BaselineResponse.objects.filter(campaign=campaign, model="baseline-1").values_list(
            "seed__external_id", "text"
        )
    )
    # Re-imported under another name: the same answers for the same seeds.
    report = responses_import(
        campaign=campaign,
        lines=answer_file.read_text(encoding="utf-8").splitlines(),
        model="reimported",
    )
    assert report.imported == len(exported) == 3
    after = dict(
        BaselineResponse.objects.filter(campaign=campaign, model="reimported").values_list(
            "seed__external_id", "text"
        )
    )
    assert after == {seed: before[seed] for seed in after}
    assert sorted(after) == ["g02", "g04", "g07"]
    # Re-imported under its own name, the release is rebuilt byte for byte.
    BaselineResponse.objects.filter(model="reimported").delete()
    responses_import(
        campaign=campaign,
        lines=answer_file.read_text(encoding="utf-8").splitlines(),
        model="baseline-1",
    )
    again = tmp_path / "again"
    release_build(campaign=campaign, out_dir=again, parameters=PARAMETERS)
    assert all_files(again) == all_files(out)

    # arena-hard-auto's own files: other key orders inside messages and no metadata.
    snapshot = [
        json.dumps(
            {
                "uid": a["uid"],
                "ans_id": "x",
                "model": "gpt-4-0314",
                "messages": [
                    {"content": a["messages"][0]["content"], "role": "user"},
                    {
                        "content": {"answer": a["messages"][1]["content"]["answer"]},
                        "role": "assistant",
                    },
                ],
                "tstamp": 1.0,
            }
        )
        for a in exported
    ]
    responses_import(campaign=campaign, lines=snapshot, model="gpt-4-0314")
    assert (
        dict(
            BaselineResponse.objects.filter(model="gpt-4-0314").values_list(
                "seed__external_id", "text"
            )
        )
        == after
    )


# --- missing answers ----------------------------------------------------------------------------


def test_missing_answers_refuse_the_release_naming_the_samples(golden, tmp_path):
    campaign, _out = golden
    records = {r["seed_id"]: r for r in read_jsonl(_out / "benchmark.jsonl")}
    refuse = replace(PARAMETERS, name="strict", missing_responses="refuse")
    with pytest.raises(ValidationFailed) as err:
        release_build(campaign=campaign, out_dir=tmp_path / "strict", parameters=refuse)
    assert "partial-1 has no answer for 2 of the 3 samples (seed ids g04, g07)" in err.value.message
    assert err.value.details["missing"] == {
        "partial-1": [records["g04"]["id"], records["g07"]["id"]]
    }
    assert not (tmp_path / "strict").exists()

    # The baseline must answer every sample, whatever the policy.
    with pytest.raises(ValidationFailed, match=r"baseline model 'partial-1' has no answer"):
        release_build(
            campaign=campaign,
            out_dir=tmp_path / "b",
            parameters=replace(PARAMETERS, baseline_model="partial-1"),
        )
    with pytest.raises(ValidationFailed, match=r"No answers of the baseline model 'nobody'"):
        release_build(
            campaign=campaign,
            out_dir=tmp_path / "b",
            parameters=replace(PARAMETERS, baseline_model="nobody"),
        )


def test_drop_model_leaves_the_model_out_and_reports_it(golden, tmp_path):
    campaign, _out = golden
    params = replace(PARAMETERS, name="lean", missing_responses="drop_model")
    result = release_build(campaign=campaign, out_dir=tmp_path / "lean", parameters=params)
    records = read_jsonl(tmp_path / "lean" / "benchmark.jsonl")
    assert all("partial-1_response" not in r for r in records)
    assert all(r["baseline-1_response"] == r["baseline"] for r in records)
    ids = sorted(r["id"] for r in records if r["seed_id"] in {"g04", "g07"})
    assert result.stats["responses"] == {
        "policy": "drop_model",
        "baseline_model": "baseline-1",
        "models": ["baseline-1"],
        "dropped_models": {"partial-1": ids},
        "dropped_keys": {},
    }
    assert list(result.stats["response_tokens"]) == ["baseline-1"]
    assert not (
        tmp_path / "lean" / "arena-hard-auto/data/golden-lean/model_answer/partial-1.jsonl"
    ).exists()
    card = (tmp_path / "lean" / "README.md").read_text()
    assert "`partial-1` is left out: no answer for 2 samples of this release." in card
    assert json.loads((tmp_path / "lean" / "manifest.json").read_text())["counts"]["models"] == [
        "baseline-1"
    ]


def test_drop_key_leaves_the_key_out_and_reports_it(golden):
    _campaign, out = golden
    records = read_jsonl(out / "benchmark.jsonl")
    stats = json.loads((out / "stats.json").read_text())
    assert stats["responses"]["policy"] == "drop_key"
    assert stats["responses"]["dropped_keys"] == {
        "partial-1": sorted(r["id"] for r in records if "partial-1_response" not in r)
    }
    for rec in records:
        assert all(v not in (None, "") for k, v in rec.items() if k.endswith("_response"))
    answers = read_jsonl(out / ARENA / "model_answer" / "partial-1.jsonl")
    assert [a["uid"] for a in answers] == [r["id"] for r in records if "partial-1_response" in r]
    card = (out / "README.md").read_text()
    assert "`partial-1_response` is absent from 2 samples it did not answer" in card


# --- CodeArena meta, categories, licenses -----------------------------------------------------


def test_a_pair_without_a_codearena_task_type_is_refused_unless_meta_is_omitted(golden, tmp_path):
    campaign, _out = golden
    # The campaign's own taxonomy: a subcategory CodeArena's map does not know.
    sub = Subcategory.objects.get(campaign=campaign, name="Database Management")
    sub.name = "Data Wrangling"
    sub.save(update_fields=["name"])
    Category.objects.filter(pk=sub.category_id).update(name="Our Own Category")
    with pytest.raises(ValidationFailed) as err:
        release_build(campaign=campaign, out_dir=tmp_path / "x", parameters=PARAMETERS)
    assert "no task type leading to Our Own Category / Data Wrangling (seed ids g04)" in (
        err.value.message
    )
    assert "codearena_meta 'omit'" in err.value.message
    result = release_build(
        campaign=campaign,
        out_dir=tmp_path / "omit",
        parameters=replace(PARAMETERS, codearena_meta="omit"),
    )
    records = read_jsonl(tmp_path / "omit" / "benchmark.jsonl")
    assert all("meta" not in r for r in records)
    assert result.stats["codearena"]["meta"] == "omitted"
    assert "cannot classify it" in (tmp_path / "omit" / "README.md").read_text()


def test_the_task_type_leads_back_to_each_samples_pair(golden):
    _campaign, out = golden
    for rec in read_jsonl(out / "benchmark.jsonl"):
        (task_type,) = rec["meta"]["parsed"]["task_type"]
        # As CodeArena's judge_models.py washes and looks it up.
        assert levels_for(task_type.replace("-", " ").lower()) == (
            rec["category"],
            rec["subcategory"],
        )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"license": "other"}, "license_name"),
        ({"license": "other", "license_name": "x-1.0"}, "license_link"),
        ({"license": "Apache 2"}, "license"),
        ({"license": "mit", "license_name": "x"}, "license_name"),
        ({"missing_responses": "ignore"}, "missing_responses"),
        ({"codearena_meta": "maybe"}, "codearena_meta"),
        ({"arena_hard_category": "../x"}, "arena_hard_category"),
        ({"arena_hard_category": "ours"}, "arena_hard_category"),  # no baseline for it
        ({"baseline_model": "a b"}, "baseline_model"),
    ],
)
def test_bad_parameters_are_named(changes, field):
    with pytest.raises(ValidationFailed) as err:
        ReleaseParameters(**changes).validate()
    assert field in err.value.details["errors"]


def test_a_builtin_category_with_another_baseline_documents_the_one_entry_change(golden, tmp_path):
    campaign, _out = golden
    release_build(
        campaign=campaign,
        out_dir=tmp_path / "coding",
        parameters=replace(PARAMETERS, name="coding", arena_hard_category="coding"),
    )
    card = (tmp_path / "coding" / "README.md").read_text()
    assert "judges its built-in category `coding` against `o3-mini-2025-01-31`" in card
    assert '`"coding": {"baseline": "baseline-1", "system_prompt": OG_ARENA_HARD_PROMPT},`' in card
    questions = read_jsonl(
        tmp_path / "coding" / "arena-hard-auto/data/golden-coding/question.jsonl"
    )
    assert {q["category"] for q in questions} == {"coding"}
    # Without a baseline model, arena-hard-auto's own baseline for the category, no change.
    BaselineResponse.objects.filter(model="partial-1").delete()
    release_build(
        campaign=campaign,
        out_dir=tmp_path / "plain",
        parameters=ReleaseParameters(name="plain", size=3, seed=11),
    )
    card = (tmp_path / "plain" / "README.md").read_text()
    assert "No settings change is needed" in card and "generate `o3-mini-2025-01-31`" in card
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["license"] == "unknown" and "license_name" not in header
    assert all("baseline" not in r for r in read_jsonl(tmp_path / "plain" / "benchmark.jsonl"))


# --- command, API, page -------------------------------------------------------------------------


def test_export_benchmark_takes_every_parameter(golden, tmp_path):
    campaign, out = golden
    target = tmp_path / "cli"
    stdout = io.StringIO()
    call_command(
        "export_benchmark",
        campaign.slug,
        "--out",
        str(target),
        "--name",
        "golden-v1",
        "--size",
        "3",
        "--seed",
        "11",
        "--missing-responses",
        "drop_key",
        "--baseline-model",
        "baseline-1",
        "--arena-hard-category",
        "codearena-golden",
        "--codearena-meta",
        "require",
        "--license",
        "other",
        "--license-name",
        "golden-terms-1.0",
        "--license-link",
        "https://example.org/golden-terms",
        stdout=stdout,
        stderr=io.StringIO(),
    )
    assert all_files(target) == all_files(out)
    assert "golden-golden-v1.zip" in stdout.getvalue()


def test_api_takes_the_parameters_refuses_missing_answers_and_serves_the_zip(
    golden, make_world, settings, tmp_path, django_capture_on_commit_callbacks
):
    campaign, out = golden
    settings.RELEASES_DIR = tmp_path / "releases"
    curator = campaign.memberships.get(role="curator").user
    client = api_for(curator)
    url = f"/api/v1/campaigns/{campaign.slug}/releases/"
    body = {
        "name": "golden-v1",
        "size": 3,
        "seed": 11,
        "missing_responses": "drop_key",
        "baseline_model": "baseline-1",
        "arena_hard_category": "codearena-golden",
        "license": "other",
        "license_name": "golden-terms-1.0",
        "license_link": "https://example.org/golden-terms",
    }
    # Refused before any job is queued, naming the samples.
    res = client.post(url, {**body, "missing_responses": "refuse"}, format="json")
    assert res.status_code == 400, res.content
    problem = res.json()
    assert "seed ids g04, g07" in problem["detail"] and list(problem["missing"]) == ["partial-1"]
    assert not Release.objects.exists()
    res = client.post(url, {**body, "license_name": ""}, format="json")
    assert res.status_code == 400 and "license_name" in res.json()["errors"]

    with django_capture_on_commit_callbacks(execute=True):
        res = client.post(url, body, format="json")
    assert res.status_code == 202, res.content
    release_id = res.json()["id"]
    detail = client.get(f"/api/v1/releases/{release_id}/").json()
    assert detail["status"] == "done", detail
    assert {k: detail["parameters"][k] for k in body} == body
    assert detail["stats"]["responses"]["dropped_keys"]["partial-1"]
    assert detail["stats"]["arena_hard"]["bench"] == "golden-golden-v1"
    zip_url = detail["download_url"]
    assert zip_url.endswith(f"/api/v1/releases/{release_id}/download.zip")
    res = client.get(zip_url)
    assert res.status_code == 200 and res["Content-Type"] == "application/zip"
    assert 'filename="golden-golden-v1.zip"' in res["Content-Disposition"]
    data = b"".join(res.streaming_content)
    assert data == (out / "golden-golden-v1.zip").read_bytes()
    files = {f["name"]: f for f in detail["files"]}
    assert files["golden-golden-v1.zip"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert f"{ARENA}/model_answer/baseline-1.jsonl" in files and "benchmark.parquet" in files

    # Other roles 403; curators of other campaigns and unknown releases 404.
    for role in ["annotator", "reviewer"]:
        member = campaign.memberships.filter(role=role).first().user
        assert api_for(member).get(zip_url).status_code == 403
    stranger = make_world(slug="elsewhere")
    assert api_for(stranger.curator).get(zip_url).status_code == 404
    assert client.get("/api/v1/releases/999999/download.zip").status_code == 404


def test_releases_page_form_takes_the_parameters_and_links_the_zip(
    golden, make_world, settings, tmp_path, django_capture_on_commit_callbacks
):
    campaign, _out = golden
    settings.RELEASES_DIR = tmp_path / "releases"
    curator = Client()
    curator.force_login(campaign.memberships.get(role="curator").user)
    url = f"/campaigns/{campaign.slug}/releases/"
    html = curator.get(url).content.decode()
    for field in [
        'name="missing_responses"',
        'name="baseline_model"',
        '<option value="baseline-1"',
        'name="arena_hard_category"',
        'name="codearena_meta"',
        'name="license"',
        'name="license_name"',
        'name="license_link"',
    ]:
        assert field in html, field
    form = {
        "name": "paged",
        "size": "3",
        "seed": "11",
        "stratify": "subcategory",
        "missing_responses": "refuse",
        "baseline_model": "baseline-1",
        "arena_hard_category": "codearena-golden",
        "codearena_meta": "require",
        "license": "cc-by-4.0",
    }
    res = curator.post(url, form)
    assert res.status_code == 400
    assert "partial-1 has no answer for 2 of the 3 samples (seed ids g04, g07)" in (
        res.content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        res = curator.post(url, {**form, "missing_responses": "drop_model"})
    assert res.status_code == 302
    release = Release.objects.get(name="paged")
    assert release.status == "done" and release.parameters["license"] == "cc-by-4.0"
    html = curator.get(url).content.decode()
    assert f'href="/api/v1/releases/{release.pk}/download.zip"' in html
    assert "Download all (.zip)" in html and "baseline baseline-1" in html
    other = make_world(slug="foreign")
    stranger = Client()
    stranger.force_login(other.curator)
    assert stranger.get(f"/api/v1/releases/{release.pk}/download.zip").status_code == 404
