"""Curator workspace, campaign part (issue 11): creating a campaign (permission, taxonomy preset
or upload, tokenizer), its settings (locks, events, new panels), guidelines (versions, diffs,
unread flag), their pages and API, and the grant_create_campaign command."""

import json
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from annotation.models import (
    Campaign,
    Event,
    GuidelinesRead,
    GuidelinesVersion,
    Membership,
    Role,
)
from annotation.services import campaign_create, user_ensure
from annotation.services.campaigns import campaign_settings_update, taxonomy_validate
from annotation.services.guidelines import guidelines_mark_read, guidelines_save
from annotation.vocabulary import builtin_taxonomy
from core.errors import NotAllowed, NotFound, ValidationFailed
from core.transitions import EventKind

from .conftest import World, api_for
from .test_schema import check, schema  # noqa: F401 - the schema fixture

API = "/api/v1"


def creator(username: str = "maker") -> Any:
    user = user_ensure(username=username, password="pw-" + username)
    call_command("grant_create_campaign", username, stdout=StringIO())
    return type(user).objects.get(pk=user.pk)  # fresh: no cached permissions


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


SMALL_TAXONOMY = {
    "name": "small",
    "categories": [{"name": "Code", "short_name": "C"}, {"name": "Data", "short_name": "D"}],
    "subcategories": [
        {"name": "Debugging", "short_name": "Debug", "category": "Code"},
        {"name": "SQL", "short_name": "SQL", "category": "Data"},
    ],
    "programming_languages": [
        {"name": "python", "aliases": ["py"]},
        {"name": "sql", "aliases": []},
    ],
}


# ---------------------------------------------------------------------------------------------
# The principals matrix: every endpoint over {anonymous, annotator, reviewer, curator, curator of
# another campaign}.


def principals(world: World, other: World) -> dict[str, APIClient]:
    return {
        "anonymous": APIClient(),
        "annotator": api_for(world.annotators[0]),
        "reviewer": api_for(world.reviewers[0]),
        "curator": api_for(world.curator),
        "other curator": api_for(other.curator),
    }


MATRIX = [
    # (method, path, body, {principal: status})
    (
        "get",
        "/campaigns/{slug}/settings/",
        None,
        {"anonymous": 401, "annotator": 403, "reviewer": 403, "curator": 200, "other": 404},
    ),
    (
        "patch",
        "/campaigns/{slug}/settings/",
        {"target_release_size": 100},
        {"anonymous": 401, "annotator": 403, "reviewer": 403, "curator": 200, "other": 404},
    ),
    (
        "get",
        "/campaigns/{slug}/guidelines/",
        None,
        {"anonymous": 401, "annotator": 200, "reviewer": 200, "curator": 200, "other": 404},
    ),
    (
        "post",
        "/campaigns/{slug}/guidelines/",
        {"text": "# Rules\n\nBe **clear**."},
        {"anonymous": 401, "annotator": 403, "reviewer": 403, "curator": 201, "other": 404},
    ),
    (
        "get",
        "/campaigns/{slug}/guidelines/versions/",
        None,
        {"anonymous": 401, "annotator": 403, "reviewer": 403, "curator": 200, "other": 404},
    ),
    (
        "get",
        "/campaigns/{slug}/guidelines/versions/1/",
        None,
        {"anonymous": 401, "annotator": 403, "reviewer": 403, "curator": 200, "other": 404},
    ),
    (
        "post",
        "/campaigns/{slug}/guidelines/read/",
        None,
        {"anonymous": 401, "annotator": 200, "reviewer": 200, "curator": 200, "other": 404},
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX)
def test_principals_matrix(make_world, schema, method, path, body, expected):  # noqa: F811
    world = make_world(slug="camp", guidelines="First rules.")
    other = make_world(slug="other")
    clients = principals(world, other)
    clients["other"] = clients.pop("other curator")
    url = API + path.format(slug=world.campaign.slug)
    # The curator goes last, so a write by someone else would show in the curator's answer.
    for who in ["anonymous", "annotator", "reviewer", "other", "curator"]:
        client = clients[who]
        kwargs = {"format": "json"} if body is not None else {}
        res = getattr(client, method)(url, body, **kwargs) if body else getattr(client, method)(url)
        assert res.status_code == expected[who], (who, method, path, res.content)
        if res.status_code < 300:
            check(schema, method, "/api/v1" + path.replace("/1/", "/{number}/"), res)
    assert world.campaign.guidelines_versions.count() == (
        2 if (method, path) == ("post", "/campaigns/{slug}/guidelines/") else 1
    )


def test_create_matrix_needs_the_permission(make_world, schema):  # noqa: F811
    world = make_world(slug="camp")
    other = make_world(slug="other")
    body = {"slug": "fresh", "name": "Fresh"}
    for who, client in principals(world, other).items():
        res = client.post(f"{API}/campaigns/create/", body, format="json")
        assert res.status_code == (401 if who == "anonymous" else 403), (who, res.content)
    assert not Campaign.objects.filter(slug="fresh").exists()
    # An operator grants it: now the curator may create campaigns, and curates the new one.
    call_command("grant_create_campaign", world.curator.username, stdout=StringIO())
    res = api_for(world.curator).post(f"{API}/campaigns/create/", body, format="json")
    assert res.status_code == 201, res.content
    check(schema, "post", "/api/v1/campaigns/create/", res)
    assert res.json()["slug"] == "fresh" and res.json()["subcategories"] == 40
    assert Membership.objects.filter(
        campaign__slug="fresh", user=world.curator, role=Role.CURATOR
    ).exists()


# ---------------------------------------------------------------------------------------------
# Creating a campaign.


def test_create_with_every_setting_and_the_creator_as_curator(db, schema):  # noqa: F811
    user = creator()
    res = api_for(user).post(
        f"{API}/campaigns/create/",
        {
            "slug": "arena-25",
            "name": "Arena 25",
            "panel_size": 5,
            "accept_threshold": 3,
            "target_release_size": 120,
            "lease_minutes": 90,
            "max_active_assignments": 7,
            "tokenizer": "cl100k_base",
            "early_decision": True,
        },
        format="json",
    )
    assert res.status_code == 201, res.content
    body = res.json()
    assert {k: body[k] for k in ["panel_size", "accept_threshold", "target_release_size"]} == {
        "panel_size": 5,
        "accept_threshold": 3,
        "target_release_size": 120,
    }
    assert body["lease_minutes"] == 90 and body["max_active_assignments"] == 7
    assert body["tokenizer"] == "cl100k_base" and body["early_decision"] is True
    assert (body["categories"], body["subcategories"], body["programming_languages"]) == (7, 40, 44)
    assert body["locked"] == [] and body["guidelines_version"] == 0
    campaign = Campaign.objects.get(slug="arena-25")
    assert list(Membership.objects.filter(campaign=campaign).values_list("user_id", "role")) == [
        (user.pk, "curator")
    ]
    kinds = list(Event.objects.filter(campaign=campaign).values_list("kind", "actor_id"))
    assert kinds == [
        (EventKind.CAMPAIGN_CREATED.value, user.pk),
        (EventKind.MEMBERSHIP_ADDED.value, user.pk),
    ]
    # The new curator works in it at once (the API's role cache knows the membership).
    assert api_for(user).get(f"{API}/campaigns/arena-25/settings/").status_code == 200


def test_existing_callers_are_unchanged(db):
    campaign = campaign_create(slug="plain", name="Plain", guidelines="Old rules.")
    assert not Membership.objects.filter(campaign=campaign).exists()
    assert campaign.categories.count() == 7 and campaign.tokenizer == "o200k_base"
    assert list(campaign.guidelines_versions.values_list("number", "text")) == [(1, "Old rules.")]
    empty = campaign_create(slug="empty", name="Empty", taxonomy=None)
    assert empty.subcategories.count() == 0


def test_uploaded_taxonomy_file_is_installed(db):
    user = creator()
    upload = SimpleUploadedFile(
        "tax.json", json.dumps(SMALL_TAXONOMY).encode(), content_type="application/json"
    )
    res = api_for(user).post(
        f"{API}/campaigns/create/",
        {"slug": "small", "name": "Small", "taxonomy": "upload", "taxonomy_file": upload},
        format="multipart",
    )
    assert res.status_code == 201, res.content
    campaign = Campaign.objects.get(slug="small")
    assert list(campaign.subcategories.values_list("name", "category__name")) == [
        ("Debugging", "Code"),
        ("SQL", "Data"),
    ]
    assert list(campaign.programming_languages.values_list("name", "aliases")) == [
        ("python", ["py"]),
        ("sql", []),
    ]
    created = Event.objects.get(campaign=campaign, kind=EventKind.CAMPAIGN_CREATED)
    assert created.data["taxonomy"] == "small"


def test_a_bad_taxonomy_names_every_problem_and_creates_nothing(db):
    user = creator()
    bad = {
        "categories": [
            {"name": "Code", "short_name": "C"},
            {"name": "code ", "short_name": "C2"},  # a duplicate, ignoring case and spaces
            {"short_name": "nameless"},
            {"name": "Extra", "colour": "red"},
        ],
        "subcategories": [
            {"name": "Debugging", "category": "Code"},
            {"name": "Orphan", "category": "Nowhere"},
            {"name": "Debugging", "category": "Code"},
            "not an object",
        ],
        "programming_languages": [
            {"name": "python", "aliases": "py"},
            {"name": "go"},
            {"name": "rust", "aliases": ["rs", "python"]},
            {"name": "ruby", "aliases": ["rs"]},
        ],
        "version": 2,
    }
    before = (Campaign.objects.count(), Membership.objects.count(), Event.objects.count())
    res = api_for(user).post(
        f"{API}/campaigns/create/",
        {"slug": "bad", "name": "Bad", "taxonomy": "upload", "taxonomy_json": json.dumps(bad)},
        format="json",
    )
    assert res.status_code == 400, res.content
    problems = res.json()["errors"]["taxonomy"]
    expected = [
        "unknown field 'version'",
        "categories[1].name: category 'code' is already categories[0]",
        "categories[2]: 'name' is missing",
        "categories[3]: unknown field 'colour'",
        "subcategories[1].category: 'Nowhere' is not one of the categories",
        "subcategories[2].name: subcategory 'Debugging' is already subcategories[0]",
        "subcategories[3]: must be an object",
        "programming_languages[0].aliases: must be a list of non-empty strings",
        "programming_languages[1]: 'aliases' is missing (a list, possibly empty)",
        "programming_languages[2].aliases: 'python' is the name of programming_languages[0]",
        "programming_languages[3].aliases: 'rs' is already an alias in "
        "programming_languages[2].aliases",
    ]
    assert sorted(problems) == sorted(expected)
    assert (Campaign.objects.count(), Membership.objects.count(), Event.objects.count()) == before


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"{not json", "the file is not JSON"),
        (b"\xff\xfe", "the file is not UTF-8"),
        (b"[1, 2]", "must be a JSON object, not list"),
        (b"{}", "'categories' is missing"),
    ],
)
def test_a_taxonomy_file_that_is_not_a_taxonomy(db, raw, problem):
    user = creator()
    upload = SimpleUploadedFile("tax.json", raw, content_type="application/json")
    res = api_for(user).post(
        f"{API}/campaigns/create/",
        {"slug": "bad", "name": "Bad", "taxonomy": "upload", "taxonomy_file": upload},
        format="multipart",
    )
    assert res.status_code == 400
    assert any(problem in p for p in res.json()["errors"]["taxonomy"]), res.json()
    assert not Campaign.objects.filter(slug="bad").exists()


def test_the_builtin_taxonomy_passes_its_own_validation():
    data = builtin_taxonomy("codearena")
    assert len(taxonomy_validate(data)["subcategories"]) == 40


def test_bad_fields_are_all_named_unknown_tokenizer_and_reserved_slugs(db):
    user = creator()
    client = api_for(user)
    res = client.post(
        f"{API}/campaigns/create/",
        {"slug": "new", "name": " ", "panel_size": 4, "accept_threshold": 2, "tokenizer": "nope"},
        format="json",
    )
    assert res.status_code == 400
    # DRF's own check (blank name) answers first; the rest is the service's.
    assert set(res.json()["errors"]) == {"name"}
    res = client.post(
        f"{API}/campaigns/create/",
        {"slug": "new", "name": "N", "panel_size": 4, "accept_threshold": 2, "tokenizer": "nope"},
        format="json",
    )
    assert res.status_code == 400
    errors = res.json()["errors"]
    assert set(errors) == {"slug", "accept_threshold", "tokenizer"}
    assert "reserved" in errors["slug"][0]
    assert "tiktoken cannot load 'nope'" in errors["tokenizer"][0]
    res = client.post(f"{API}/campaigns/create/", {"slug": "create", "name": "C"}, format="json")
    assert res.status_code == 400 and "reserved" in res.json()["errors"]["slug"][0]
    res = client.post(
        f"{API}/campaigns/create/",
        {"slug": "up", "name": "U", "taxonomy": "upload"},
        format="json",
    )
    assert res.status_code == 400 and "taxonomy_file" in res.json()["errors"]
    assert not Campaign.objects.exists()
    with pytest.raises(ValidationFailed) as exc:
        campaign_create(slug="ok", name="Ok", tokenizer="nope_base")
    assert set(exc.value.details["errors"]) == {"tokenizer"}


def test_a_taken_slug_is_a_conflict(db):
    user = creator()
    campaign_create(slug="taken", name="Taken")
    res = api_for(user).post(
        f"{API}/campaigns/create/", {"slug": "taken", "name": "Again"}, format="json"
    )
    assert res.status_code == 409 and "already exists" in res.json()["detail"]
    assert not Membership.objects.filter(user=user).exists()


def test_grant_create_campaign_command(db):
    user = user_ensure(username="ops-user")
    out = StringIO()
    call_command("grant_create_campaign", "ops-user", stdout=out)
    assert "can now create campaigns" in out.getvalue()
    assert type(user).objects.get(pk=user.pk).has_perm("annotation.create_campaign")
    call_command("grant_create_campaign", "ops-user", "--revoke", stdout=StringIO())
    fresh = type(user).objects.get(pk=user.pk)
    assert not fresh.has_perm("annotation.create_campaign")
    with pytest.raises(NotAllowed):
        campaign_create(slug="x", name="X", actor=fresh)
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("grant_create_campaign", "ghost", stdout=StringIO())
    assert Permission.objects.filter(codename="create_campaign").count() == 1


# ---------------------------------------------------------------------------------------------
# Settings.


def test_settings_change_writes_from_and_to(world):
    client = api_for(world.curator)
    url = f"{API}/campaigns/{world.campaign.slug}/settings/"
    res = client.patch(
        url,
        {"name": "Renamed", "lease_minutes": 60, "max_active_assignments": 3, "panel_size": 4},
        format="json",
    )
    assert res.status_code == 200, res.content
    assert res.json()["name"] == "Renamed" and res.json()["max_active_assignments"] == 3
    event = Event.objects.get(kind=EventKind.CAMPAIGN_SETTINGS_CHANGED)
    assert event.actor_id == world.curator.pk
    assert event.data["changes"] == {
        "name": {"from": "Camp", "to": "Renamed"},
        "lease_minutes": {"from": 1440, "to": 60},
        "max_active_assignments": {"from": None, "to": 3},
    }
    # Nothing changed: no event. Clearing the cap is a change.
    assert client.patch(url, {"name": "Renamed"}, format="json").status_code == 200
    assert Event.objects.filter(kind=EventKind.CAMPAIGN_SETTINGS_CHANGED).count() == 1
    res = client.patch(url, {"max_active_assignments": None}, format="json")
    assert res.json()["max_active_assignments"] is None
    assert Event.objects.filter(kind=EventKind.CAMPAIGN_SETTINGS_CHANGED).count() == 2


def test_bad_settings_are_named_and_nothing_changes(world):
    client = api_for(world.curator)
    url = f"{API}/campaigns/{world.campaign.slug}/settings/"
    res = client.patch(url, {"panel_size": 6}, format="json")  # threshold 3 is not a majority
    assert res.status_code == 400 and set(res.json()["errors"]) == {"accept_threshold"}
    res = client.patch(url, {"lease_minutes": 0, "target_release_size": -1}, format="json")
    assert res.status_code == 400
    assert set(res.json()["errors"]) == {"lease_minutes", "target_release_size"}
    res = client.patch(url, {"tokenizer": "nope", "name": "Changed"}, format="json")
    assert res.status_code == 400 and set(res.json()["errors"]) == {"tokenizer"}
    world.campaign.refresh_from_db()
    assert (world.campaign.panel_size, world.campaign.name) == (4, "Camp")
    with pytest.raises(ValidationFailed) as exc:
        campaign_settings_update(
            campaign=world.campaign, actor=world.curator, contamination_ngram=5
        )
    assert set(exc.value.details["errors"]) == {"contamination_ngram"}
    assert not Event.objects.filter(kind=EventKind.CAMPAIGN_SETTINGS_CHANGED).exists()


def test_the_tokenizer_locks_after_a_submit_and_new_panels_take_the_new_size(make_world):
    world = make_world(slug="lock", reviewers=6)
    world.add_seeds(3)
    client = api_for(world.curator)
    url = f"{API}/campaigns/{world.campaign.slug}/settings/"
    assert client.get(url).json()["locked"] == []
    assert client.patch(url, {"tokenizer": "cl100k_base"}, format="json").status_code == 200
    first = world.submitted()
    res = client.patch(url, {"tokenizer": "o200k_base"}, format="json")
    assert res.status_code == 409 and "tokenizer" in res.json()["errors"]
    assert "cannot change" in res.json()["detail"]
    locked = client.get(url).json()["locked"]
    assert [lock["field"] for lock in locked] == ["tokenizer"]
    # The same tokenizer again is no change, so no refusal; other settings still change.
    res = client.patch(
        url, {"tokenizer": "cl100k_base", "panel_size": 5, "accept_threshold": 3}, format="json"
    )
    assert res.status_code == 200, res.content
    second = world.submitted(annotator=world.annotators[1])
    assert first.ballots.count() == 4 and second.ballots.count() == 5


# ---------------------------------------------------------------------------------------------
# Guidelines.


def test_guidelines_versions_diffs_and_events(world, schema):  # noqa: F811
    client = api_for(world.curator)
    base = f"{API}/campaigns/{world.campaign.slug}/guidelines/"
    res = client.post(base, {"text": "# Rules\n\nOne.\nTwo."}, format="json")
    assert res.status_code == 201 and res.json()["version"] == 1
    assert res.json()["author"] == world.curator.username
    res = client.post(base, {"text": "# Rules\r\n\r\nOne.\r\nTwo."}, format="json")  # same text
    assert res.status_code == 200 and res.json()["version"] == 1
    res = client.post(base, {"text": "# Rules\n\nOne.\nThree <b>x</b>."}, format="json")
    assert res.status_code == 201 and res.json()["version"] == 2
    assert "<b>" not in res.json()["html"] and "&lt;b&gt;" in res.json()["html"]
    world.campaign.refresh_from_db()
    assert world.campaign.guidelines == "# Rules\n\nOne.\nThree <b>x</b>."
    events = Event.objects.filter(kind=EventKind.GUIDELINES_SAVED).order_by("id")
    assert [(e.to_state, e.actor_id) for e in events] == [
        ("1", world.curator.pk),
        ("2", world.curator.pk),
    ]

    res = client.get(f"{base}versions/")
    check(schema, "get", "/api/v1/campaigns/{slug}/guidelines/versions/", res)
    assert [v["number"] for v in res.json()["results"]] == [2, 1]
    res = client.get(f"{base}versions/2/")
    check(schema, "get", "/api/v1/campaigns/{slug}/guidelines/versions/{number}/", res)
    detail = res.json()
    assert detail["previous"] == 1 and (detail["added"], detail["removed"]) == (1, 1)
    assert "-Two.\n+Three <b>x</b>." in detail["diff"]
    first = client.get(f"{base}versions/1/").json()
    assert first["previous"] is None and "+One." in first["diff"]
    assert client.get(f"{base}versions/3/").status_code == 404

    with pytest.raises(NotAllowed):
        guidelines_save(campaign=world.campaign, actor=world.annotators[0], text="mine")
    with pytest.raises(ValidationFailed):
        guidelines_save(campaign=world.campaign, actor=world.curator, text="x" * 100_001)


def test_legacy_guidelines_become_version_one_on_the_first_change(db):
    world = World(slug="legacy")
    Campaign.objects.filter(pk=world.campaign.pk).update(guidelines="Legacy text.")
    world.campaign.refresh_from_db()
    assert (
        guidelines_save(campaign=world.campaign, actor=world.curator, text="Legacy text.") is None
    )
    version = guidelines_save(campaign=world.campaign, actor=world.curator, text="New text.")
    assert version is not None and version.number == 2
    assert list(world.campaign.guidelines_versions.values_list("number", "author_id")) == [
        (2, world.curator.pk),
        (1, None),
    ]


def test_unread_flag(world):
    annotator = api_for(world.annotators[0])
    url = f"{API}/campaigns/{world.campaign.slug}/guidelines/"
    assert annotator.get(url).json()["unread"] is False  # nothing written yet
    guidelines_save(campaign=world.campaign, actor=world.curator, text="Version one.")
    assert annotator.get(url).json()["unread"] is True
    assert api_for(world.curator).get(url).json()["unread"] is False  # the author read it
    res = annotator.post(f"{url}read/")
    assert res.status_code == 200 and res.json() == {"version": 1, "unread": False}
    assert annotator.get(url).json()["unread"] is False
    guidelines_save(campaign=world.campaign, actor=world.curator, text="Version two.")
    assert annotator.get(url).json()["unread"] is True
    # Marking read twice keeps one row, at the newest version.
    guidelines_mark_read(campaign=world.campaign, actor=world.annotators[0])
    guidelines_mark_read(campaign=world.campaign, actor=world.annotators[0])
    assert list(
        GuidelinesRead.objects.filter(user=world.annotators[0]).values_list("version", flat=True)
    ) == [2]
    outsider = user_ensure(username="outsider")
    with pytest.raises(NotFound):
        guidelines_mark_read(campaign=world.campaign, actor=outsider)


def test_version_list_queries_do_not_grow_with_rows(make_world):
    counts = []
    for slug, n in [("few", 2), ("many", 12)]:
        world = make_world(slug=slug)
        for i in range(n):
            guidelines_save(campaign=world.campaign, actor=world.curator, text=f"Rules {i}")
        client = api_for(world.curator)
        with CaptureQueriesContext(connection) as queries:
            res = client.get(f"{API}/campaigns/{slug}/guidelines/versions/")
        assert res.status_code == 200 and res.json()["count"] == n
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_concurrent_style_saves_number_versions_in_order(world):
    numbers = [
        guidelines_save(campaign=world.campaign, actor=world.curator, text=f"v{i}").number
        for i in range(3)
    ]
    assert numbers == [1, 2, 3]
    assert GuidelinesVersion.objects.filter(campaign=world.campaign).count() == 3


# ---------------------------------------------------------------------------------------------
# Pages.


def test_new_campaign_page(db):
    plain = user_ensure(username="plain")
    assert Client().get("/campaigns/new/").status_code == 302  # to the log-in page
    assert login(plain).get("/campaigns/new/").status_code == 403
    home = login(plain).get("/").content.decode()
    assert "New campaign" not in home

    user = creator()
    client = login(user)
    assert 'id="new-campaign"' in client.get("/").content.decode()
    page = client.get("/campaigns/new/")
    assert page.status_code == 200 and 'name="taxonomy_file"' in page.content.decode()
    res = client.post(
        "/campaigns/new/",
        {
            "name": "From the browser",
            "slug": "browser",
            "taxonomy": "codearena",
            "panel_size": "4",
            "accept_threshold": "3",
            "target_release_size": "50",
            "lease_minutes": "120",
            "max_active_assignments": "",
            "tokenizer": "o200k_base",
        },
    )
    assert res.status_code == 302 and res["Location"] == "/campaigns/browser/settings/"
    campaign = Campaign.objects.get(slug="browser")
    assert campaign.max_active_assignments is None and campaign.early_decision is False
    assert campaign.target_release_size == 50 and campaign.subcategories.count() == 40
    assert Membership.objects.filter(campaign=campaign, user=user, role=Role.CURATOR).exists()
    settings_page = client.get(res["Location"]).content.decode()
    assert "created; you are its curator" in settings_page


def test_new_campaign_page_shows_every_taxonomy_problem_and_keeps_the_form(db):
    client = login(creator())
    bad = {**SMALL_TAXONOMY, "subcategories": [{"name": "X", "category": "<script>"}]}
    res = client.post(
        "/campaigns/new/",
        {
            "name": "Keep me",
            "slug": "kept",
            "taxonomy": "upload",
            "taxonomy_file": SimpleUploadedFile("t.json", json.dumps(bad).encode()),
            "panel_size": "4",
            "accept_threshold": "3",
            "target_release_size": "10",
            "lease_minutes": "60",
            "tokenizer": "nope",
        },
    )
    assert res.status_code == 400
    html = res.content.decode()
    assert "is not one of the categories" in html and "&lt;script&gt;" in html
    assert "<script>" not in html.split("</head>")[1].replace('<script type="module"', "")
    assert "tiktoken cannot load" in html
    assert 'value="Keep me"' in html and 'value="kept"' in html
    assert not Campaign.objects.filter(slug="kept").exists()


def test_pages_refuse_a_post_without_csrf(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.curator)
    res = client.post(f"/campaigns/{world.campaign.slug}/guidelines/", {"text": "sneaky"})
    assert res.status_code == 403
    res = client.post(f"/campaigns/{world.campaign.slug}/settings/", {"name": "sneaky"})
    assert res.status_code == 403
    world.campaign.refresh_from_db()
    assert world.campaign.guidelines == "" and world.campaign.name == "Camp"


def test_settings_page(make_world):
    world = make_world(slug="camp")
    other = make_world(slug="other")
    url = f"/campaigns/{world.campaign.slug}/settings/"
    assert Client().get(url).status_code == 302
    assert login(world.annotators[0]).get(url).status_code == 403
    assert login(world.reviewers[0]).get(url).status_code == 403
    assert login(other.curator).get(url).status_code == 404
    client = login(world.curator)
    html = client.get(url).content.decode()
    assert "applies to review panels opened afterwards" in html
    assert 'name="tokenizer"' in html and 'class="workspace-nav"' in html
    form = {
        "name": "Camp",
        "panel_size": "5",
        "accept_threshold": "3",
        "target_release_size": "397",
        "lease_minutes": "1440",
        "max_active_assignments": "",
        "tokenizer": "o200k_base",
        "early_decision": "true",
    }
    res = client.post(url, form)
    assert res.status_code == 302
    world.campaign.refresh_from_db()
    assert world.campaign.panel_size == 5 and world.campaign.early_decision is True
    # An unticked box turns early decision off; a bad threshold is a 400 keeping the input.
    res = client.post(url, {**form, "accept_threshold": "2", "name": "Typed"})
    assert res.status_code == 400
    html = res.content.decode()
    assert "strict majority" in html and 'value="Typed"' in html
    res = client.post(url, {k: v for k, v in form.items() if k != "early_decision"})
    assert res.status_code == 302
    world.campaign.refresh_from_db()
    assert world.campaign.early_decision is False

    world.add_seeds(1)
    world.submitted()
    html = client.get(url).content.decode()
    assert 'id="tokenizer-locked"' in html and 'name="tokenizer"' not in html
    assert "question tokens were counted" in html


def test_guidelines_pages(make_world):
    world = make_world(slug="camp")
    other = make_world(slug="other")
    url = f"/campaigns/{world.campaign.slug}/guidelines/"
    assert Client().get(url).status_code == 302
    assert login(other.curator).get(url).status_code == 404
    curator = login(world.curator)
    res = curator.post(url, {"text": "# Rules\r\n\r\nUse <script>alert(1)</script> never."})
    assert res.status_code == 302
    res = curator.post(url, {"text": "# Rules\r\n\r\nBe kind."})
    assert res.status_code == 302
    html = curator.get(url).content.decode()
    assert 'id="guidelines-form"' in html and 'id="guidelines-history"' in html
    assert "diff to version 1" in html and "js/guidelines/main.js" in html

    version = curator.get(f"{url}versions/2/")
    assert version.status_code == 200
    diff = version.content.decode()
    assert '<span class="del">-Use &lt;script&gt;alert(1)&lt;/script&gt; never.</span>' in diff
    assert '<span class="add">+Be kind.</span>' in diff
    assert curator.get(f"{url}versions/9/").status_code == 404
    assert login(world.annotators[0]).get(f"{url}versions/2/").status_code == 403
    assert login(other.curator).get(f"{url}versions/2/").status_code == 404

    # A member: the rendered guidelines, no editor; the notice once, then read.
    annotator = login(world.annotators[0])
    first = annotator.get(url).content.decode()
    assert "changed since you last read them" in first and "Be kind." in first
    assert 'id="guidelines-form"' not in first
    second = annotator.get(url).content.decode()
    assert "changed since you last read them" not in second
    assert login(world.annotators[0]).post(url, {"text": "mine"}).status_code == 403
    world.campaign.refresh_from_db()
    assert world.campaign.guidelines == "# Rules\n\nBe kind."


def test_home_shows_the_workspace_and_the_unread_notice(world):
    # An annotator who also reviews sees the home page (a single role goes to its queue).
    from review.services import membership_add

    member = world.annotators[0]
    membership_add(campaign=world.campaign, user=member, role=Role.REVIEWER)
    guidelines_save(campaign=world.campaign, actor=world.curator, text="Read me.")
    client = login(member)
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/").content.decode()
    assert "The guidelines changed since you last read them." in html
    assert "/campaigns/camp/settings/" not in html  # not a curator
    client.get(f"/campaigns/{world.campaign.slug}/guidelines/")
    assert "changed since you last read them" not in client.get("/").content.decode()
    curator_home = login(world.curator).get("/").content.decode()
    assert 'href="/campaigns/camp/settings/">workspace</a>' in curator_home
    assert len(queries) < 15
