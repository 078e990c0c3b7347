"""Performance benchmarks of the curation workflow, on a fresh database.

Runs against BENCH_DATABASE_URL (default: a throw-away SQLite file bench/bench.sqlite3; use a
PostgreSQL URL to measure production) and writes bench/results/workflow-<vendor>.json.
Not part of the test run: `make bench`.
"""

import tempfile
from pathlib import Path

import harness

ROOT = harness.ROOT
harness.configure(ROOT / "bench" / "bench.sqlite3")

from harness import fresh_database, seed_pool_lines, timed, write_results  # noqa: E402

from annotation.models import Assignment  # noqa: E402
from annotation.services import (  # noqa: E402
    DraftInput,
    assignment_claim_next,
    campaign_create,
    draft_save,
    seeds_assign,
    seeds_import,
    seeds_sample,
    user_ensure,
)
from exports.services import release_build  # noqa: E402
from review.services import (  # noqa: E402
    ballot_cast,
    membership_add,  # noqa: E402
    rewrite_submit,
)
from review.stats import campaign_stats  # noqa: E402


def main() -> None:
    fresh_database()
    lines = seed_pool_lines(repeat=8)
    results: dict = {}
    campaign = campaign_create(slug="bench", name="Bench")
    annotators = []
    for i in range(4):
        user = user_ensure(username=f"ann{i}")
        membership_add(campaign=campaign, user=user, role="annotator")
        annotators.append(user)
    for i in range(5):
        membership_add(campaign=campaign, user=user_ensure(username=f"rev{i}"), role="reviewer")
    timed(
        results,
        "import_seeds",
        lambda: seeds_import(campaign=campaign, lines=lines),
        count=len(lines),
    )
    timed(
        results, "sample_seeds_2000", lambda: seeds_sample(campaign=campaign, size=2000), count=2000
    )
    # Half dealt, half left for claim-next.
    claims = 400
    timed(
        results,
        "claim_next",
        lambda: [
            assignment_claim_next(campaign=campaign, actor=annotators[i % 4]) for i in range(claims)
        ],
        count=claims,
    )
    timed(results, "assign_seeds", lambda: seeds_assign(campaign=campaign), count=2000 - claims)
    assignments = list(Assignment.objects.filter(campaign=campaign).order_by("id")[:400])

    def write_and_submit():
        for i, a in enumerate(assignments):
            draft_save(
                assignment_id=a.pk,
                actor=a.annotator,
                version=0,
                data=DraftInput(
                    text=f"Benchmark question {i}: write a function that ...",
                    difficulty="medium",
                    programming_languages=["python"],
                    natural_language="en",
                    subcategory=a.seed.subcategory.name,
                    checklist={"clear": True, "ethical": True, "solvable": True},
                ),
            )
            rewrite_submit(assignment_id=a.pk, actor=a.annotator)

    timed(results, "draft_save_and_submit", write_and_submit, count=len(assignments))
    from review.models import Ballot

    ballots = list(Ballot.objects.filter(campaign=campaign).select_related("reviewer"))
    timed(
        results,
        "ballot_cast",
        lambda: [
            ballot_cast(
                ballot_id=b.pk,
                actor=b.reviewer,
                decision="valid" if b.pk % 5 else "invalid",
                reasons=[] if b.pk % 5 else ["unclear"],
            )
            for b in ballots
        ],
        count=len(ballots),
    )
    timed(results, "campaign_stats", lambda: campaign_stats(campaign))
    out = Path(tempfile.mkdtemp())
    timed(results, "export_benchmark", lambda: release_build(campaign=campaign, out_dir=out))
    write_results("workflow", {"results": results})


if __name__ == "__main__":
    main()
