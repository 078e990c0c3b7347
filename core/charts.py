"""Deterministic, accessible SVG charts rendered server-side without dependencies.

Used for a benchmark release's ``figures/`` folder and the curator dashboard. Every chart is a
standalone SVG document (``role="img"`` with ``<title>`` and ``<desc>``), draws with the
colour-blind-safe Okabe-Ito palette, and is byte-identical for the same input, so figures can be
committed and diffed. ``chart_table_csv`` gives the numbers behind any chart.

Text widths are estimated (about 7px per character at 12px) rather than measured: there is no font
engine on the server. Labels from user data are XML-escaped everywhere they appear.
"""

import csv
import hashlib
import io
import json
import math
import numbers
import re
import textwrap
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

__all__ = [
    "OTHER_LABEL",
    "PALETTE",
    "bar_chart",
    "chart_table",
    "chart_table_csv",
    "fold_other",
    "stacked_bar_chart",
]

# Okabe & Ito (2008), ordered so the first colours are the most distinct from each other and the
# low-contrast yellow comes last.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermilion
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#000000",  # black
)
OTHER_LABEL = "Other"
MAX_LABEL_CHARS = 48

FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
TEXT_COLOUR = "#222222"
MUTED_COLOUR = "#555555"
GRID_COLOUR = "#E0E0E0"
AXIS_COLOUR = "#666666"

# Layout, in px. Character widths are deliberately generous averages for system-ui so that the
# estimate errs towards more margin, never towards overlap.
CHAR_W = 7.0
TICK_CHAR_W = 6.5
TITLE_CHAR_W = 9.0
PAD = 16.0
MIN_WIDTH = 400.0
TITLE_LINE = 20.0
ROW_H = 22.0
BAR_H = 14.0
LABEL_GAP = 8.0
VALUE_GAP = 6.0
PLOT_W = 440.0
PLOT_H = 280.0
LEGEND_ROW = 20.0
LEGEND_SWATCH = 12.0
TARGET_TICKS = 5

Number = int | float

# Characters XML 1.0 forbids even when escaped; one in a label would make the document unparsable.
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class _Segment:
    value: Number
    colour: str
    css_class: str
    series: str | None


@dataclass(frozen=True)
class _Row:
    label: str
    tooltip: str
    segments: tuple[_Segment, ...]
    total: Number


# -- public API ---------------------------------------------------------------------------------


def bar_chart(
    data: Mapping[str, Number],
    *,
    title: str,
    x_label: str = "",
    horizontal: bool = True,
    max_bars: int | None = None,
) -> str:
    """Render one bar per key of ``data``, in the given order, as a standalone SVG document.

    The caller decides the order (e.g. sorted by value). Each bar has its value written at its end
    and a ``<title>`` tooltip with the full label and value; bars are ``<rect class="bar">``.

    ``x_label`` captions the value axis (below it when horizontal, beside it when vertical).
    ``horizontal=True`` lays bars out as rows: the height grows with the number of bars and the
    left margin with the longest label, so ~40 labels of ~45 characters do not overlap. Labels
    longer than 48 characters are cut with an ellipsis in the drawing (the tooltip keeps them
    whole). ``horizontal=False`` draws columns with labels slanted at 45 degrees.

    With ``max_bars``, at most that many bars are drawn: the first ``max_bars - 1`` keys are kept
    and the rest are summed into one bar labelled ``"Other"`` (see ``fold_other``).

    Values must be finite numbers >= 0: a negative or non-finite value raises ``ValueError``, a
    non-number ``TypeError``. Empty ``data`` gives a valid SVG that says "No data".
    """
    values = _validated_flat(data)
    if max_bars is not None and max_bars < 1:
        raise ValueError(f"max_bars must be at least 1, got {max_bars}")
    chart_id = _chart_id("bar", title, x_label, horizontal, max_bars, list(values.items()))
    if not values:
        return _no_data(chart_id, title)

    items, folded = _fold(values, max_bars)
    rows = []
    for label, value in items:
        shown = label
        if folded and label == OTHER_LABEL:
            shown = f"{label} ({_count(folded, 'category', 'categories')})"
        rows.append(
            _Row(
                label=label,
                tooltip=f"{shown}: {_number(value)}",
                segments=(_Segment(value, PALETTE[0], "bar", None),),
                total=value,
            )
        )
    integers = all(isinstance(v, int) for _, v in items)
    kind = "Horizontal" if horizontal else "Vertical"
    desc = f"{kind} bar chart with {_count(len(rows), 'bar')}"
    if x_label:
        desc += f" showing {x_label}"
    if folded:
        desc += f"; {OTHER_LABEL} sums {_count(folded, 'further category', 'further categories')}"
    desc += ". " + "; ".join(row.tooltip for row in rows) + "."
    if horizontal:
        return _render_horizontal(chart_id, title, desc, rows, x_label, None, integers)
    return _render_vertical(chart_id, title, desc, rows, x_label, integers)


def stacked_bar_chart(
    data: Mapping[str, Mapping[str, Number]],
    *,
    series: Sequence[str],
    title: str,
) -> str:
    """Render horizontal stacked bars, one per key of ``data`` in the given order, as SVG.

    ``series`` names the stacked parts in drawing order (left to right) and fixes their colours
    and the legend; a series missing from a category counts as 0, and a series in ``data`` but not
    in ``series`` raises ``ValueError`` (so the total drawn is always the total of the data).
    At most ``len(PALETTE)`` (8) series are allowed, because reused colours would be ambiguous.

    Each bar has its total written at its end; a part's value is written inside it when it fits.
    Parts are ``<rect class="segment">``, each with a ``<title>`` tooltip. Values follow the same
    rules as ``bar_chart``; empty ``data`` gives a valid SVG that says "No data".
    """
    names = _validated_series(series)
    table = _validated_nested(data, names)
    chart_id = _chart_id(
        "stacked", title, names, [(label, list(parts)) for label, parts in table.items()]
    )
    if not table:
        return _no_data(chart_id, title)

    colours = dict(zip(names, PALETTE, strict=False))
    rows = []
    for label, parts in table.items():
        total = sum(parts)
        breakdown = ", ".join(f"{name} {_number(v)}" for name, v in zip(names, parts, strict=True))
        rows.append(
            _Row(
                label=label,
                tooltip=f"{label}: {_number(total)} ({breakdown})",
                segments=tuple(
                    _Segment(v, colours[name], "segment", name)
                    for name, v in zip(names, parts, strict=True)
                ),
                total=total,
            )
        )
    integers = all(isinstance(v, int) for parts in table.values() for v in parts)
    desc = (
        f"Horizontal stacked bar chart with {_count(len(rows), 'bar')}"
        f" split into {', '.join(names)}. " + "; ".join(row.tooltip for row in rows) + "."
    )
    legend = [(name, colours[name]) for name in names]
    return _render_horizontal(chart_id, title, desc, rows, "", legend, integers)


def chart_table(
    data: Mapping[str, Number] | Mapping[str, Mapping[str, Number]],
    *,
    series: Sequence[str] | None = None,
) -> tuple[list[str], list[list[str]]]:
    """The numbers behind a chart as a table: (header, rows of cells).

    Flat data (as for ``bar_chart``) gives the header ``category,value``. Nested data (as for
    ``stacked_bar_chart``) gives ``category,<series...>,total``; the series come from ``series``
    or, when it is None, from the order in which they first appear in ``data``. Then one row per
    key, in the given order. Integers are written as integers and floats in full precision
    (``repr``), so the table is the exact data, not the rounded labels. Values are validated as
    for the charts. Passing ``series`` with flat data, or mixing flat and nested values, raises
    ``TypeError``. The page shows this table and ``chart_table_csv`` writes it."""
    nested = series is not None or any(isinstance(v, Mapping) for v in data.values())
    if not nested:
        flat = _validated_flat(data)
        return ["category", "value"], [[label, _csv_number(v)] for label, v in flat.items()]
    if series is None:
        seen: dict[str, None] = {}
        for label, parts in data.items():
            if not isinstance(parts, Mapping):
                raise TypeError(f"value for {label!r} must be a mapping like the others")
            seen.update(dict.fromkeys(str(name) for name in parts))
        names = list(seen)
    else:
        names = _validated_series(series, limit=None)
    rows = [
        [label, *map(_csv_number, row), _csv_number(sum(row))]
        for label, row in _validated_nested(data, names).items()
    ]
    return ["category", *names, "total"], rows


def chart_table_csv(
    data: Mapping[str, Number] | Mapping[str, Mapping[str, Number]],
    *,
    series: Sequence[str] | None = None,
) -> str:
    """``chart_table`` as CSV text with ``"\\n"`` line endings."""
    header, rows = chart_table(data, series=series)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def fold_other(data: Mapping[str, Number], max_bars: int) -> dict[str, Number]:
    """Return ``data`` as ``bar_chart(data, max_bars=max_bars)`` draws it.

    When ``data`` has more than ``max_bars`` keys, the first ``max_bars - 1`` keys are kept in
    order and all the others are summed into a last ``"Other"`` key; an existing ``"Other"`` key is
    always among those summed, so there is only one. Otherwise ``data`` is returned unchanged.
    Useful for a CSV of exactly what a folded chart shows.
    """
    if max_bars < 1:
        raise ValueError(f"max_bars must be at least 1, got {max_bars}")
    items, _ = _fold(_validated_flat(data), max_bars)
    return dict(items)


# -- validation and formatting ------------------------------------------------------------------


def _check_value(label: str, value: object) -> Number:
    # bool is an int subclass; True plotted as 1 is almost certainly a caller bug.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"value for {label!r} must be a number, got {type(value).__name__}")
    number: Number = int(value) if isinstance(value, numbers.Integral) else float(value)
    # NaN compares false with everything, so it must be caught before the sign check.
    if not math.isfinite(number):
        raise ValueError(f"value for {label!r} must be finite, got {number!r}")
    if number < 0:
        raise ValueError(f"value for {label!r} must be >= 0, got {number!r}")
    return number


def _validated_flat(data: Mapping[str, object]) -> dict[str, Number]:
    return {str(label): _check_value(str(label), value) for label, value in data.items()}


def _validated_series(series: Sequence[str], limit: int | None = len(PALETTE)) -> list[str]:
    # A bare string is a Sequence[str] too; iterating it would give one series per character.
    if isinstance(series, str):
        raise TypeError("series must be a list of names, not a string")
    names = [str(name) for name in series]
    if not names:
        raise ValueError("series must name at least one series")
    if len(set(names)) != len(names):
        raise ValueError(f"series names must be unique, got {names!r}")
    if limit is not None and len(names) > limit:
        raise ValueError(f"at most {limit} series can have distinct colours, got {len(names)}")
    return names


def _validated_nested(data: Mapping[str, object], names: list[str]) -> dict[str, list[Number]]:
    known = set(names)
    table: dict[str, list[Number]] = {}
    for raw_label, parts in data.items():
        label = str(raw_label)
        if not isinstance(parts, Mapping):
            raise TypeError(f"value for {label!r} must be a mapping of series to numbers")
        unknown = sorted(str(name) for name in parts if str(name) not in known)
        if unknown:
            raise ValueError(f"{label!r} has series not in series=: {unknown!r}")
        by_name = {str(name): v for name, v in parts.items()}
        table[label] = [_check_value(f"{label} / {name}", by_name.get(name, 0)) for name in names]
    return table


def _fold(values: dict[str, Number], max_bars: int | None) -> tuple[list[tuple[str, Number]], int]:
    """Return the items to draw and how many categories the "Other" item sums (0 if none)."""
    if max_bars is None or len(values) <= max_bars:
        return list(values.items()), 0
    kept = [(k, v) for k, v in values.items() if k != OTHER_LABEL][: max_bars - 1]
    kept_keys = {k for k, _ in kept}
    rest = [v for k, v in values.items() if k not in kept_keys]
    return [*kept, (OTHER_LABEL, sum(rest))], len(rest)


def _number(value: Number, decimals: int = 2) -> str:
    """Format a value for display: grouped thousands, floats to at most ``decimals`` places."""
    if isinstance(value, int):
        return f"{value:,}"
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def _csv_number(value: Number) -> str:
    return str(value) if isinstance(value, int) else repr(value)


def _c(coordinate: float) -> str:
    """Format a coordinate rounded to 0.1px, without a trailing ".0"."""
    text = f"{coordinate:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def _t(text: str) -> str:
    """Escape text for element content."""
    return escape(_clean(text))


def _attr(text: str) -> str:
    """Escape text for a double-quoted attribute, quotes included."""
    return '"' + escape(_clean(text), {'"': "&quot;", "\n": "&#10;", "\t": "&#9;"}) + '"'


def _display_label(label: str) -> str:
    # Newlines and runs of spaces would collapse unpredictably in SVG text; normalise them first.
    text = " ".join(label.split())
    if len(text) > MAX_LABEL_CHARS:
        text = text[: MAX_LABEL_CHARS - 1].rstrip() + "\u2026"
    return text


def _width(text: str, char_w: float = CHAR_W) -> float:
    """Estimate rendered width: ``char_w`` per character, more for capitals and CJK glyphs.

    Never less than ``len(text) * char_w``, so the ~7px rule of thumb is a floor; the extra for
    capitals and full-width characters keeps all-caps or Chinese labels from running off the edge.
    """
    total = 0.0
    for char in text:
        if unicodedata.east_asian_width(char) in ("W", "F"):
            total += char_w * 1.75
        elif char in "MWmw@%\u2014":
            total += char_w * 1.6
        elif char.isupper() or char == "&":
            total += char_w * 1.2
        else:
            total += char_w
    return total


def _chart_id(*payload: object) -> str:
    # Ids must be stable for byte-identical output, yet differ between charts inlined in one page.
    digest = hashlib.sha256(json.dumps(payload, default=str).encode("utf-8", "replace"))
    return "chart-" + digest.hexdigest()[:10]


def _ticks(max_value: Number, integers: bool) -> tuple[Number, list[Number], int]:
    """Return the axis top, the tick values and the decimals their labels need."""
    if max_value <= 0:
        return 1, [0, 1], 0
    raw = max_value / TARGET_TICKS
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step: Number = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    if integers:
        step = max(1, round(step))
    # Float division can land a hair above a whole number of steps and add an empty tick.
    count = max(1, math.ceil(max_value / step - 1e-9))
    ticks = [i * step for i in range(count + 1)]
    decimals = 0 if integers else max(0, -math.floor(math.log10(step) + 1e-9))
    return count * step, ticks, decimals


def _text_colour_on(fill: str) -> str:
    """Black or white, whichever contrasts more with ``fill`` (WCAG relative luminance)."""

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(fill[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#FFFFFF"


# -- rendering ----------------------------------------------------------------------------------


def _document(
    chart_id: str, width: float, height: float, title: str, desc: str, body: list[str]
) -> str:
    w, h = _c(math.ceil(width)), _c(math.ceil(height))
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}"'
        f' role="img" aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc"'
        f' font-family={_attr(FONT_FAMILY)} font-size="12" fill="{TEXT_COLOUR}">',
        f'<title id="{chart_id}-title">{_t(title)}</title>',
        f'<desc id="{chart_id}-desc">{_t(desc)}</desc>',
        '<rect class="background" width="100%" height="100%" fill="#FFFFFF"/>',
        *body,
        "</svg>",
    ]
    return "\n".join(lines) + "\n"


def _title_lines(title: str, width: float) -> tuple[list[str], float]:
    """Return the wrapped visible title and the y where the content below it may start."""
    chars = max(20, int((width - 2 * PAD) / TITLE_CHAR_W))
    wrapped = textwrap.wrap(" ".join(title.split()), chars)
    body = [
        f'<text class="chart-title" x="{_c(PAD)}" y="{_c(PAD + 14 + i * TITLE_LINE)}"'
        f' font-size="16" font-weight="600">{_t(line)}</text>'
        for i, line in enumerate(wrapped)
    ]
    return body, PAD + len(wrapped) * TITLE_LINE + 4


def _no_data(chart_id: str, title: str) -> str:
    width = MIN_WIDTH
    body, top = _title_lines(title, width)
    height = top + 60
    body.append(
        f'<text class="no-data" x="{_c(width / 2)}" y="{_c(top + 30)}" text-anchor="middle"'
        f' fill="{MUTED_COLOUR}">No data</text>'
    )
    return _document(chart_id, width, height, title, "No data.", body)


def _legend(items: list[tuple[str, str]], top: float, width: float) -> tuple[list[str], float]:
    """Lay legend entries out left to right, wrapping to new lines; return them and their height."""
    body = ['<g class="legend">']
    x, y = PAD, top
    for name, colour in items:
        shown = _display_label(name)
        item_w = LEGEND_SWATCH + 6 + _width(shown) + 18
        if x > PAD and x + item_w > width - PAD:
            x, y = PAD, y + LEGEND_ROW
        body.append(
            f'<rect class="swatch" x="{_c(x)}" y="{_c(y + 2)}" width="{_c(LEGEND_SWATCH)}"'
            f' height="{_c(LEGEND_SWATCH)}" fill="{colour}"/>'
        )
        body.append(
            f'<text class="legend-label" x="{_c(x + LEGEND_SWATCH + 6)}" y="{_c(y + 12)}">'
            f"{_t(shown)}</text>"
        )
        x += item_w
    body.append("</g>")
    return body, y + LEGEND_ROW - top + 4


def _render_horizontal(
    chart_id: str,
    title: str,
    desc: str,
    rows: list[_Row],
    value_caption: str,
    legend: list[tuple[str, str]] | None,
    integers: bool,
) -> str:
    labels = [_display_label(row.label) for row in rows]
    totals = [_number(row.total) for row in rows]
    top_value, ticks, decimals = _ticks(max(row.total for row in rows), integers)
    tick_texts = [_number(t, decimals) for t in ticks]

    left = PAD + max(map(_width, labels)) + LABEL_GAP
    # The last tick label is centred on the plot's right edge, so half of it needs room too.
    right_room = max(VALUE_GAP + max(map(_width, totals)), _width(tick_texts[-1], TICK_CHAR_W) / 2)
    width = max(MIN_WIDTH, math.ceil(left + PLOT_W + right_room + PAD))
    scale = PLOT_W / top_value

    body, plot_top = _title_lines(title, width)
    if legend:
        legend_body, legend_h = _legend(legend, plot_top, width)
        body += legend_body
        plot_top += legend_h
    plot_top += 6
    plot_bottom = plot_top + len(rows) * ROW_H
    height = plot_bottom + 22 + (20 if value_caption else 0) + PAD

    body.append(f'<g class="grid" stroke="{GRID_COLOUR}" stroke-width="1">')
    for tick in ticks:
        tick_x = _c(left + tick * scale)
        body.append(
            f'<line x1="{tick_x}" y1="{_c(plot_top)}" x2="{tick_x}" y2="{_c(plot_bottom)}"/>'
        )
    body.append("</g>")
    body.append(f'<g class="ticks" font-size="11" fill="{MUTED_COLOUR}" text-anchor="middle">')
    for tick, text in zip(ticks, tick_texts, strict=True):
        body.append(f'<text x="{_c(left + tick * scale)}" y="{_c(plot_bottom + 16)}">{text}</text>')
    body.append("</g>")
    if value_caption:
        body.append(
            f'<text class="axis-label" x="{_c(left + PLOT_W / 2)}" y="{_c(plot_bottom + 38)}"'
            f' text-anchor="middle">{_t(value_caption)}</text>'
        )

    body.append('<g class="rows">')
    for i, (row, label, total) in enumerate(zip(rows, labels, totals, strict=True)):
        row_top = plot_top + i * ROW_H
        # Approximates vertical centring; dominant-baseline is not honoured by every renderer.
        text_y = _c(row_top + ROW_H / 2 + 4)
        bar_y = _c(row_top + (ROW_H - BAR_H) / 2)
        body.append('<g class="row">')
        body.append(f"<title>{_t(row.tooltip)}</title>")
        body.append(
            f'<text class="label" x="{_c(left - LABEL_GAP)}" y="{text_y}"'
            f' text-anchor="end">{_t(label)}</text>'
        )
        x = left
        for segment in row.segments:
            seg_w = segment.value * scale
            stroke = ' stroke="#FFFFFF" stroke-width="1"' if segment.series is not None else ""
            tip = (
                f"<title>{_t(f'{row.label} / {segment.series}: {_number(segment.value)}')}</title>"
                if segment.series is not None
                else ""
            )
            body.append(
                f'<rect class="{segment.css_class}" x="{_c(x)}" y="{bar_y}" width="{_c(seg_w)}"'
                f' height="{_c(BAR_H)}" fill="{segment.colour}"{stroke}>{tip}</rect>'
            )
            inside = _number(segment.value)
            if segment.series is not None and _width(inside, TICK_CHAR_W) + 6 <= seg_w:
                body.append(
                    f'<text class="segment-value" x="{_c(x + seg_w / 2)}" y="{_c(row_top + 15)}"'
                    f' font-size="11" text-anchor="middle"'
                    f' fill="{_text_colour_on(segment.colour)}">{inside}</text>'
                )
            x += seg_w
        body.append(
            f'<text class="value" x="{_c(left + row.total * scale + VALUE_GAP)}" y="{text_y}">'
            f"{total}</text>"
        )
        body.append("</g>")
    body.append("</g>")
    body.append(
        f'<line class="axis" x1="{_c(left)}" y1="{_c(plot_top)}" x2="{_c(left)}"'
        f' y2="{_c(plot_bottom)}" stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    return _document(chart_id, width, height, title, desc, body)


def _render_vertical(
    chart_id: str, title: str, desc: str, rows: list[_Row], value_caption: str, integers: bool
) -> str:
    labels = [_display_label(row.label) for row in rows]
    totals = [_number(row.total) for row in rows]
    top_value, ticks, decimals = _ticks(max(row.total for row in rows), integers)
    tick_texts = [_number(t, decimals) for t in ticks]

    # Columns must be wide enough that neighbouring value labels above the bars do not touch.
    slot = max(32.0, max(map(_width, totals)) + 8)
    bar_w = round(slot * 0.6, 1)
    slant = math.cos(math.pi / 4)
    extents = [_width(label) * slant for label in labels]
    caption_room = 20.0 if value_caption else 0.0
    tick_w = max(_width(t, TICK_CHAR_W) for t in tick_texts)
    left = PAD + caption_room + tick_w + 8
    # A slanted label runs down and to the left of its column; the first ones may need more room.
    for i, extent in enumerate(extents):
        left = max(left, PAD + extent + 4 - (i + 0.5) * slot)
    width = max(MIN_WIDTH, math.ceil(left + len(rows) * slot + PAD))
    scale = PLOT_H / top_value

    body, plot_top = _title_lines(title, width)
    plot_top += 16  # room for the value label above the tallest bar
    plot_bottom = plot_top + PLOT_H
    height = plot_bottom + 14 + max(extents) + 8 + PAD

    body.append(f'<g class="grid" stroke="{GRID_COLOUR}" stroke-width="1">')
    for tick in ticks:
        y = _c(plot_bottom - tick * scale)
        body.append(f'<line x1="{_c(left)}" y1="{y}" x2="{_c(left + len(rows) * slot)}" y2="{y}"/>')
    body.append("</g>")
    body.append(f'<g class="ticks" font-size="11" fill="{MUTED_COLOUR}" text-anchor="end">')
    for tick, text in zip(ticks, tick_texts, strict=True):
        body.append(
            f'<text x="{_c(left - 6)}" y="{_c(plot_bottom - tick * scale + 4)}">{text}</text>'
        )
    body.append("</g>")
    if value_caption:
        # Beside the tick labels, not at the canvas edge: slanted labels can push the plot right.
        cx, cy = _c(left - tick_w - 8 - 10), _c(plot_top + PLOT_H / 2)
        body.append(
            f'<text class="axis-label" x="{cx}" y="{cy}" text-anchor="middle"'
            f' transform="rotate(-90 {cx} {cy})">{_t(value_caption)}</text>'
        )

    body.append('<g class="rows">')
    for i, (row, label, total) in enumerate(zip(rows, labels, totals, strict=True)):
        centre = left + (i + 0.5) * slot
        bar_h = row.total * scale
        label_x, label_y = _c(centre), _c(plot_bottom + 14)
        body.append('<g class="row">')
        body.append(f"<title>{_t(row.tooltip)}</title>")
        body.append(
            f'<text class="label" x="{label_x}" y="{label_y}" text-anchor="end"'
            f' transform="rotate(-45 {label_x} {label_y})">{_t(label)}</text>'
        )
        segment = row.segments[0]
        body.append(
            f'<rect class="{segment.css_class}" x="{_c(centre - bar_w / 2)}"'
            f' y="{_c(plot_bottom - bar_h)}" width="{_c(bar_w)}" height="{_c(bar_h)}"'
            f' fill="{segment.colour}"/>'
        )
        body.append(
            f'<text class="value" x="{_c(centre)}" y="{_c(plot_bottom - bar_h - 4)}"'
            f' text-anchor="middle">{total}</text>'
        )
        body.append("</g>")
    body.append("</g>")
    body.append(
        f'<line class="axis" x1="{_c(left)}" y1="{_c(plot_bottom)}"'
        f' x2="{_c(left + len(rows) * slot)}" y2="{_c(plot_bottom)}"'
        f' stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    return _document(chart_id, width, height, title, desc, body)
