"""The dataset card (``README.md``) of a release: a YAML header as the Hugging Face Hub reads it,
then the release's statistics as markdown tables. Built only from ``stats.json`` contents and
campaign settings, so it is as deterministic as they are."""

from typing import Any

import yaml

from annotation.models import Campaign


def _cell(value: Any) -> str:
    """A markdown table cell: pipes escaped, no line breaks, None shown as a dash."""
    if value is None:
        return "–"
    text = str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    # Markdown passes raw HTML through; names come from users, so none may open a tag.
    return text.replace("<", "&lt;")


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    """A markdown table; columns holding only numbers (or nothing) are right-aligned."""

    def numeric(column: int) -> bool:
        values = [row[column] for row in rows]
        return any(v is not None for v in values) and all(
            v is None
            or (isinstance(v, int | float) and not isinstance(v, bool))
            or (isinstance(v, str) and v.endswith("%"))
            for v in values
        )

    aligns = [" ---: " if numeric(i) else " --- " for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%" if total else "–"


def _size_category(total: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if total < limit:
            return label
    return "100K<n<1M"


def _header(campaign: Campaign, stats: dict[str, Any]) -> str:
    meta = {
        "pretty_name": f"{campaign.name} ({stats['release']})",
        "language": sorted(stats["natural_languages"]) or ["en"],
        "license": "other",
        "task_categories": ["text-generation"],
        "tags": ["code", "benchmark", "human-annotated"],
        "size_categories": [_size_category(stats["total"])],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "test", "path": "benchmark.jsonl"}],
            }
        ],
    }
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def dataset_card(*, campaign: Campaign, stats: dict[str, Any], figures: list[str]) -> str:
    total = stats["total"]
    funnel = stats["funnel"]
    quality = stats["quality"]
    tokens = stats["question_tokens"]
    kappa = stats["agreement"]["fleiss_kappa"]
    models = sorted(stats["response_tokens"])
    parts = [
        _header(campaign, stats),
        f"# {_cell(campaign.name)}: release {_cell(stats['release'])}",
        (
            f"{total} coding questions written by human annotators from real user questions "
            f"and accepted by at least {campaign.accept_threshold} of {campaign.panel_size} "
            "independent reviewers. Each sample is a self-contained user query tagged with its "
            "category, difficulty, programming language(s) and natural language."
        ),
        "## How it was made",
        (
            f"- **Seeds:** {funnel['seeds']} seed questions were pooled, and {funnel['sampled']} "
            "of them were sampled uniformly across subcategories.\n"
            f"- **Annotation:** annotators rewrote {funnel['rewritten']} seeds into new, "
            f"self-contained questions and rejected {funnel['rejected_by_annotators']} "
            "seeds as unsuitable.\n"
            f"- **Review:** a panel of {campaign.panel_size} reviewers voted on each submitted "
            f"rewrite. {funnel['accepted']} were accepted, {funnel['rejected']} rejected, and "
            f"{funnel['no_consensus']} had no consensus. Fleiss' kappa over "
            f"{stats['agreement']['panels']} complete panels was "
            f"{'–' if kappa is None else kappa}.\n"
            f"- **Decontamination:** {quality['contaminated_excluded']} accepted rewrites share a "
            f"word {quality['ngram']}-gram with a public benchmark "
            f"({', '.join(quality['reference_sets']) or 'no reference sets loaded'}) and are "
            "excluded.\n"
            f"- **Selection:** {stats['parameters']['eligible']} rewrites were eligible, and "
            f"{total} were released (stratified by `{stats['parameters']['stratify']}`, seed "
            f"{stats['parameters']['seed']}).\n"
            f"- **Quality flags in this release:** {quality['copied_seed']} rewrites are close "
            f"to their seed text, and {quality['near_duplicate_pairs']} pairs are near "
            "duplicates."
        ),
        "## Data fields",
        _table(
            ["Field", "Meaning"],
            [
                ["`id`", "stable sample id (hex)"],
                ["`messages`", "the question as a chat turn: `[{role: user, content}]`"],
                ["`category`, `subcategory`", "task type in the CodeArena taxonomy"],
                ["`difficulty`", "easy, medium or hard"],
                ["`programming_language`", "list of programming languages"],
                ["`language`", "natural language code (ISO 639-1)"],
                ["`question_tokens`", f"length of the question in `{stats['tokenizer']}` tokens"],
                ["`seed_id`", "id of the seed question it was written from"],
                ["`votes`", "reviewers' votes: `{valid, invalid}`"],
                *[[f"`{m}_response`", f"baseline answer of {m}"] for m in models],
            ],
        ),
        "`questions.jsonl` holds the same questions in arena-hard-auto's question format "
        "(`uid`, `category`, `subcategory`, `prompt`) for LLM-as-judge evaluation; `uid` is the "
        "sample `id`, `category` is `coding` (the judge setting arena-hard-auto uses) and "
        "`subcategory` the CodeArena subcategory.",
        "## Categories",
        _table(
            ["Category", "Samples", "Share"],
            [[c, n, _share(n, total)] for c, n in stats["categories"].items()],
        ),
        "## Difficulty",
        _table(
            ["Category", "Easy", "Medium", "Hard"],
            [
                [c, d["easy"], d["medium"], d["hard"]]
                for c, d in stats["difficulty_by_category"].items()
            ]
            + [
                [
                    "**All**",
                    stats["difficulty"]["easy"],
                    stats["difficulty"]["medium"],
                    stats["difficulty"]["hard"],
                ]
            ],
        ),
        "## Subcategories",
        _table(
            ["Subcategory", "Samples"],
            [[s, n] for s, n in stats["subcategories"].items()],
        ),
        "## Programming languages",
        _table(
            ["Language", "Samples", "Share"],
            [[lang, n, _share(n, total)] for lang, n in stats["programming_languages"].items()],
        ),
        "## Natural languages",
        _table(
            ["Language", "Samples", "Share"],
            [[lang, n, _share(n, total)] for lang, n in stats["natural_languages"].items()],
        ),
        "## Lengths",
        _table(
            ["Text", "Count", "Min", "Max", "Mean", "Median"],
            [
                [
                    f"question ({stats['tokenizer']} tokens)",
                    tokens["count"],
                    tokens["min"],
                    tokens["max"],
                    tokens["mean"],
                    tokens["median"],
                ]
            ]
            + [
                [
                    f"{m} response",
                    s["count"],
                    s["min"],
                    s["max"],
                    s["mean"],
                    s["median"],
                ]
                for m, s in sorted(stats["response_tokens"].items())
            ],
        ),
        "## Curation funnel",
        _table(["Stage", "Count"], [[stage, n] for stage, n in funnel.items()]),
    ]
    if figures:
        parts += [
            "## Figures",
            "\n\n".join(f"![{name.rsplit('.', 1)[0]}](figures/{name})" for name in figures),
        ]
    parts += [
        "## Files",
        "`benchmark.jsonl` (the samples), `questions.jsonl` (arena-hard-auto format), "
        "`stats.json` (every figure above), `figures/` (SVG charts) and `manifest.json` "
        "(parameters, and the sha256 and size of every file).",
    ]
    return "\n\n".join(parts) + "\n"
