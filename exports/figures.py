"""The figures of a release, drawn from its ``stats.json`` contents as standalone SVG files."""

from typing import Any

from core.charts import bar_chart, stacked_bar_chart

DIFFICULTIES = ["easy", "medium", "hard"]


def release_figures(stats: dict[str, Any]) -> dict[str, bytes]:
    """File name -> SVG bytes: samples per category, difficulty by category, and programming
    languages (the 20 most frequent, the rest summed as "Other")."""
    total = stats["total"]
    return {
        "categories.svg": bar_chart(
            stats["categories"], title=f"Samples per category (n = {total})", x_label="samples"
        ).encode("utf-8"),
        "difficulty_by_category.svg": stacked_bar_chart(
            stats["difficulty_by_category"],
            series=DIFFICULTIES,
            title=f"Difficulty by category (n = {total})",
        ).encode("utf-8"),
        "programming_languages.svg": bar_chart(
            stats["programming_languages"],
            title="Programming languages (a sample may have several)",
            x_label="samples",
            max_bars=20,
        ).encode("utf-8"),
    }
