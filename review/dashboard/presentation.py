"""What the dashboard draws: the funnel's rows and every chart with its SVG and the table of
its numbers (the same table the page shows and the CSV download writes)."""

from collections.abc import Callable, Sequence
from typing import Any

from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from core.charts import bar_chart, chart_table, stacked_bar_chart

PROGRESS_CHART_DAYS = 30


# The funnel's stages in the order work flows through them: label, key, and the explanation shown
# on the dashboard.
FUNNEL_STAGES = (
    ("Seeds pooled", "seeds", "imported into the campaign"),
    ("Sampled", "sampled", "drawn into the sample to annotate"),
    ("Assigned", "assigned", "claimed by or dealt to an annotator"),
    ("Rejected by annotators", "rejected_by_annotators", "seeds judged unsuitable"),
    ("Skipped", "skipped", "times an annotator passed a seed on (back to the pool; no rejection)"),
    ("Rewritten", "rewritten", "seeds with a submitted rewrite"),
    ("Submitted", "submitted", "revisions submitted for review (every line below adds up to it)"),
    ("Waiting for votes", "waiting_for_votes", "revisions under review"),
    ("Accepted", "accepted", "by the panel's quorum, or by a curator"),
    ("accepted by a curator", "curator_accepted", "no consensus, adjudicated as accepted"),
    ("Rejected", "rejected", "by the panel's quorum, or by a curator"),
    ("rejected by a curator", "curator_rejected", "no consensus, adjudicated as rejected"),
    ("No consensus", "no_consensus", "neither side reached the threshold; for you to decide"),
    ("Returned", "returned", "revisions sent back for a new revision"),
    ("Closed", "closed", "ended by a curator: final, never released"),
    ("In revision", "in_revision", "returned seeds whose new revision is not submitted yet"),
    ("Contaminated", "contaminated", "accepted but overlapping a public benchmark"),
    ("Releasable", "releasable", "accepted and uncontaminated"),
)


# Stages that count a part of the stage above them (shown indented).
FUNNEL_PARTS = {"curator_accepted": "accepted", "curator_rejected": "rejected"}


def funnel_rows(funnel: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {
            "label": label,
            "key": key,
            "value": funnel[key],
            "help": help_text,
            "part_of": FUNNEL_PARTS.get(key, ""),
        }
        for label, key, help_text in FUNNEL_STAGES
    ]


def dashboard_charts(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every dashboard chart of a ``campaign_overview``: its title, the exact numbers it draws
    (``data``, with ``series`` for stacked charts), the SVG, and those numbers as a table
    (``header``, ``rows``: ``core.charts.chart_table``)."""
    charts: dict[str, dict[str, Any]] = {}
    coverage, progress = stats["coverage"], stats["progress"]

    def add(name: str, title: str, data: Any, series: list[str] | None = None, **kw: Any) -> None:
        svg = (
            stacked_bar_chart(data, series=series, title=title)
            if series
            else bar_chart(data, title=title, **kw)
        )
        header, rows = chart_table(data, series=series)
        charts[name] = {
            "title": title,
            "data": data,
            "series": series,
            "svg": svg,
            "header": header,
            "rows": rows,
        }

    funnel = stats["funnel"]
    add(
        "funnel",
        "Campaign funnel",
        {label: funnel[key] for label, key, _ in FUNNEL_STAGES},
        x_label="seeds or rewrites",
    )
    add(
        "coverage",
        f"Releasable rewrites against the target of {coverage['target_release_size']}",
        {
            c["category"]: {"releasable": c["releasable"], "missing": c["gap"]}
            for c in coverage["categories"]
        },
        series=["releasable", "missing"],
    )
    add("categories", "Accepted rewrites by category", stats["categories"], x_label="rewrites")
    add(
        "difficulty",
        "Difficulty by category (accepted)",
        stats["difficulty_by_category"],
        series=["easy", "medium", "hard"],
    )
    add(
        "languages",
        "Programming languages (accepted)",
        stats["programming_languages"],
        x_label="rewrites",
        max_bars=20,
    )
    recent = progress[-PROGRESS_CHART_DAYS:]
    add(
        "progress",
        f"Decisions per day (last {PROGRESS_CHART_DAYS} active days)",
        {
            day["day"]: {
                "accepted": day["accepted"],
                "rejected": day["rejected"],
                "no consensus": day["no_consensus"],
                "returned": day["returned"],
                "closed": day["closed"],
            }
            for day in recent
        },
        series=["accepted", "rejected", "no consensus", "returned", "closed"],
    )
    return charts


def annotator_options(annotators: Sequence[Any]) -> Callable[[int | None], SafeString]:
    """The ``<option>``s of the revision loop's "return to" and "reassign" selects: every
    annotator but one (the author, or the one the rewrite is with), escaped. Each list is built
    once per annotator left out, not once per row (a hundred rows of fifty annotators each made
    the template loop over 10,000 options)."""
    built: dict[int | None, SafeString] = {}

    def without(excluded: int | None) -> SafeString:
        if excluded not in built:
            built[excluded] = format_html_join(
                "",
                '<option value="{}">{}</option>',
                ((a.get_username(), a.get_username()) for a in annotators if a.pk != excluded),
            )
        return built[excluded]

    return without
