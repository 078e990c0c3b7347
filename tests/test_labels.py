"""Enum values in words, from one place (core.labels): every TextChoices of the project is
registered, the helper and the template filter word them, and no page of a campaign in the
middle of its life (the demo) shows a stored value such as "no_consensus" or
"assignment.claimed" to a person."""

import html
import re

import pytest
from django.core.management import call_command
from django.db import models
from django.template import Context, Template
from django.test import Client

from annotation.models import Assignment, Campaign, Rewrite, Role
from core import labels
from core.labels import label
from core.transitions import EventKind
from review.models import Ballot, VoteReason


def _project_choices() -> set[type]:
    def below(cls: type) -> set[type]:
        found = set()
        for sub in cls.__subclasses__():
            found.add(sub)
            found |= below(sub)
        return found

    return {c for c in below(models.TextChoices) if not c.__module__.startswith("django")}


def test_every_textchoices_of_the_project_is_registered():
    missing = {c.__qualname__ for c in _project_choices() - labels.registered_classes()}
    assert not missing, f"register these in their app's AppConfig.ready: {sorted(missing)}"
    assert EventKind in labels.registered_classes()


@pytest.mark.parametrize(
    ("value", "choices", "words"),
    [
        ("no_consensus", None, "No consensus"),
        (Rewrite.Status.NO_CONSENSUS, None, "No consensus"),
        ("not_self_contained", "vote_reason", "Not self-contained"),
        ("not_self_contained", None, "Not self-contained"),
        # Two enums word "rejected" differently: plain words without, the enum's with choices.
        ("rejected", None, "Rejected"),
        ("rejected", Assignment.Status, "Seed rejected"),
        ("rejected", "assignment_status", "Seed rejected"),
        ("done", "seed_import_status", "Imported"),
        ("curator", "role", "Curator"),
        ("assignment.claimed", "event_kind", "Seed claimed by an annotator"),
        ("view_as.started", None, "A curator started viewing as this member"),
        # Never raw, even for a value no enum knows.
        ("already_present", None, "Already present"),
        ("wrong_value", "decision", "Wrong value"),
        ("", None, ""),
        (None, "role", ""),
    ],
)
def test_label(value, choices, words):
    assert label(value, choices) == words


def test_label_of_an_unregistered_name_is_an_error():
    with pytest.raises(KeyError):
        label("valid", "no_such_enum")


def test_template_filters():
    template = Template(
        '{% load labels %}{{ s|label|lower }} · {{ r|labels:"vote_reason"|join:", " }} · '
        '{{ a|label:"assignment_status" }}'
    )
    text = template.render(
        Context({"s": "no_consensus", "r": ["not_self_contained", "wrong_tags"], "a": "rejected"})
    )
    assert text == "no consensus · Not self-contained, Wrong tags · Seed rejected"


# Every stored value a person could mistake for words: snake_case and dotted ones.
RAW = sorted(
    {
        value
        for words in labels.registered().values()
        for value in words
        if "_" in value or "." in value
    },
    key=len,
    reverse=True,
)
RAW_PATTERN = re.compile(r"(?<![\w./-])(" + "|".join(map(re.escape, RAW)) + r")(?![\w-])")


def visible_text(page: str) -> str:
    """What a person reads: no scripts, styles, comments, tags or attributes."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<!--.*?-->", " ", page, flags=re.S)
    page = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(page)


def raw_values(page: str) -> list[str]:
    text = visible_text(page)
    return [
        text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ")
        for m in RAW_PATTERN.finditer(text)
    ]


def test_the_scan_finds_a_raw_value():
    hits = raw_values("<p>was no_consensus</p><td>not_self_contained 1</td>")
    assert len(hits) == 2 and "was no_consensus" in hits[0] and "not_self_contained 1" in hits[1]
    assert raw_values("<td>Seed claimed</td><td>assignment.claimed</td>")
    assert not raw_values('<tr data-status="no_consensus"><td>No consensus</td></tr>')


@pytest.mark.django_db
def test_no_page_of_a_campaign_in_mid_life_shows_a_raw_enum_value(settings, tmp_path):
    settings.RELEASES_DIR = tmp_path
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    campaign = Campaign.objects.get(slug="demo")
    people = {m.user.username: m.user for m in campaign.memberships.select_related("user")}
    base = "/campaigns/demo"
    pages: dict[str, list[str]] = {
        "curator": [
            "/",
            f"{base}/dashboard/",
            f"{base}/people/",
            f"{base}/seeds/",
            f"{base}/releases/",
            f"{base}/references/",
            f"{base}/browse/",
            f"{base}/browse/seeds/",
            f"{base}/browse/assignments/",
            f"{base}/browse/rewrites/",
            *[
                f"{base}/items/{seed_id}/"
                for seed_id in Rewrite.objects.filter(campaign=campaign)
                .exclude(status__in=[Rewrite.Status.ACCEPTED, Rewrite.Status.DRAFT])
                .values_list("seed_id", flat=True)
            ],
        ],
    }
    for annotator in [u for u in people if u.startswith("annotator")]:
        user = people[annotator]
        pages[annotator] = [
            f"{base}/queue/",
            f"{base}/my-work/",
            *[
                f"/assignments/{pk}/"
                for pk in Assignment.objects.filter(
                    annotator=user, status=Assignment.Status.ACTIVE
                ).values_list("pk", flat=True)
            ],
            *[
                f"/rewrites/{pk}/view/"
                for pk in Rewrite.objects.filter(author=user)
                .exclude(status=Rewrite.Status.DRAFT)
                .values_list("pk", flat=True)
            ],
        ]
    for reviewer in [u for u in people if u.startswith("reviewer")]:
        user = people[reviewer]
        pages[reviewer] = [
            f"{base}/ballots/",
            *[
                f"/ballots/{pk}/"
                for pk in Ballot.objects.filter(reviewer=user).values_list("pk", flat=True)[:12]
            ],
        ]
    # The demo has what the scan must see: a split returned, a rejected seed, votes with reasons.
    assert Rewrite.objects.filter(campaign=campaign, status=Rewrite.Status.RETURNED).exists()
    assert any(
        VoteReason.NOT_SELF_CONTAINED in reasons
        for reasons in Ballot.objects.filter(campaign=campaign).values_list("reasons", flat=True)
    )
    assert campaign.memberships.filter(role=Role.REVIEWER).count() == 4

    found: dict[str, list[str]] = {}
    checked = 0
    for username, urls in pages.items():
        client = Client()
        client.force_login(people[username])
        for url in urls:
            res = client.get(url, follow=True)
            assert res.status_code == 200, (username, url, res.status_code)
            checked += 1
            if hits := raw_values(res.content.decode()):
                found[f"{username} {url}"] = hits
    assert checked > 60
    assert not found, f"raw enum values shown to people: {found}"
