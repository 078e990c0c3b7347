"""Performance benchmark of the quality checks: decontaminating 2,000 submitted rewrites against
every public benchmark in ../shared/data/references/ takes seconds, not minutes.

Runs against BENCH_DATABASE_URL (default: a throw-away SQLite file in the system temp folder; use
a PostgreSQL URL to measure production) and writes bench/results/quality-<vendor>.json.
Steps, each timed with its query count: load every reference set; create 2,000 submitted rewrites
through the services (each submit runs the per-rewrite quality task in-process, as Celery is
eager without a broker); build the n-gram index cold; decontaminate all rewrites with the index
warm and cold; the campaign-wide similarity check; accept ~400 rewrites and build a release;
reload the largest reference set (which re-checks every rewrite against it).
Not part of the test run: `make bench`.
"""

import gzip
import json
import tempfile
import time
from pathlib import Path

import harness

ROOT = harness.ROOT
REFERENCES = ROOT.parent / "shared" / "data" / "references"
harness.configure(Path(tempfile.gettempdir()) / "codearena-bench-quality.sqlite3")


from harness import fresh_database, seed_pool_lines, timed, write_results  # noqa: E402

from annotation.models import Assignment, Rewrite  # noqa: E402
from annotation.services import (  # noqa: E402
    DraftInput,
    assignment_claim_next,
    campaign_create,
    draft_save,
    seeds_import,
    seeds_sample,
    user_ensure,
)
from exports.services import ReleaseParameters, release_build  # noqa: E402
from quality.models import ContaminationHit, ReferenceSet, SimilarityFlag  # noqa: E402
from quality.services import (  # noqa: E402
    decontamination,
    reference_set_load,
)
from quality.services import similarity as similarity_checks  # noqa: E402
from review.models import Ballot  # noqa: E402
from review.services import (  # noqa: E402
    ballot_cast,
    membership_add,
    rewrite_submit,
)

REWRITES = 2000
CONTAMINATE_EVERY = 50  # every 50th rewrite pastes a real HumanEval / MBPP prompt
ACCEPT = 400
RELEASE_SIZE = 397
NGRAM = 10
DIFFICULTIES = ("easy", "medium", "hard")


def reference_files() -> dict[str, list[Path]]:
    """One reference set per benchmark folder, with all its jsonl / jsonl.gz files."""
    sets = {}
    for folder in sorted(p for p in REFERENCES.iterdir() if p.is_dir()):
        paths = sorted([*folder.glob("*.jsonl"), *folder.glob("*.jsonl.gz")])
        if paths:
            sets[folder.name] = paths
    return sets


def benchmark_prompts() -> list[str]:
    """Real HumanEval prompts and MBPP problem texts, interleaved, to paste into rewrites."""
    with gzip.open(REFERENCES / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as fh:
        humaneval = [json.loads(line)["prompt"] for line in fh if line.strip()]
    with (REFERENCES / "mbpp" / "mbpp.jsonl").open(encoding="utf-8") as fh:
        mbpp = [json.loads(line)["text"] for line in fh if line.strip()]
    return [p for pair in zip(humaneval, mbpp, strict=False) for p in pair]


def rewrite_text(i: int, seed_body: str, prompts: list[str]) -> str:
    text = (
        f"Rewritten question {i}. A developer asks the following; answer with working code "
        f"and a short explanation.\n\n{seed_body.strip()}\n\n"
    )
    if i % CONTAMINATE_EVERY == 0:
        pasted = prompts[(i // CONTAMINATE_EVERY) % len(prompts)]
        text += f"For reference, the task is essentially this one:\n\n{pasted}\n\n"
    return text + "Please keep the answer self-contained and state any assumptions you make."


def main() -> None:
    started = time.perf_counter()
    results: dict = {}
    figures: dict = {}

    def setup():
        fresh_database()
        campaign = campaign_create(slug="bench-quality", name="Bench quality")
        curator = user_ensure(username="curator")
        membership_add(campaign=campaign, user=curator, role="curator")
        annotators = []
        for i in range(4):
            user = user_ensure(username=f"ann{i}")
            membership_add(campaign=campaign, user=user, role="annotator")
            annotators.append(user)
        for i in range(5):
            membership_add(campaign=campaign, user=user_ensure(username=f"rev{i}"), role="reviewer")
        return campaign, curator, annotators

    campaign, curator, annotators = timed(results, "setup_db_campaign", setup)

    # References: one set per benchmark folder.
    documents = 0
    loaded = {}
    load_started = time.perf_counter()
    for name, paths in reference_files().items():
        outcome = timed(
            results,
            f"load_ref_{name}",
            lambda name=name, paths=paths: reference_set_load(name=name, paths=paths),
            count=len(paths),
        )
        count = outcome.reference_set.documents_count
        results[f"load_ref_{name}"]["documents"] = count
        loaded[name] = {"files": len(paths), "documents": count}
        documents += count
    figures["references"] = {
        "sets": loaded,
        "documents": documents,
        "seconds": round(time.perf_counter() - load_started, 4),
    }
    print(f"{'  references loaded':<28} {documents:>9} documents in {len(loaded)} sets")

    # 2,000 submitted rewrites through the services.
    # Two copies of the ~1,400 real prompts: enough to sample 2,000 across the subcategories.
    lines = seed_pool_lines(repeat=2)
    timed(
        results,
        "import_seeds",
        lambda: seeds_import(campaign=campaign, lines=lines),
        count=len(lines),
    )
    timed(
        results,
        f"sample_seeds_{REWRITES}",
        lambda: seeds_sample(campaign=campaign, size=REWRITES),
        count=REWRITES,
    )
    prompts = benchmark_prompts()
    chunks: list[float] = []

    def create_rewrites():
        i = 0
        chunk_started = time.perf_counter()
        while True:
            assignment = assignment_claim_next(campaign=campaign, actor=annotators[i % 4])
            if assignment is None:
                break
            seed = assignment.seed
            draft_save(
                assignment_id=assignment.pk,
                actor=assignment.annotator,
                version=0,
                data=DraftInput(
                    text=rewrite_text(i, seed.body, prompts),
                    difficulty=DIFFICULTIES[i % 3],
                    programming_languages=["python"],
                    natural_language="en",
                    subcategory=seed.subcategory.name,
                    checklist={"clear": True, "ethical": True, "solvable": True},
                ),
            )
            # Enqueues the token count and the per-rewrite quality check on commit; without a
            # broker Celery is eager, so both run here, inside the timing.
            rewrite_submit(assignment_id=assignment.pk, actor=assignment.annotator)
            i += 1
            if i % 500 == 0:
                now = time.perf_counter()
                chunks.append(round(now - chunk_started, 3))
                print(f"{'  rewrites submitted':<28} {i:>9} (last 500: {chunks[-1]:.1f}s)")
                chunk_started = now
        return i

    created = timed(results, f"create_rewrites_{REWRITES}", create_rewrites, count=REWRITES)
    results[f"create_rewrites_{REWRITES}"].update(
        {
            "created": created,
            "seconds_per_500": chunks,
            "hits_after_per_submit_checks": ContaminationHit.objects.filter(
                campaign=campaign
            ).count(),
            "flags_after_per_submit_checks": SimilarityFlag.objects.filter(
                campaign=campaign
            ).count(),
        }
    )
    assert created == REWRITES, f"only {created} seeds could be claimed"

    # The index, cold.
    decontamination._INDEXES.clear()
    sets = list(ReferenceSet.objects.all())
    index = timed(
        results,
        "reference_index_cold",
        lambda: decontamination.reference_index(reference_sets=sets, n=NGRAM),
        count=documents,
    )
    results["reference_index_cold"].update(
        {
            "documents": documents,
            "ngrams_indexed": len(index),
            "index_mb": round((index.hashes.nbytes + index.documents.nbytes) / 2**20, 1),
        }
    )

    def decontaminate():
        return decontamination.rewrites_decontaminate(campaign=campaign, n=NGRAM, actor=curator)

    for name in (f"decontaminate_{REWRITES}_warm", f"decontaminate_{REWRITES}_cold"):
        if name.endswith("cold"):
            decontamination._INDEXES.clear()
        outcome = timed(results, name, decontaminate, count=REWRITES)
        results[name].update(
            {
                "checked": outcome.checked,
                "contaminated": outcome.contaminated,
                "hits": outcome.hits,
                "reference_sets": len(outcome.reference_sets),
            }
        )
        print(
            f"{'  checked/contaminated/hits':<28} {outcome.checked:>9} "
            f"{outcome.contaminated:>6} {outcome.hits:>7}"
        )
    contaminated_ids = set(
        ContaminationHit.objects.filter(campaign=campaign).values_list("rewrite_id", flat=True)
    )
    ordered = list(
        Rewrite.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True)
    )
    planted = {pk for i, pk in enumerate(ordered) if i % CONTAMINATE_EVERY == 0}
    figures["contamination"] = {
        "planted": len(planted),
        "planted_found": len(planted & contaminated_ids),
        "found_without_planting": len(contaminated_ids - planted),
        "hits_by_set": {
            s.name: ContaminationHit.objects.filter(
                campaign=campaign, document__reference_set=s
            ).count()
            for s in sets
        },
    }

    similarity = timed(
        results,
        f"similarity_check_{REWRITES}",
        lambda: similarity_checks.campaign_similarity_check(campaign=campaign, actor=curator),
        count=REWRITES,
    )
    results[f"similarity_check_{REWRITES}"].update(similarity.__dict__)

    # Accept the first ~400 rewrites (4 valid votes each) and build a release.
    first = ordered[:ACCEPT]
    ballots = list(
        Ballot.objects.filter(rewrite_id__in=first).select_related("reviewer").order_by("pk")
    )
    timed(
        results,
        "ballot_cast_accept",
        lambda: [ballot_cast(ballot_id=b.pk, actor=b.reviewer, decision="valid") for b in ballots],
        count=len(ballots),
    )
    accepted = Rewrite.objects.filter(campaign=campaign, status=Rewrite.Status.ACCEPTED).count()
    results["ballot_cast_accept"]["accepted"] = accepted
    out = Path(tempfile.mkdtemp()) / "release"
    release = timed(
        results,
        f"release_build_{RELEASE_SIZE}",
        lambda: release_build(
            campaign=campaign,
            out_dir=out,
            parameters=ReleaseParameters(size=RELEASE_SIZE, allow_smaller=True),
            actor=curator,
        ),
        count=RELEASE_SIZE,
    )
    results[f"release_build_{RELEASE_SIZE}"].update(
        {
            "accepted": accepted,
            "released": release.total,
            "eligible": release.stats["parameters"]["eligible"],
            "contaminated_excluded": release.stats["quality"]["contaminated_excluded"],
        }
    )
    assert Assignment.objects.filter(campaign=campaign).count() == REWRITES

    # Reloading the largest set re-checks every submitted rewrite against it (last, since a new
    # loaded_at makes the cached index of all sets stale).
    name = max(loaded, key=lambda k: loaded[k]["documents"])
    reload = timed(
        results,
        "reload_largest_ref_set",
        lambda: reference_set_load(name=name, paths=reference_files()[name]),
        count=REWRITES,
    )
    results["reload_largest_ref_set"].update(
        {
            "set": name,
            "documents": reload.reference_set.documents_count,
            "rechecked": reload.rechecked,
            "contaminated": reload.contaminated,
        }
    )

    record = {
        "total_seconds": round(time.perf_counter() - started, 1),
        "rewrites": REWRITES,
        "ngram": NGRAM,
        **figures,
        "results": results,
    }
    write_results("quality", record)
    warm = results[f"decontaminate_{REWRITES}_warm"]
    cold = results[f"decontaminate_{REWRITES}_cold"]
    print(
        f"decontaminated {warm['checked']} rewrites against {documents} reference documents "
        f"({len(loaded)} sets): {warm['seconds']:.2f}s warm, {cold['seconds']:.2f}s cold"
    )


if __name__ == "__main__":
    main()
