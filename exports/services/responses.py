"""Baseline responses: a model's answers to the campaign's questions, imported from a file and
exported as ``<model>_response``."""

import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from annotation.models import Campaign, Rewrite, Role, Seed
from annotation.services.seed_formats import loads, max_line_bytes, record_problems
from annotation.tokens import count_tokens
from core import access
from core.errors import ValidationFailed
from core.transitions import EventKind, event_record
from review.stats import token_summary

from ..models import BaselineResponse
from .formats import seed_sample_id

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
TEXT_FIELDS = ("response", "answer", "output", "completion", "text")
MAX_REPORTED = 50
_SKIP_CHUNK = 1024 * 1024


@dataclass
class ResponseImportReport:
    lines: int = 0
    imported: int = 0
    replaced: int = 0
    # the first CURATION_IMPORT_MAX_REPORTED_ERRORS bad lines; ``bad_lines`` counts them all
    errors: list[str] = field(default_factory=list)
    bad_lines: int = 0
    dry_run: bool = False

    def bad(self, message: str) -> None:
        self.bad_lines += 1
        if len(self.errors) < int(getattr(settings, "CURATION_IMPORT_MAX_REPORTED_ERRORS", 1000)):
            self.errors.append(message)


class ResponseImportError(ValidationFailed):
    def __init__(self, report: ResponseImportReport) -> None:
        shown = report.errors[:MAX_REPORTED]
        more = max(report.bad_lines, len(report.errors)) - len(shown)
        super().__init__(
            f"{max(report.bad_lines, len(report.errors))} bad line(s), nothing imported:\n"
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
            record = loads(raw)
        except json.JSONDecodeError as exc:
            report.bad(f"{where}: not valid JSON ({exc.msg})")
            continue
        except RecursionError:
            report.bad(f"{where}: nested deeper than 64 levels")
            continue
        if not isinstance(record, dict):
            report.bad(f"{where}: expected a JSON object")
            continue
        problems = record_problems(record)
        if problems:
            report.bad(f"{where}: " + "; ".join(problems))
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
                report.bad(f"{where}: no seed_id, id, uid or question_id")
                continue
            key = sample_key
            seed_pk = by_sample.get(key, by_external.get(key))
        if seed_pk is None:
            report.bad(f"{where}: {key!r} is neither a seed id nor a sample id of {campaign.slug}")
            continue
        text = _response_text(record)
        if text is None or not text.strip():
            report.bad(
                f"{where}: no response text (looked for {', '.join(TEXT_FIELDS)}, or an "
                "assistant message)"
            )
            continue
        if "\x00" in text:
            report.bad(f"{where}: the response contains a NUL character")
            continue
        if seed_pk in found:
            report.bad(
                f"{where}: a second response for {key!r} (first at line {found[seed_pk][1]})"
            )
            continue
        found[seed_pk] = (text, number)
    if report.bad_lines:
        raise ResponseImportError(report)
    if dry_run:
        report.imported = len(found)
        report.replaced = BaselineResponse.objects.filter(
            campaign=campaign, model=model, seed_id__in=list(found)
        ).count()
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


def _upload_lines(stream: IO[bytes], file_name: str) -> list[str]:
    """The lines of an uploaded answers file (gzip-compressed when its name ends in .gz),
    decoded as UTF-8, each read with a bounded ``readline``: a line longer than
    ``CURATION_IMPORT_MAX_LINE_BYTES`` is a bad line (its rest read and dropped a chunk at a
    time, never held whole), and the whole file at most ``UPLOAD_MAX_BYTES`` once decompressed.
    Raises ResponseImportError naming every bad line (the first
    ``CURATION_IMPORT_MAX_REPORTED_ERRORS``, all counted), or the file when it cannot be
    decompressed or is too large."""
    report = ResponseImportReport()
    raw: IO[bytes] = stream
    if file_name.endswith(".gz"):
        raw = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
    limit = max_line_bytes()
    lines: list[str] = []
    read = 0
    number = 0
    try:
        while True:
            line = raw.readline(limit + 2)  # the cap, plus room for a line break
            if not line:
                break
            number += 1
            read += len(line)
            too_long = len(line) > limit and len(line.rstrip(b"\r\n")) > limit
            while too_long and not line.endswith(b"\n") and read <= settings.UPLOAD_MAX_BYTES:
                line = raw.readline(_SKIP_CHUNK)
                if not line:
                    break
                read += len(line)
            if read > settings.UPLOAD_MAX_BYTES:
                cap = settings.UPLOAD_MAX_BYTES
                size = f"{cap // 2**20} MB" if cap >= 2**20 else f"{cap:,} bytes"
                report.bad(
                    f"{file_name}: larger than {size} (decompressed; CURATION_UPLOAD_MAX_MB)"
                )
                break
            if too_long:
                report.bad(
                    f"line {number}: longer than {limit:,} bytes (CURATION_IMPORT_MAX_LINE_BYTES)"
                )
                lines.append("")
                continue
            try:
                lines.append(line.decode("utf-8"))
            except UnicodeDecodeError as exc:
                report.bad(
                    f"line {number}: not UTF-8 ({exc.reason} at byte {exc.start + 1} of the line)"
                )
                lines.append("")
    except (OSError, EOFError, zlib.error) as exc:
        report.bad(f"{file_name}: cannot read ({exc})")
    report.lines = len(lines)
    if report.errors:
        raise ResponseImportError(report)
    return lines


def responses_upload(
    *,
    campaign: Campaign,
    actor: Any,
    model: str,
    stream: IO[bytes],
    file_name: str = "",
    dry_run: bool = False,
) -> ResponseImportReport:
    """Import an answers file uploaded from ``campaign``'s workspace by one of its curators (or
    an operator), with the rules of ``responses_import`` (which writes the
    ``responses.imported`` event). With ``dry_run`` nothing is written: the report says how
    many would be imported and replaced.

    Raises NotFound / NotAllowed (not a curator), ResponseImportError (every bad line named,
    nothing imported) and ValidationFailed (bad model name)."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    lines = _upload_lines(stream, file_name)
    return responses_import(
        campaign=campaign, lines=lines, model=model, actor=actor, dry_run=dry_run
    )


MISSING_SHOWN = 20


@dataclass
class MissingAnswer:
    seed_id: str
    rewrite_id: int


@dataclass
class ModelCoverage:
    model: str
    answered: int
    accepted: int
    responses: int
    outside_accepted: int
    imported_at: datetime | None
    tokens: dict[str, float | int | None]
    missing: list[MissingAnswer]
    missing_count: int

    @property
    def coverage(self) -> float | None:
        return round(self.answered / self.accepted, 4) if self.accepted else None


@dataclass
class ResponseCoverage:
    accepted: int
    models: list[ModelCoverage]


def responses_coverage(*, campaign: Campaign) -> ResponseCoverage:
    """Per model imported for ``campaign``: how many of its accepted rewrites have an answer
    (answered / accepted), the first ``MISSING_SHOWN`` accepted ones without one (by seed id),
    how many answers are for seeds without an accepted rewrite, when answers were last
    imported and their token lengths. Three queries, whatever the number of rows. (A read;
    it lives here because the exports app's selectors module is not this part's.)"""
    accepted = list(
        Rewrite.objects.filter(campaign=campaign, status=Rewrite.Status.ACCEPTED)
        .order_by("seed__external_id", "pk")
        .values_list("seed_id", "seed__external_id", "pk")
    )
    accepted_seeds = {seed_id for seed_id, _ext, _pk in accepted}
    answers: dict[str, dict[int, int | None]] = {}
    for model, seed_id, tokens in (
        BaselineResponse.objects.filter(campaign=campaign)
        .order_by("model", "seed_id")
        .values_list("model", "seed_id", "tokens")
    ):
        answers.setdefault(model, {})[seed_id] = tokens
    imported = dict(
        BaselineResponse.objects.filter(campaign=campaign)
        .order_by()
        .values("model")
        .annotate(last=Max("imported_at"))
        .values_list("model", "last")
    )
    models = []
    for model, by_seed in answers.items():
        missing = [
            MissingAnswer(seed_id=ext, rewrite_id=pk)
            for seed_id, ext, pk in accepted
            if seed_id not in by_seed
        ]
        answered = len(accepted_seeds & by_seed.keys())
        models.append(
            ModelCoverage(
                model=model,
                answered=answered,
                accepted=len(accepted_seeds),
                responses=len(by_seed),
                outside_accepted=len(by_seed) - answered,
                imported_at=imported.get(model),
                tokens=token_summary(by_seed.values()),
                missing=missing[:MISSING_SHOWN],
                missing_count=len(missing),
            )
        )
    return ResponseCoverage(accepted=len(accepted_seeds), models=models)
