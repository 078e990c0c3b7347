"""A campaign at scale, written in bulk, for the dashboard's query-count test and
``bench/dashboard.py``: every seed rewritten once and reviewed by a full panel of four (8,000
ballots at 2,000 seeds), outcomes and days spread out. Bulk inserts skip the services on purpose:
going through them would take minutes, and what is measured here is reading."""

import json
from datetime import timedelta
from typing import Any

from django.utils import timezone

from annotation.models import (
    Assignment,
    Campaign,
    ProgrammingLanguage,
    Rewrite,
    RewriteLanguage,
    Seed,
)
from annotation.services import seeds_import, seeds_sample
from review.models import Ballot

PLAN = ["accepted", "accepted", "rejected", "no_consensus", "submitted"]
VOTES = {
    "accepted": ["valid", "valid", "valid", "invalid"],
    "rejected": ["invalid", "invalid", "invalid", "valid"],
    "no_consensus": ["valid", "valid", "invalid", "invalid"],
}
SUBCATEGORIES = [
    "Algorithm Design and Implementation",
    "Data Structures",
    "Code Debugging",
    "Frontend Technologies",
    "Database Management",
]


def populate_reviewed(
    campaign: Campaign, *, annotators: list[Any], reviewers: list[Any], seeds: int
) -> None:
    """Import and sample ``seeds`` seeds (through the services), then write one submitted
    rewrite per seed and four ballots per rewrite in bulk: of every five, two accepted, one
    rejected, one without consensus (2-2) and one still waiting for its (pending) votes."""
    seeds_import(
        campaign=campaign,
        lines=[
            json.dumps(
                {
                    "id": f"scale-{i}",
                    "text": f"Scale question {i}: how do I do thing {i}?",
                    "subcategory": SUBCATEGORIES[i % len(SUBCATEGORIES)],
                }
            )
            for i in range(seeds)
        ],
    )
    seeds_sample(campaign=campaign, size=seeds)
    python = ProgrammingLanguage.objects.get(campaign=campaign, name="python")
    rows = list(Seed.objects.filter(campaign=campaign).order_by("id"))
    Seed.objects.filter(campaign=campaign).update(status="done")
    assignments = Assignment.objects.bulk_create(
        Assignment(
            campaign=campaign, seed=s, annotator=annotators[i % len(annotators)], status="submitted"
        )
        for i, s in enumerate(rows)
    )
    now = timezone.now()
    rewrites = Rewrite.objects.bulk_create(
        Rewrite(
            campaign=campaign,
            seed=s,
            assignment=a,
            author_id=a.annotator_id,
            text=f"Rewrite {i}",
            difficulty=("easy", "medium", "hard")[i % 3],
            natural_language="en",
            subcategory_id=s.subcategory_id,
            check_clear=True,
            check_ethical=True,
            check_solvable=True,
            question_tokens=20 + i % 50,
            status=PLAN[i % 5],
            submitted_at=now - timedelta(days=i % 40, hours=1),
            decided_at=None if PLAN[i % 5] == "submitted" else now - timedelta(days=i % 40),
        )
        for i, (s, a) in enumerate(zip(rows, assignments, strict=True))
    )
    RewriteLanguage.objects.bulk_create(
        RewriteLanguage(rewrite=r, language=python, position=0) for r in rewrites
    )
    Ballot.objects.bulk_create(
        (
            Ballot(
                campaign=campaign,
                rewrite=r,
                reviewer=reviewers[(i + k) % len(reviewers)],
                status="pending" if r.status == "submitted" else "cast",
                decision="" if r.status == "submitted" else VOTES[r.status][k],
                reasons=[]
                if r.status == "submitted" or VOTES[r.status][k] == "valid"
                else ["unclear"],
                cast_at=None if r.status == "submitted" else now,
            )
            for i, r in enumerate(rewrites)
            for k in range(4)
        ),
        batch_size=2000,
    )
