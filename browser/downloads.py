"""Exports of the data browser's filtered rows as CSV or JSON lines, streamed: the rows are read
by keyset in chunks and written as they come, so memory stays flat however many rows match.

CSV cells are formula-escaped: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading ``'``, so a spreadsheet shows it as text instead of running it
(CSV injection). Lists are joined with ``|``. JSON lines carry the values as they are."""

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone

from annotation.models import Campaign

from .filters import ListQuery, export_pages
from .serializers import export_columns, export_record

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """One CSV cell: empty for None, true/false, numbers as they are, lists joined with ``|``,
    and text formula-escaped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        value = "|".join(csv_cell(v).removeprefix("'") for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(query: ListQuery) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    header = export_columns(query.kind)
    writer.writerow(header)
    for row in export_pages(query):
        record = export_record(query.kind, row)
        writer.writerow([csv_cell(record.get(name)) for name in header])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()  # the header, when no row matched


def jsonl_lines(query: ListQuery) -> Iterator[str]:
    for row in export_pages(query):
        yield json.dumps(export_record(query.kind, row), ensure_ascii=False) + "\n"


def streamed(query: ListQuery, *, campaign: Campaign, fmt: str) -> StreamingHttpResponse:
    """The rows of ``query`` as a streamed download (``fmt``: csv or jsonl)."""
    lines = csv_lines(query) if fmt == "csv" else jsonl_lines(query)
    response = StreamingHttpResponse(lines, content_type=MEDIA_TYPES[fmt])
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    name = f"{campaign.slug}-{query.kind}-{stamp}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
