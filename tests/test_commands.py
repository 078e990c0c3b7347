"""The command-line walkthrough of a whole campaign, and the export files."""

import io
import json
import os
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from annotation.models import Assignment, Campaign, Event, Membership, Rewrite, Seed
from annotation.services import DraftInput, assignment_claim_next, draft_save
from annotation.tokens import count_tokens
from review.services import ballot_cast, rewrite_submit
from review.stats import campaign_funnel

from .conftest import BENCHMARK_KEYS

pytestmark = pytest.mark.django_db
SUBS = ["Code Debugging", "Security", "Machine Learning", "Database Management"]


def run(*args, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        import sys

        old = sys.stdin
        sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out, stderr=err)
    finally:
        if stdin is not None:
            sys.stdin = old
    return out.getvalue()


@pytest.fixture
def campaign_cli(tmp_path, django_capture_on_commit_callbacks):
    run("create_campaign", "cli", "--name", "CLI campaign")
    for name, role in [("cur", "curator"), ("a1", "annotator"), ("a2", "annotator")] + [
        (f"r{i}", "reviewer") for i in range(1, 5)
    ]:
        run(
            "add_member",
            "cli",
            name,
            "--role",
            role,
            "--password-stdin",
            stdin=f"Curation-{name}-7319\n",
        )
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"q{i}",
                    "text": f"Question {i}: why does my code fail?",
                    "subcategory": SUBS[i % 4],
                }
            )
            + "\n"
            for i in range(40)
        )
    )
    run("import_seeds", "cli", str(seeds), "--no-progress")
    return Campaign.objects.get(slug="cli")


def finish(campaign, decisions_for, callbacks_fixture):
    """Each annotator completes their assignments; reviewers vote as ``decisions_for`` says."""
    for i, a in enumerate(Assignment.objects.filter(campaign=campaign).order_by("id")):
        draft_save(
            assignment_id=a.pk,
            actor=a.annotator,
            version=0,
            data=DraftInput(
                text=f"Rewritten question {i}: explain why this Python loop never ends.",
                difficulty=["easy", "medium", "hard"][i % 3],
                programming_languages=["python"],
                natural_language="en",
                subcategory=a.seed.subcategory.name,
                checklist={"clear": True, "ethical": True, "solvable": True},
            ),
        )
        with callbacks_fixture(execute=True):
            rewrite = rewrite_submit(assignment_id=a.pk, actor=a.annotator)
        for ballot, decision in zip(rewrite.ballots.order_by("id"), decisions_for(i), strict=True):
            ballot_cast(
                ballot_id=ballot.pk,
                actor=ballot.reviewer,
                decision=decision,
                reasons=["unclear"] if decision == "invalid" else [],
            )


def test_walkthrough(campaign_cli, tmp_path, django_capture_on_commit_callbacks):
    campaign = campaign_cli
    user = get_user_model().objects.get(username="a1")
    assert user.check_password("Curation-a1-7319")
    assert Membership.objects.filter(campaign=campaign).count() == 7
    out = run("sample_seeds", "cli", "--size", "20", "--seed", "7")
    assert "Sampled 20 seeds now, 20 in all over 4 subcategories" in out
    out = run("assign_seeds", "cli")
    assert "Assigned 20 seeds." in out and "a1: 10" in out and "a2: 10" in out
    assert run("expire_assignments", "cli").strip() == "Released 0 expired assignment(s)."

    finish(
        campaign,
        lambda i: ["valid"] * 4 if i % 4 else ["valid", "invalid"] * 2,
        django_capture_on_commit_callbacks,
    )
    funnel = campaign_funnel(campaign)
    assert (funnel["accepted"], funnel["no_consensus"], funnel["submitted"]) == (15, 5, 20)

    out_dir = tmp_path / "release"
    out = run("export_benchmark", "cli", "--out", str(out_dir))
    assert "Exported 15 samples" in out
    lines = (out_dir / "benchmark.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 15
    assert list(records[0]) == [*BENCHMARK_KEYS, "provenance"]
    for rec in records:
        rewrite = Rewrite.objects.get(seed__external_id=rec["seed_id"], status="accepted")
        assert rec["messages"] == [{"role": "user", "content": rewrite.text}]
        assert rec["question_tokens"] == count_tokens(rewrite.text, "o200k_base")
        assert rec["votes"] == {"valid": 4, "invalid": 0}
        assert rec["programming_language"] == ["python"] and rec["language"] == "en"
        assert len(rec["id"]) == 32 and int(rec["id"], 16) >= 0
    stats = json.loads((out_dir / "stats.json").read_text())
    assert stats["total"] == 15
    assert sum(stats["categories"].values()) == 15
    assert sum(stats["subcategories"].values()) == 15
    assert sum(stats["difficulty"].values()) == 15
    assert stats["funnel"]["released"] == 15 and stats["funnel"]["accepted"] == 15
    assert stats["funnel"]["sampled"] == 20 and stats["funnel"]["seeds"] == 40
    tokens = sorted(r["question_tokens"] for r in records)
    assert stats["question_tokens"]["min"] == tokens[0]
    assert stats["question_tokens"]["max"] == tokens[-1]
    assert stats["agreement"]["panels"] == 20
    assert stats["tokenizer"] == "o200k_base"


RELEASE_FILES = [
    "README.md",
    "arena-hard-auto",
    "benchmark.jsonl",
    "benchmark.parquet",
    "cli-dev.zip",
    "figures",
    "manifest.json",
    "questions.jsonl",
    "stats.json",
]


def test_export_is_byte_identical_and_stratified(
    campaign_cli, tmp_path, django_capture_on_commit_callbacks
):
    run("sample_seeds", "cli", "--size", "40")
    run("assign_seeds", "cli")
    finish(campaign_cli, lambda i: ["valid"] * 4, django_capture_on_commit_callbacks)
    one, two = tmp_path / "one", tmp_path / "two"
    run("export_benchmark", "cli", "--out", str(one), "--size", "12", "--seed", "3")
    run("export_benchmark", "cli", "--out", str(two), "--size", "12", "--seed", "3")
    for name in ["benchmark.jsonl", "stats.json"]:
        assert (one / name).read_bytes() == (two / name).read_bytes()
    stats = json.loads((one / "stats.json").read_text())
    assert stats["total"] == 12
    assert sorted(stats["subcategories"].values()) == [3, 3, 3, 3]
    run("export_benchmark", "cli", "--out", str(two), "--size", "12", "--seed", "4")
    assert (one / "benchmark.jsonl").read_bytes() != (two / "benchmark.jsonl").read_bytes()
    # No temporary files are left behind, in the folder or beside it.
    assert sorted(os.listdir(one)) == RELEASE_FILES
    assert not [p for p in os.listdir(tmp_path) if ".staging-" in p]


def test_export_refuses_too_small_unless_allowed(
    campaign_cli, tmp_path, django_capture_on_commit_callbacks
):
    run("sample_seeds", "cli", "--size", "4")
    run("assign_seeds", "cli")
    finish(campaign_cli, lambda i: ["valid"] * 4, django_capture_on_commit_callbacks)
    out_dir = tmp_path / "small"
    with pytest.raises(CommandError, match="Only 4 accepted, uncontaminated rewrites are eligible"):
        run("export_benchmark", "cli", "--out", str(out_dir), "--size", "397")
    assert not out_dir.exists()
    out = run("export_benchmark", "cli", "--out", str(out_dir), "--size", "397", "--allow-smaller")
    assert "Exported 4 samples" in out


def test_failed_write_leaves_previous_file_and_no_temp(campaign_cli, tmp_path, monkeypatch):
    from exports.services import publishing as releases

    out_dir = tmp_path / "out"
    run("export_benchmark", "cli", "--out", str(out_dir))
    before = (out_dir / "benchmark.jsonl").read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(releases.os, "fsync", crash)
    with pytest.raises(OSError):
        run("export_benchmark", "cli", "--out", str(out_dir))
    assert (out_dir / "benchmark.jsonl").read_bytes() == before
    assert sorted(os.listdir(out_dir)) == RELEASE_FILES
    assert not [p for p in os.listdir(tmp_path) if ".staging-" in p]


def test_create_campaign_errors(db):
    run("create_campaign", "dup", "--name", "Dup")
    with pytest.raises(CommandError, match="already exists"):
        run("create_campaign", "dup", "--name", "Dup")
    with pytest.raises(CommandError, match="strict majority"):
        run("create_campaign", "bad", "--name", "Bad", "--panel-size", "4", "--threshold", "2")
    assert not Campaign.objects.filter(slug="bad").exists()


def test_add_member_requires_a_password_on_stdin_when_asked(db):
    run("create_campaign", "c", "--name", "C")
    with pytest.raises(CommandError, match="no password"):
        run("add_member", "c", "u", "--role", "annotator", "--password-stdin", stdin="")


def test_add_member_refuses_a_bad_username_or_a_weak_password(db):
    run("create_campaign", "c", "--name", "C")
    with pytest.raises(CommandError, match="Bad username"):
        run("add_member", "c", "no spaces/please", "--role", "annotator")
    for weak, why in [("x", "too short"), ("password", "too common"), ("12345678901", "numeric")]:
        with pytest.raises(CommandError, match=f"Password refused: .*{why}"):
            run("add_member", "c", "u", "--role", "annotator", "--password-stdin", stdin=weak)
    assert not get_user_model().objects.filter(username="u").exists()
    run("add_member", "c", "u", "--role", "annotator", "--password-stdin", stdin="Tidy-Lamp-8841")
    assert get_user_model().objects.get(username="u").check_password("Tidy-Lamp-8841")


def claimed_in_the_past(monkeypatch, claim, hours: float = 48):
    """Run ``claim`` with the clock set ``hours`` back, so the lease it takes has run out now."""
    from django.utils import timezone

    real_now = timezone.now
    past = real_now() - timedelta(hours=hours)
    monkeypatch.setattr(timezone, "now", lambda: past)
    try:
        return claim()
    finally:
        monkeypatch.setattr(timezone, "now", real_now)


def test_expire_assignments_releases_expired_untouched_leases_in_every_campaign(
    campaign_cli, make_world, monkeypatch
):
    run("sample_seeds", "cli", "--size", "6", "--seed", "1")
    a1, a2 = (get_user_model().objects.get(username=n) for n in ["a1", "a2"])
    stale = [
        claimed_in_the_past(
            monkeypatch, lambda: assignment_claim_next(campaign=campaign_cli, actor=a1)
        )
        for _ in range(3)
    ]
    drafted = stale[1]
    claimed_in_the_past(
        monkeypatch,
        lambda: draft_save(
            assignment_id=drafted.pk,
            actor=a1,
            version=0,
            data=DraftInput(text="Half-written, but never lost.", difficulty="easy"),
        ),
    )
    fresh = assignment_claim_next(campaign=campaign_cli, actor=a2)
    other = make_world(slug="other")
    other.add_seeds(3)
    elsewhere = [claimed_in_the_past(monkeypatch, other.claim) for _ in range(2)]

    assert run("expire_assignments").strip() == "Released 4 expired assignment(s)."

    released = [stale[0], stale[2], *elsewhere]
    for assignment in released:
        assignment.refresh_from_db()
        assert assignment.status == "released"
        assert Seed.objects.get(pk=assignment.seed_id).status == "sampled"
    for assignment in [drafted, fresh]:
        assignment.refresh_from_db()
        assert assignment.status == "active"
    assert Rewrite.objects.get(assignment=drafted).text == "Half-written, but never lost."
    expired = Event.objects.filter(kind="assignment.lease_expired")
    assert sorted(expired.values_list("object_id", flat=True)) == sorted(a.pk for a in released)
    assert set(expired.values_list("actor", flat=True)) == {None}
    # The seeds are claimable again, first in line, and a second sweep finds nothing.
    again = assignment_claim_next(campaign=campaign_cli, actor=a2)
    assert again.seed_id == stale[0].seed_id
    assert run("expire_assignments").strip() == "Released 0 expired assignment(s)."


def test_expire_assignments_for_one_campaign_leaves_the_others(
    campaign_cli, make_world, monkeypatch
):
    run("sample_seeds", "cli", "--size", "4", "--seed", "1")
    a1 = get_user_model().objects.get(username="a1")
    here = claimed_in_the_past(
        monkeypatch, lambda: assignment_claim_next(campaign=campaign_cli, actor=a1)
    )
    other = make_world(slug="other")
    other.add_seeds(1)
    there = claimed_in_the_past(monkeypatch, other.claim)
    assert run("expire_assignments", "other").strip() == "Released 1 expired assignment(s)."
    here.refresh_from_db()
    there.refresh_from_db()
    assert (here.status, there.status) == ("active", "released")
    with pytest.raises(CommandError, match="nope"):
        run("expire_assignments", "nope")


def test_remove_member_hands_a_reviewers_ballots_on_and_keeps_the_last_curator(make_world):
    from annotation.models import Event
    from review.models import Ballot

    world = make_world(slug="rm")
    world.add_seeds(1)
    rewrite = world.submitted()
    leaving = rewrite.ballots.order_by("pk").first().reviewer
    out = run("remove_member", "rm", leaving.username, "--role", "reviewer")
    assert "ballots closed: 1" in out and "ballots reopened: 1" in out
    assert Ballot.objects.get(rewrite=rewrite, reviewer=leaving).status == "closed"
    assert rewrite.ballots.filter(status="pending").count() == world.campaign.panel_size
    assert Event.objects.filter(kind="membership.removed").count() == 1
    with pytest.raises(CommandError, match="last curator"):
        run("remove_member", "rm", world.curator.username, "--role", "curator")
    with pytest.raises(CommandError, match="is not a reviewer"):
        run("remove_member", "rm", leaving.username, "--role", "reviewer")
