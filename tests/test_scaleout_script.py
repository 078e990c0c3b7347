"""ops/scaleout.py (the scale-out check CI runs after the tests, and `make soak`): its command
line, and its pure parts, above all the invariant checker: a database that kept every
acknowledged write passes, and each kind of broken invariant is named. The full scale-out run
starts real servers and is not a test here (CI runs `make scaleout` on its own)."""

import importlib.util
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "ops" / "scaleout.py"


def _load():
    spec = importlib.util.spec_from_file_location("ops_scaleout", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["ops_scaleout"] = module
    spec.loader.exec_module(module)
    return module


scaleout = _load()


def test_help_runs_and_names_what_it_needs():
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert "DATABASE_URL" in run.stdout and "--faults" in run.stdout and "--results" in run.stdout


def test_without_services_it_says_what_to_set_and_exits_2():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    run = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60, env=env
    )
    assert run.returncode == 2
    assert "Set DATABASE_URL" in run.stderr and "Traceback" not in run.stderr


def test_its_own_database_and_redis_databases():
    admin, url, name = scaleout.scaleout_database_url(
        "postgres://postgres@127.0.0.1:5432/codearena_ci"
    )
    assert name == "codearena_ci_scaleout"
    assert url == "postgres://postgres@127.0.0.1:5432/codearena_ci_scaleout"
    assert admin == "postgres://postgres@127.0.0.1:5432/postgres"
    assert scaleout.scaleout_database_url("postgres://h/x", "mine")[2] == "mine"
    with pytest.raises(scaleout.SetupError, match="PostgreSQL"):
        scaleout.scaleout_database_url("sqlite:///db.sqlite3")
    with pytest.raises(scaleout.SetupError, match="name"):
        scaleout.scaleout_database_url("postgres://h/x", 'x"; DROP')
    assert scaleout.redis_url_with_db("redis://127.0.0.1:6379/0", 9) == "redis://127.0.0.1:6379/9"
    with pytest.raises(scaleout.SetupError, match="Redis"):
        scaleout.redis_url_with_db("amqp://guest@localhost//", 9)


def test_percentile():
    assert scaleout.percentile([], 50) is None
    assert scaleout.percentile([5.0], 95) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert scaleout.percentile(values, 50) == 50.0
    assert scaleout.percentile(values, 95) == 95.0


def test_children_lists_a_live_child_process():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in scaleout.children(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert child.pid not in scaleout.children(os.getpid())


# --- the invariant checker ----------------------------------------------------------------------


def good():
    """Acknowledged writes and a database that kept them all: two submitted rewrites, one
    decided by a full panel, one still waiting for its last vote; one release."""
    acks = scaleout.Acks()
    for assignment in (10, 11):
        acks.claim(assignment)
        acks.draft(assignment, 2)
    acks.submit(100, 10)
    acks.submit(101, 11)
    for ballot, decision in (
        (1, "valid"),
        (2, "valid"),
        (3, "valid"),
        (4, "invalid"),
        (5, "valid"),
    ):
        acks.vote(ballot, decision)
    acks.release(7)
    ballots = {
        1: {"rewrite": 100, "status": "cast", "decision": "valid"},
        2: {"rewrite": 100, "status": "cast", "decision": "valid"},
        3: {"rewrite": 100, "status": "cast", "decision": "valid"},
        4: {"rewrite": 100, "status": "cast", "decision": "invalid"},
        5: {"rewrite": 101, "status": "cast", "decision": "valid"},
        6: {"rewrite": 101, "status": "pending", "decision": ""},
    }
    facts = scaleout.Facts(
        assignments={10: "submitted", 11: "submitted", 12: "active"},
        draft_versions={10: 3, 11: 2},
        rewrites={
            100: {"status": "accepted", "assignment": 10, "panel_size": 4},
            101: {"status": "submitted", "assignment": 11, "panel_size": 4},
        },
        ballots=ballots,
        seeds_with_two_active=[],
        checks={100: "done", 101: "done"},
        tokens_missing=[],
        duplicate_events=[],
        releases={7: {"status": "done", "done_events": 1, "file_problems": []}},
    )
    return acks, facts


def failed(acks, facts):
    return {o.name: o.detail for o in scaleout.check_invariants(acks, facts) if not o.ok}


def test_a_database_that_kept_every_write_passes():
    acks, facts = good()
    outcomes = scaleout.check_invariants(acks, facts)
    assert len(outcomes) == 11
    assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]


@pytest.mark.parametrize(
    "breaks, invariant, detail",
    [
        (
            lambda a, f: replace(f, assignments={11: "submitted"}),
            "acknowledged claims are stored",
            "10",
        ),
        (
            lambda a, f: replace(f, draft_versions={10: 3, 11: 1}),
            "acknowledged draft saves are stored",
            "11 (acked v2, stored v1)",
        ),
        (
            lambda a, f: replace(
                f,
                rewrites={
                    **f.rewrites,
                    101: {"status": "draft", "assignment": 11, "panel_size": 4},
                },
            ),
            "acknowledged submits are stored",
            "101",
        ),
        (
            lambda a, f: replace(
                f, ballots={**f.ballots, 4: {"rewrite": 100, "status": "cast", "decision": "valid"}}
            ),
            "acknowledged votes are stored",
            "4 (acked invalid",
        ),
        (
            lambda a, f: replace(
                f, releases={7: {"status": "running", "done_events": 0, "file_problems": []}}
            ),
            "acknowledged releases are done",
            "7",
        ),
        (
            lambda a, f: replace(f, seeds_with_two_active=[42]),
            "no seed has two active assignments",
            "42",
        ),
        (
            # A decided rewrite with a vote missing (three cast, one still pending; that vote was
            # never acknowledged).
            lambda a, f: (
                a.votes.pop(3),
                replace(
                    f,
                    ballots={**f.ballots, 3: {"rewrite": 100, "status": "pending", "decision": ""}},
                ),
            )[1],
            "every decided rewrite has exactly panel-size votes",
            "100 (3 cast of 4, 1 pending)",
        ),
        (
            # A fifth vote on a panel of four.
            lambda a, f: replace(
                f, ballots={**f.ballots, 9: {"rewrite": 100, "status": "cast", "decision": "valid"}}
            ),
            "every decided rewrite has exactly panel-size votes",
            "100 (5 cast of 4, 0 pending)",
        ),
        (
            lambda a, f: replace(f, checks={100: "done"}),
            "every submitted rewrite was checked once (RewriteCheck done)",
            "101 (no row)",
        ),
        (
            lambda a, f: replace(f, checks={100: "done", 101: "pending"}),
            "every submitted rewrite was checked once (RewriteCheck done)",
            "101 (pending)",
        ),
        (
            lambda a, f: replace(f, tokens_missing=[101]),
            "every submitted rewrite has its token count",
            "101",
        ),
        (
            lambda a, f: replace(f, duplicate_events=[("ballot", 5, "ballot.cast", 2)]),
            "no transition recorded twice",
            "ballot:5 ballot.cast x2",
        ),
        (
            lambda a, f: replace(
                f, releases={7: {"status": "done", "done_events": 2, "file_problems": []}}
            ),
            "each release finished once, files match its manifest",
            "2 release.done events",
        ),
        (
            lambda a, f: replace(
                f,
                releases={
                    7: {
                        "status": "done",
                        "done_events": 1,
                        "file_problems": ["v1/benchmark.jsonl sha256 differs from the manifest"],
                    }
                },
            ),
            "each release finished once, files match its manifest",
            "benchmark.jsonl sha256 differs",
        ),
    ],
)
def test_each_broken_invariant_fails_by_name(breaks, invariant, detail):
    acks, facts = good()
    broken = failed(acks, breaks(acks, facts))
    assert list(broken) == [invariant]
    assert detail in broken[invariant]
