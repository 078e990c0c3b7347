"""The OpenAPI schema tells the truth: every response of every endpoint, taken from real calls,
validates against the schema drf-spectacular publishes for it, with every key documented (no
free-form objects) and every required key present."""

import json
from typing import Any

import jsonschema
import pytest
from django.test import Client

from annotation.models import Rewrite
from review.models import Ballot
from review.services import ballot_cast

from .conftest import GOOD_DRAFT, api_for, cast_panel

API = "/api/v1"


def _strict(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema: ``nullable`` becomes a null type and an object with declared
    properties admits no other key, so an undocumented key fails validation."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items() if k not in {"nullable", "readOnly"}}
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/definitions/")
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    if out.get("type") == "object" and "properties" in out:
        out.setdefault("additionalProperties", False)
    return out


@pytest.fixture
def schema() -> dict[str, Any]:
    res = Client().get("/api/schema/?format=json")
    assert res.status_code == 200
    return json.loads(res.content)


def check(schema: dict[str, Any], method: str, template: str, response: Any) -> None:
    operation = schema["paths"][template][method]
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, (method, template, response.status_code, "not documented")
    if response.status_code == 204:
        return
    body_schema = documented["content"]["application/json"]["schema"]
    definitions = {k: _strict(v) for k, v in schema["components"]["schemas"].items()}
    jsonschema.validate(response.json(), {**_strict(body_schema), "definitions": definitions})


def test_no_response_and_no_field_is_a_free_form_object(schema):
    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" not in node:
                extra = node.get("additionalProperties")
                assert extra not in (None, True, {}), f"free-form object at {where}"
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(schema["paths"], "paths")
    walk(schema["components"]["schemas"], "components")


def test_every_response_matches_its_schema(
    world, schema, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.RELEASES_DIR = tmp_path
    slug = world.campaign.slug
    world.add_seeds(4)
    annotator = api_for(world.annotators[0])
    curator = api_for(world.curator)

    check(schema, "get", "/api/v1/campaigns/", annotator.get(f"{API}/campaigns/"))
    res = annotator.post(f"{API}/campaigns/{slug}/assignments/next/")
    check(schema, "post", "/api/v1/campaigns/{slug}/assignments/next/", res)
    assignment = res.json()["id"]
    res = annotator.put(
        f"{API}/assignments/{assignment}/draft/", {**GOOD_DRAFT, "version": 0}, format="json"
    )
    check(schema, "put", "/api/v1/assignments/{id}/draft/", res)
    res = annotator.post(f"{API}/assignments/{assignment}/submit/")
    check(schema, "post", "/api/v1/assignments/{id}/submit/", res)
    res = annotator.get(f"{API}/campaigns/{slug}/assignments/?status=submitted")
    check(schema, "get", "/api/v1/campaigns/{slug}/assignments/", res)
    res = annotator.post(f"{API}/campaigns/{slug}/preview/", {"text": "```py\nx=1\n```"})
    check(schema, "post", "/api/v1/campaigns/{slug}/preview/", res)

    rewrite = Rewrite.objects.get(assignment_id=assignment)
    ballot = Ballot.objects.filter(rewrite=rewrite).order_by("pk").first()
    reviewer = api_for(ballot.reviewer)
    check(schema, "get", "/api/v1/ballots/{id}/", reviewer.get(f"{API}/ballots/{ballot.pk}/"))
    res = reviewer.post(
        f"{API}/ballots/{ballot.pk}/vote/",
        {"decision": "invalid", "reasons": ["unclear"], "comment": "which n?"},
        format="json",
    )
    check(schema, "post", "/api/v1/ballots/{id}/vote/", res)
    res = reviewer.get(f"{API}/campaigns/{slug}/ballots/?status=all")
    check(schema, "get", "/api/v1/campaigns/{slug}/ballots/", res)
    for other_ballot, decision in zip(
        Ballot.objects.filter(rewrite=rewrite).exclude(pk=ballot.pk).order_by("pk"),
        ["invalid", "invalid", "valid"],
        strict=True,
    ):
        ballot_cast(
            ballot_id=other_ballot.pk,
            actor=other_ballot.reviewer,
            decision=decision,
            reasons=["unclear"] if decision == "invalid" else [],
        )

    check(
        schema,
        "get",
        "/api/v1/campaigns/{slug}/rewrites/",
        curator.get(f"{API}/campaigns/{slug}/rewrites/"),
    )
    res = curator.post(f"{API}/rewrites/{rewrite.pk}/return/", {"note": "say n"}, format="json")
    check(schema, "post", "/api/v1/rewrites/{id}/return/", res)
    res = curator.post(
        f"{API}/assignments/{assignment}/reassign/",
        {"annotator": world.annotators[1].username},
        format="json",
    )
    check(schema, "post", "/api/v1/assignments/{id}/reassign/", res)
    check(
        schema,
        "get",
        "/api/v1/campaigns/{slug}/stats/",
        curator.get(f"{API}/campaigns/{slug}/stats/"),
    )

    # A release of the one accepted rewrite: its detail carries stats.json.
    other = world.submitted(world.annotators[2])
    cast_panel(other, ["valid", "valid", "valid", "valid"])
    with django_capture_on_commit_callbacks(execute=True):
        res = curator.post(f"{API}/campaigns/{slug}/releases/", {"name": "v1"}, format="json")
    check(schema, "post", "/api/v1/campaigns/{slug}/releases/", res)
    detail = curator.get(f"{API}/releases/{res.json()['id']}/")
    assert detail.json()["status"] == "done", detail.json()
    check(schema, "get", "/api/v1/releases/{id}/", detail)
    check(
        schema,
        "get",
        "/api/v1/campaigns/{slug}/releases/",
        curator.get(f"{API}/campaigns/{slug}/releases/"),
    )

    # Errors are documented too where the schema names them.
    res = annotator.put(
        f"{API}/assignments/{assignment}/draft/", {**GOOD_DRAFT, "version": 0}, format="json"
    )
    assert res.status_code in (404, 409)


def test_the_stats_serializer_drops_nothing_the_dashboard_computes(world, schema):
    """The stats API serializes ``campaign_overview`` through ``CampaignStatsOut``, which would
    silently drop a key it does not declare: the raw overview must match the schema too."""
    from django.core.serializers.json import DjangoJSONEncoder

    from review.dashboard import campaign_overview

    world.add_seeds(3)
    rewrite = world.submitted()
    cast_panel(rewrite, ["valid", "valid", "invalid", "invalid"])
    raw = json.loads(json.dumps(campaign_overview(world.campaign), cls=DjangoJSONEncoder))
    definitions = {k: _strict(v) for k, v in schema["components"]["schemas"].items()}
    jsonschema.validate(raw, {"$ref": "#/definitions/CampaignStatsOut", "definitions": definitions})


def check_error(schema: dict[str, Any], method: str, template: str, response: Any) -> None:
    """An error response: its status is documented for the operation, with the ``Error`` body."""
    assert response.status_code >= 400
    operation = schema["paths"][template][method]
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, (method, template, response.status_code, "not documented")
    assert documented["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert response["Content-Type"].startswith("application/json")
    check(schema, method, template, response)


def test_every_error_status_is_documented_with_its_body(world, make_world, schema):
    world.add_seeds(3)
    slug = world.campaign.slug
    rewrite = world.submitted()
    ballot = Ballot.objects.filter(rewrite=rewrite).order_by("pk").first()
    reviewer = api_for(ballot.reviewer)
    annotator = api_for(world.annotators[1])
    stranger = api_for(make_world(slug="other").curator)
    vote = "/api/v1/ballots/{id}/vote/"

    # 400: a bad choice, malformed JSON, too deep, a NUL, a page size of 0.
    url = f"{API}/ballots/{ballot.pk}/vote/"
    check_error(schema, "post", vote, reviewer.post(url, {"decision": "maybe"}, format="json"))
    for raw in ('{"decision": ', "[" * 3000, '{"decision": "valid", "comment": "\\u0000"}'):
        check_error(schema, "post", vote, reviewer.post(url, raw, content_type="application/json"))
    check_error(
        schema,
        "get",
        "/api/v1/campaigns/",
        reviewer.get(f"{API}/campaigns/", {"page_size": "0"}),
    )
    # 401: no token, or a wrong one.
    check_error(schema, "get", "/api/v1/campaigns/", Client().get(f"{API}/campaigns/"))
    bad_token = Client(HTTP_AUTHORIZATION="Token nope")
    check_error(schema, "post", "/api/v1/auth/token/", bad_token.post(f"{API}/auth/token/"))
    # 403: a member without the role; 404: a stranger, an unknown id, a page past the end.
    stats = "/api/v1/campaigns/{slug}/stats/"
    check_error(schema, "get", stats, annotator.get(f"{API}/campaigns/{slug}/stats/"))
    check_error(schema, "get", stats, stranger.get(f"{API}/campaigns/{slug}/stats/"))
    check_error(schema, "post", vote, stranger.post(url, {"decision": "valid"}, format="json"))
    check_error(
        schema,
        "get",
        "/api/v1/campaigns/{slug}/ballots/",
        reviewer.get(f"{API}/campaigns/{slug}/ballots/", {"page": "99"}),
    )
    # 409: a second vote.
    assert reviewer.post(url, {"decision": "valid"}, format="json").status_code == 200
    check_error(schema, "post", vote, reviewer.post(url, {"decision": "valid"}, format="json"))
    # 415: a body that is neither JSON nor a form.
    check_error(
        schema, "post", vote, reviewer.post(url, "decision=valid", content_type="text/plain")
    )


def test_release_files_are_served_with_their_documented_content_types(
    world, schema, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.RELEASES_DIR = tmp_path
    world.add_seeds(2)
    cast_panel(world.submitted(), ["valid", "valid", "valid", "valid"])
    curator = api_for(world.curator)
    with django_capture_on_commit_callbacks(execute=True):
        res = curator.post(
            f"{API}/campaigns/{world.campaign.slug}/releases/", {"name": "v1"}, format="json"
        )
    release = curator.get(f"{API}/releases/{res.json()['id']}/").json()
    assert release["status"] == "done", release
    documented = schema["paths"]["/api/v1/releases/{id}/files/{name}"]["get"]["responses"]
    media_types = set(documented["200"]["content"])
    names = [f["name"] if isinstance(f, dict) else f for f in release["files"]]
    served = set()
    for name in names:
        got = curator.get(f"{API}/releases/{release['id']}/files/{name}")
        assert got.status_code == 200, name
        content_type = got["Content-Type"].split(";")[0]
        assert content_type in media_types, (name, content_type, media_types)
        served.add(content_type)
        if content_type == "application/json":
            json.loads(b"".join(got.streaming_content))
    # Every kind a release writes is there, and every documented kind is one it writes.
    assert served == media_types, (served, media_types)
    zipped = curator.get(f"{API}/releases/{release['id']}/download.zip")
    assert zipped["Content-Type"] == "application/zip"
