"""Fixtures: campaigns, members of each role, and helpers that move work through the workflow
with the same services the API and commands use."""

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Campaign, Role
from annotation.services import (
    DraftInput,
    assignment_claim_next,
    campaign_create,
    draft_save,
    seeds_import,
    seeds_sample,
    user_ensure,
)
from review.services import ballot_cast, membership_add, rewrite_submit

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, why: str) -> None:
    """Skip a test that needs a real service, except in CI, where a missing service fails it."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must provide this: {why}")
    pytest.skip(why)


@pytest.fixture
def postgres() -> None:
    require(connection.vendor == "postgresql", "needs PostgreSQL (set DATABASE_URL)")


def redis_url() -> str:
    return os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_broker() -> str:
    import redis

    url = redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means no usable Redis
        require(False, f"needs Redis at {url}: {exc}")
    return url


GOOD_DRAFT = {
    "text": "Write a Python function `chunks(xs, n)` that splits a list into lists of n items.",
    "difficulty": "easy",
    "programming_languages": ["python"],
    "natural_language": "en",
    "subcategory": "Algorithm Design and Implementation",
    "checklist": {"clear": True, "ethical": True, "solvable": True},
}


# benchmark.jsonl's keys, in DESIGN's order, then CodeArena's meta (then the baseline, when a
# release names one, and one <model>_response per included model).
BENCHMARK_KEYS = [
    "id",
    "messages",
    "category",
    "subcategory",
    "difficulty",
    "programming_language",
    "language",
    "question_tokens",
    "seed_id",
    "votes",
    "meta",
]


def seed_line(
    i: int, subcategory: str = "Algorithm Design and Implementation", **extra: Any
) -> str:
    return json.dumps(
        {
            "id": f"s{i}",
            "text": f"Question number {i}: how do I do thing {i}?",
            "subcategory": subcategory,
            **extra,
        }
    )


class World:
    """A campaign with a curator, four annotators and five reviewers (one spare)."""

    def __init__(self, slug: str = "camp", reviewers: int = 5, **campaign_opts: Any) -> None:
        self.campaign: Campaign = campaign_create(slug=slug, name=slug.title(), **campaign_opts)
        self.curator = self.member(f"{slug}-curator", Role.CURATOR)
        self.annotators = [self.member(f"{slug}-ann{i}", Role.ANNOTATOR) for i in range(1, 5)]
        self.reviewers = [
            self.member(f"{slug}-rev{i}", Role.REVIEWER) for i in range(1, reviewers + 1)
        ]

    def member(self, username: str, role: str) -> Any:
        user = user_ensure(username=username, password="pw-" + username)
        membership_add(campaign=self.campaign, user=user, role=role)
        return user

    def add_seeds(self, n: int, start: int = 0, sample: bool = True, **extra: Any) -> None:
        seeds_import(
            campaign=self.campaign, lines=[seed_line(i, **extra) for i in range(start, start + n)]
        )
        if sample:
            sampled = self.campaign.seeds.exclude(status="pooled").count()
            seeds_sample(campaign=self.campaign, size=sampled + n)

    def claim(self, annotator: Any = None) -> Any:
        return assignment_claim_next(campaign=self.campaign, actor=annotator or self.annotators[0])

    def draft(self, assignment: Any, version: int = 0, **changes: Any) -> Any:
        data = {**GOOD_DRAFT, **changes}
        return draft_save(
            assignment_id=assignment.pk,
            actor=assignment.annotator,
            data=DraftInput(**data),
            version=version,
        )

    def submitted(self, annotator: Any = None, **changes: Any) -> Any:
        assignment = self.claim(annotator)
        self.draft(assignment, **changes)
        return rewrite_submit(assignment_id=assignment.pk, actor=assignment.annotator)


@pytest.fixture
def world(db: Any) -> World:
    return World()


@pytest.fixture
def make_world(db: Any) -> Callable[..., World]:
    return World


def api_for(user: Any) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def jobs(callbacks: list[Callable[[], Any]]) -> list[Any]:
    """The on-commit callbacks that send a background job (``core.jobs.enqueue``), without the
    ones that log the transaction's events (``core.transitions``)."""
    from functools import partial

    from core.jobs import enqueue

    return [c for c in callbacks if isinstance(c, partial) and c.func is enqueue]


def cast_panel(rewrite: Any, decisions: list[str], comments: list[str] | None = None) -> None:
    """Cast a whole panel's votes in ballot order through the service ('invalid' gets the reason
    'unclear')."""
    comments = comments or [""] * len(decisions)
    ballots = rewrite.ballots.select_related("reviewer").order_by("id")
    for ballot, decision, comment in zip(ballots, decisions, comments, strict=True):
        ballot_cast(
            ballot_id=ballot.pk,
            actor=ballot.reviewer,
            decision=decision,
            reasons=[] if decision == "valid" else ["unclear"],
            comment=comment,
        )


# Browser fixtures (Playwright + Chromium); imported last, since they use ``require`` above.
from .browser import chromium, new_page  # noqa: E402, F401
