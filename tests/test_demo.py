"""``manage.py demo``: a campaign in the middle of its life (every page has something on it),
quick, rerunnable without duplicating anything, and still working without the reference folder;
and the dataset card's account of what became of the submitted revisions."""

import io
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotation.models import Assignment, Campaign, Event, Rewrite, Seed
from exports.card import _review_outcomes
from exports.models import Release
from review.models import Ballot
from review.stats import campaign_funnel

REFERENCES = Path(settings.REFERENCES_DIR) if settings.REFERENCES_DIR else None
HAS_REFERENCES = bool(REFERENCES and (REFERENCES / "humaneval" / "HumanEval.jsonl.gz").is_file())


def run(*args: str) -> tuple[str, float]:
    out = io.StringIO()
    started = time.monotonic()
    call_command("demo", *args, stdout=out)
    return out.getvalue(), time.monotonic() - started


def snapshot(campaign: Campaign) -> dict[str, int]:
    return {
        "seeds": Seed.objects.filter(campaign=campaign).count(),
        "assignments": Assignment.objects.filter(campaign=campaign).count(),
        "rewrites": Rewrite.objects.filter(campaign=campaign).count(),
        "ballots": Ballot.objects.filter(campaign=campaign).count(),
        "events": Event.objects.filter(campaign=campaign).count(),
        "releases": Release.objects.filter(campaign=campaign).count(),
        "users": get_user_model().objects.count(),
    }


@pytest.mark.django_db(transaction=True)
def test_demo_is_a_campaign_in_mid_life_quick_and_rerunnable(settings, tmp_path):
    settings.RELEASES_DIR = tmp_path
    out, seconds = run()
    assert seconds < 30, f"make demo took {seconds:.1f} s"
    for username in ("curator", "annotator4", "reviewer4"):
        assert f"password: demo-{username}" in out
    campaign = Campaign.objects.get(slug="demo")
    assert campaign.target_release_size >= campaign.subcategories.count() == 40
    assert Seed.objects.filter(campaign=campaign).count() >= 300
    funnel = campaign_funnel(campaign)
    assert funnel["accepted"] >= 20
    assert funnel["rejected"] >= 2
    assert funnel["no_consensus"] == 1
    assert funnel["returned"] == 2
    assert funnel["in_revision"] == 1  # one returned split: its revision 2 is a draft
    assert funnel["closed"] == 1
    assert funnel["waiting_for_votes"] >= 5
    assert funnel["rejected_by_annotators"] == 2 and funnel["skipped"] == 1
    assert funnel["contaminated"] == (1 if HAS_REFERENCES else 0)
    resubmitted = Rewrite.objects.get(campaign=campaign, revision=2, status="submitted")
    assert resubmitted.feedback["outcome"] == "rejected"

    users = {u.username: u for u in get_user_model().objects.all()}
    for i in range(1, 5):
        reviewer, annotator = users[f"reviewer{i}"], users[f"annotator{i}"]
        assert Ballot.objects.filter(reviewer=reviewer, status="pending").exists(), reviewer
        active = Assignment.objects.filter(annotator=annotator, status="active")
        assert active.count() >= 2, annotator
        assert Rewrite.objects.filter(assignment__in=active, status="draft").exists(), annotator

    release = Release.objects.get(campaign=campaign)
    assert release.status == Release.Status.DONE
    card = (tmp_path / "demo" / release.name / "README.md").read_text()
    assert "2 were returned to their authors for a new revision" in card
    assert "1 is without consensus, for a curator to decide" in card
    assert " 1 seeds" not in card and " 1 rewrites" not in card and "0 had" not in card

    before = snapshot(campaign)
    again, _seconds = run()
    assert "played already" in again and "password: demo-curator" in again
    assert snapshot(campaign) == before
    assert users["annotator1"].check_password("demo-annotator1")


@pytest.mark.django_db(transaction=True)
def test_demo_without_the_reference_folder_skips_only_the_contaminated_rewrite(settings, tmp_path):
    settings.RELEASES_DIR = tmp_path
    out, _seconds = run("--references", str(tmp_path / "missing"))
    assert "skips its contaminated rewrite" in out
    campaign = Campaign.objects.get(slug="demo")
    funnel = campaign_funnel(campaign)
    assert funnel["contaminated"] == 0 and funnel["accepted"] >= 20 and funnel["returned"] == 2
    assert Release.objects.get(campaign=campaign).status == Release.Status.DONE


BASE = {"accepted": 0, "rejected": 0, "returned": 0, "no_consensus": 0, "closed": 0}


@pytest.mark.parametrize(
    ("counts", "words"),
    [
        ({"accepted": 5, "rejected": 1}, "5 were accepted and 1 was rejected"),
        (
            {"accepted": 1, "rejected": 0, "returned": 1},
            "1 was accepted, 0 were rejected and 1 was returned to its author for a new revision",
        ),
        (
            {"accepted": 2, "rejected": 2, "no_consensus": 1, "waiting_for_votes": 3},
            "2 were accepted, 2 were rejected, 1 is without consensus, for a curator to decide "
            "and 3 are still waiting for votes",
        ),
        (
            {"accepted": 0, "rejected": 0, "closed": 2},
            "0 were accepted, 0 were rejected and 2 were closed by a curator",
        ),
    ],
)
def test_the_card_names_what_became_of_the_revisions(counts, words):
    assert _review_outcomes({**BASE, **counts}) == words
