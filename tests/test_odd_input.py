"""Odd input is a 400 that names the problem, never a 500: lone surrogates, NUL characters, JSON
nested thousands deep, integers beyond 64 bits (and past Python's 4,300-digit limit), oversized
bodies, values of the wrong JSON type. Error messages never echo what cannot be encoded. Access
is checked before the body is read, so a stranger gets the same 404 whatever the body holds,
and cannot tell an existing object of another campaign from a missing one."""

import json

import pytest
from django.test import Client

from annotation.models import Assignment, Rewrite
from review.models import Ballot

from .conftest import GOOD_DRAFT, api_for, cast_panel

API = "/api/v1"
SURROGATE = '"\\ud800"'  # JSON text for a lone surrogate


def post_raw(client, url, body: str | bytes, method: str = "post"):
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return getattr(client, method)(url, data=data, content_type="application/json")


def assert_json_400(res, *, field: str | None = None):
    assert res.status_code == 400, (res.status_code, res.content[:300])
    body = json.loads(res.content.decode("utf-8"))  # strict UTF-8: every byte encodable
    assert body["detail"] and body["code"]
    if field is not None:
        assert field in body["errors"], body
    return body


@pytest.fixture
def voting(world):
    world.add_seeds(3)
    rewrite = world.submitted()
    ballot = Ballot.objects.filter(rewrite=rewrite).order_by("pk").first()
    return rewrite, ballot


def test_a_lone_surrogate_in_a_choice_is_a_400_without_echo(world, voting):
    _rewrite, ballot = voting
    reviewer = api_for(ballot.reviewer)
    url = f"{API}/ballots/{ballot.pk}/vote/"
    for body in (
        '{"decision": ' + SURROGATE + "}",
        '{"decision": "invalid", "reasons": [' + SURROGATE + "]}",
        '{"decision": "valid", "comment": "a\\ud800b"}',
    ):
        res = post_raw(reviewer, url, body)
        assert_json_400(res)
        assert b"\\ud800" not in res.content and "\ud800".encode("utf-8", "surrogatepass") not in (
            res.content
        )
    ballot.refresh_from_db()
    assert ballot.status == Ballot.Status.PENDING


def test_the_error_names_the_place_of_the_bad_string(world, voting):
    _rewrite, ballot = voting
    res = post_raw(
        api_for(ballot.reviewer),
        f"{API}/ballots/{ballot.pk}/vote/",
        '{"decision": "invalid", "reasons": ["unclear", "x\\u0000"]}',
    )
    body = assert_json_400(res)
    assert body["errors"] == {"reasons": {"1": ["contains a NUL character (\\u0000)"]}}
    res = post_raw(
        api_for(ballot.reviewer), f"{API}/ballots/{ballot.pk}/vote/", '{"dec\\udc00": 1}'
    )
    errors = assert_json_400(res)["errors"]
    assert errors == {
        "non_field_errors": ["a key contains a lone UTF-16 surrogate (not a character)"]
    }


def test_nul_and_surrogates_in_every_kind_of_text_field(world):
    world.add_seeds(2)
    assignment = world.claim()
    annotator = api_for(assignment.annotator)
    url = f"{API}/assignments/{assignment.pk}/draft/"
    for bad in ("a\\u0000b", "\\udfff"):
        body = json.dumps({**GOOD_DRAFT, "version": 0}).replace(
            '"easy"', '"' + bad + '"'
        )  # difficulty, a choice field
        assert_json_400(post_raw(annotator, url, body, method="put"), field="difficulty")
        body = json.dumps({**GOOD_DRAFT, "version": 0, "text": "PLACEHOLDER"}).replace(
            "PLACEHOLDER", bad
        )
        assert_json_400(post_raw(annotator, url, body, method="put"), field="text")
    assert not Rewrite.objects.filter(assignment=assignment).exists()


def test_deep_json_is_a_400_even_anonymously_on_the_token_endpoint(world):
    anonymous = Client()
    for depth in (65, 2_000, 100_000):
        body = "[" * depth + "]" * depth
        res = post_raw(anonymous, f"{API}/auth/token/", body)
        assert_json_400(res)
        assert "nested deeper than 64" in res.json()["detail"] or "errors" in res.json()
    # 64 levels are fine as JSON (and then just the wrong shape for this endpoint).
    res = post_raw(anonymous, f"{API}/auth/token/", "[" * 64 + "]" * 64)
    assert res.status_code == 400
    assert "nested" not in res.content.decode()


def test_huge_numbers_are_400s(world):
    world.add_seeds(2)
    assignment = world.claim()
    annotator = api_for(assignment.annotator)
    url = f"{API}/assignments/{assignment.pk}/draft/"
    for number in (str(2**63), "-" + str(2**63), "9" * 5_000, "1e999"):
        body = json.dumps({**GOOD_DRAFT, "version": 0}).replace(
            '"version": 0', f'"version": {number}'
        )
        res = post_raw(annotator, url, body, method="put")
        body_out = assert_json_400(res, field="version")
        assert number[:30] not in json.dumps(body_out)
    res = post_raw(annotator, url, '{"version": NaN}', method="put")
    assert_json_400(res)


def test_an_oversized_body_is_a_400(world, settings):
    settings.API_MAX_BODY_BYTES = 10_000
    world.add_seeds(2)
    assignment = world.claim()
    annotator = api_for(assignment.annotator)
    body = json.dumps({**GOOD_DRAFT, "version": 0, "text": "x" * 20_000})
    res = post_raw(annotator, f"{API}/assignments/{assignment.pk}/draft/", body, method="put")
    assert_json_400(res)
    assert res.json()["code"] == "body_too_large"
    assert "10,000 bytes" in res.json()["detail"]


def test_malformed_json_and_wrong_types_are_400s(world):
    world.add_seeds(2)
    assignment = world.claim()
    annotator = api_for(assignment.annotator)
    url = f"{API}/assignments/{assignment.pk}/draft/"
    res = post_raw(annotator, url, '{"text": ', method="put")
    assert_json_400(res)
    assert res.json()["code"] == "parse_error"
    res = post_raw(annotator, url, b'{"text": "\xff"}', method="put")
    assert_json_400(res)
    for body, field in (
        ({**GOOD_DRAFT, "version": "0"}, "version"),
        ({**GOOD_DRAFT, "version": True}, "version"),
        ({**GOOD_DRAFT, "version": 0, "text": 5}, "text"),
        ({**GOOD_DRAFT, "version": 0, "programming_languages": "python"}, "programming_languages"),
    ):
        res = post_raw(annotator, url, json.dumps(body), method="put")
        assert_json_400(res, field=field)
    res = post_raw(annotator, url, "[1, 2]", method="put")
    assert_json_400(res, field="non_field_errors")
    assert Rewrite.objects.filter(assignment=assignment).count() == 0


def test_forms_keep_reading_text_as_text(world):
    """A form's values are all strings: the JSON type rule does not apply to them."""
    world.add_seeds(2)
    assignment = world.claim()
    res = api_for(assignment.annotator).put(
        f"{API}/assignments/{assignment.pk}/draft/",
        {**GOOD_DRAFT, "checklist": "", "version": "0", "programming_languages": ["python"]},
    )
    assert res.status_code in (200, 400), res.content
    assert res.status_code != 500


def test_access_is_checked_before_the_body(world, make_world, voting):
    rewrite, ballot = voting
    stranger = api_for(make_world(slug="other").curator)
    bad_bodies = ['{"decision": ' + SURROGATE + "}", "[" * 5_000, '{"x": 1', "{}"]
    targets = [
        f"{API}/ballots/{ballot.pk}/vote/",
        f"{API}/rewrites/{rewrite.pk}/return/",
        f"{API}/rewrites/{rewrite.pk}/close/",
        f"{API}/rewrites/{rewrite.pk}/adjudicate/",
        f"{API}/rewrites/{rewrite.pk}/reopen/",
        f"{API}/assignments/{rewrite.assignment_id}/reject/",
        f"{API}/assignments/{rewrite.assignment_id}/skip/",
        f"{API}/campaigns/{world.campaign.slug}/releases/",
    ]
    for url in targets:
        for body in bad_bodies:
            res = post_raw(stranger, url, body)
            assert res.status_code == 404, (url, body[:20], res.status_code, res.content[:200])
    for body in bad_bodies:
        res = post_raw(stranger, f"{API}/assignments/{rewrite.assignment_id}/draft/", body, "put")
        assert res.status_code == 404


def test_the_return_endpoint_does_not_tell_existing_from_missing(world, make_world):
    world.add_seeds(2)
    rewrite = world.submitted()
    cast_panel(rewrite, ["invalid", "invalid", "invalid", "valid"])
    rewrite.refresh_from_db()
    assert rewrite.status == Rewrite.Status.REJECTED
    stranger = api_for(make_world(slug="other").curator)
    missing = Rewrite.objects.order_by("-pk").first().pk + 1000
    for body in ({}, {"note": "x"}, {"annotator": "camp-ann2"}, {"note": 5}):
        existing = stranger.post(f"{API}/rewrites/{rewrite.pk}/return/", body, format="json")
        absent = stranger.post(f"{API}/rewrites/{missing}/return/", body, format="json")
        assert existing.status_code == absent.status_code == 404
        assert (
            existing.json()
            == absent.json()
            == {
                "detail": "No such rewrite.",
                "code": "not_found",
            }
        )
    assert Assignment.objects.get(pk=rewrite.assignment_id).status == Assignment.Status.SUBMITTED


def test_every_error_body_is_encodable(world):
    """The exception handler replaces lone surrogates wherever an error would quote them; a
    query string or form carrying the UTF-8 bytes of a surrogate reads as U+FFFD."""
    from core.http import encodable

    assert encodable({"a\ud800": ["x\udfffy", 1]}) == {"a\ufffd": ["x\ufffdy", 1]}
    curator = api_for(world.curator)
    res = curator.get(f"{API}/campaigns/{world.campaign.slug}/rewrites/?status=%ED%A0%80")
    assert res.status_code == 400
    res.content.decode("utf-8")


def test_unknown_api_urls_are_json_404s(world):
    res = api_for(world.curator).get(f"{API}/rewrites/abc/return/")
    assert res.status_code == 404
    assert res["Content-Type"] == "application/json"
    assert res.json()["code"] == "not_found"


def test_page_size_is_checked(world):
    curator = api_for(world.curator)
    url = f"{API}/campaigns/"
    for bad in ("0", "x", "-1", "1.5", "٣"):
        res = curator.get(url, {"page_size": bad})
        assert_json_400(res, field="page_size")
    assert curator.get(url, {"page_size": "500"}).status_code == 200
    assert curator.get(url, {"page_size": "5000"}).status_code == 200  # capped at 500


def test_page_forms_with_nul_or_surrogates_do_not_500(world):
    world.add_seeds(2)
    assignment = world.claim()
    client = Client()
    client.force_login(assignment.annotator)
    for value in ("a%00b", "a%ED%A0%80b", "%ED%B0%80"):
        body = f"text={value}&difficulty={value}&version=0&reason={value}&note={value}"
        for url in (
            f"/assignments/{assignment.pk}/",
            f"/assignments/{assignment.pk}/reject/",
            f"/campaigns/{world.campaign.slug}/next/",
        ):
            res = client.post(url, body, content_type="application/x-www-form-urlencoded")
            assert res.status_code < 500, (url, value, res.status_code)
