"""The files of a release in the formats the evaluation tools read: ``benchmark.jsonl`` (one
sample per line, DESIGN.md's key order), ``questions.jsonl`` (arena-hard-auto's question format),
JSON documents (stats, manifest) and their sha256 / size. Pure: records in, bytes out."""

import hashlib
import json
from typing import Any

from annotation.models import Campaign, Rewrite

# arena-hard-auto picks its judge settings (baseline, system prompt) by a question's category,
# one of hard_prompt / coding / math / creative_writing; every question here is a coding one.
ARENA_HARD_CATEGORY = "coding"


def sample_id(campaign: Campaign, rewrite: Rewrite) -> str:
    """A stable hex id for a benchmark sample: the same seed keeps its id across releases."""
    return seed_sample_id(campaign.slug, rewrite.seed.external_id)


def seed_sample_id(campaign_slug: str, external_id: str) -> str:
    return hashlib.sha256(f"{campaign_slug}\x00{external_id}".encode()).hexdigest()[:32]


def dumps_line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def dumps_document(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def file_meta(data: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def benchmark_record(
    campaign: Campaign,
    rewrite: Rewrite,
    *,
    votes: dict[str, int],
    responses: dict[str, str | None],
) -> dict[str, Any]:
    """One ``benchmark.jsonl`` sample: the keys in DESIGN.md's order, then ``<model>_response``
    per imported model (``None`` where the model has no answer for it)."""
    # Only a draft may lack a subcategory (a check constraint); released rewrites are accepted.
    assert rewrite.subcategory is not None
    record: dict[str, Any] = {
        "id": sample_id(campaign, rewrite),
        "messages": [{"role": "user", "content": rewrite.text}],
        "category": rewrite.subcategory.category.name,
        "subcategory": rewrite.subcategory.name,
        "difficulty": rewrite.difficulty,
        "programming_language": [link.language.name for link in rewrite.language_links.all()],
        "language": rewrite.natural_language,
        "question_tokens": rewrite.question_tokens,
        "seed_id": rewrite.seed.external_id,
        "votes": votes,
    }
    for model, text in responses.items():
        record[f"{model}_response"] = text
    return record


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(dumps_line(rec) + "\n" for rec in records).encode("utf-8")


def arena_hard_questions(records: list[dict[str, Any]]) -> bytes:
    """``questions.jsonl``: each benchmark sample as an arena-hard-auto question."""
    return jsonl(
        [
            {
                "uid": rec["id"],
                "category": ARENA_HARD_CATEGORY,
                "subcategory": rec["subcategory"],
                "prompt": rec["messages"][0]["content"],
            }
            for rec in records
        ]
    )
