"""Baseline responses: a model's answers to the campaign's questions, imported from a file and
exported as ``<model>_response``."""

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from annotation.models import Campaign, Seed
from annotation.tokens import count_tokens
from core.errors import ValidationFailed
from core.transitions import EventKind, event_record

from ..models import BaselineResponse
from .formats import seed_sample_id

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
TEXT_FIELDS = ("response", "answer", "output", "completion", "text")
MAX_REPORTED = 50


@dataclass
class ResponseImportReport:
    lines: int = 0
    imported: int = 0
    replaced: int = 0
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False


class ResponseImportError(ValidationFailed):
    def __init__(self, report: ResponseImportReport) -> None:
        shown = report.errors[:MAX_REPORTED]
        more = len(report.errors) - len(shown)
        super().__init__(
            f"{len(report.errors)} bad line(s), nothing imported:\n"
            + "\n".join(shown)
            + (f"\n... and {more} more" if more else ""),
            details={"lines": report.errors},
        )
        self.report = report


def _response_text(record: dict[str, Any]) -> str | None:
    """The answer text of a record: a plain text field, or the last assistant turn of
    arena-hard-auto's model-answer format (``messages`` with ``content`` a string or
    ``{"answer": ...}``; older files use ``choices[0].turns``)."""
    for name in TEXT_FIELDS:
        text = record.get(name)
        if isinstance(text, str):
            return text
    messages = record.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "assistant":
                content = message.get("content")
                if isinstance(content, dict):
                    content = content.get("answer")
                return content if isinstance(content, str) else None
    choices = record.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        turns = choices[0].get("turns")
        if isinstance(turns, list) and turns and isinstance(turns[-1], dict):
            content = turns[-1].get("content")
            return content if isinstance(content, str) else None
    return None


def responses_import(
    *,
    campaign: Campaign,
    lines: Iterable[str],
    model: str,
    actor: Any = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ResponseImportReport:
    """Import ``model``'s responses, one JSON record per line, keyed by ``seed_id`` (the seed's
    id in the seed file) or by ``id`` / ``uid`` / ``question_id`` (a release sample id, as in
    ``questions.jsonl``, or a seed id). Responses already imported for the same seed and model
    are replaced. Token lengths are counted with the campaign's tokenizer.

    Raises ResponseImportError naming every bad line (nothing is imported) and
    ValidationFailed for a bad model name."""

    if not MODEL_NAME.match(model):
        raise ValidationFailed(
            f"Model name {model!r} becomes the field '{model}_response': use letters, digits, "
            "'.', '_' or '-'.",
            details={"errors": {"model": ["invalid name"]}},
        )
    by_external = dict(Seed.objects.filter(campaign=campaign).values_list("external_id", "pk"))
    by_sample = {seed_sample_id(campaign.slug, ext): pk for ext, pk in by_external.items()}
    report = ResponseImportReport(dry_run=dry_run)
    found: dict[int, tuple[str, int]] = {}
    for number, raw in enumerate(lines, start=1):
        report.lines = number
        if progress:
            progress(1)
        if not raw.strip():
            continue
        where = f"line {number}"
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            report.errors.append(f"{where}: not valid JSON ({exc.msg})")
            continue
        if not isinstance(record, dict):
            report.errors.append(f"{where}: expected a JSON object")
            continue
        seed_pk = None
        if record.get("seed_id") is not None:
            key = str(record["seed_id"])
            seed_pk = by_external.get(key)
        else:
            sample_key = next(
                (str(record[k]) for k in ("id", "uid", "question_id") if record.get(k) is not None),
                None,
            )
            if sample_key is None:
                report.errors.append(f"{where}: no seed_id, id, uid or question_id")
                continue
            key = sample_key
            seed_pk = by_sample.get(key, by_external.get(key))
        if seed_pk is None:
            report.errors.append(
                f"{where}: {key!r} is neither a seed id nor a sample id of {campaign.slug}"
            )
            continue
        text = _response_text(record)
        if text is None or not text.strip():
            report.errors.append(
                f"{where}: no response text (looked for {', '.join(TEXT_FIELDS)}, or an "
                "assistant message)"
            )
            continue
        if "\x00" in text:
            report.errors.append(f"{where}: the response contains a NUL character")
            continue
        if seed_pk in found:
            report.errors.append(
                f"{where}: a second response for {key!r} (first at line {found[seed_pk][1]})"
            )
            continue
        found[seed_pk] = (text, number)
    if report.errors:
        raise ResponseImportError(report)
    if dry_run:
        report.imported = len(found)
        return report
    rows = [
        BaselineResponse(
            campaign=campaign,
            seed_id=seed_pk,
            model=model,
            text=text,
            tokens=count_tokens(text, campaign.tokenizer),
            tokenizer=campaign.tokenizer,
        )
        for seed_pk, (text, _line) in sorted(found.items())
    ]
    with transaction.atomic():
        existing = BaselineResponse.objects.filter(
            campaign=campaign, model=model, seed_id__in=found
        )
        report.replaced, _ = existing.delete()
        BaselineResponse.objects.bulk_create(rows, batch_size=1000)
        report.imported = len(rows)
        event_record(
            campaign=campaign,
            actor=actor,
            kind=EventKind.RESPONSES_IMPORTED,
            obj=campaign,
            data={"model": model, "imported": report.imported, "replaced": report.replaced},
        )
    return report
