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


def _n(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` with its noun in the right number: "1 seed", "2 seeds"."""
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def _verb(count: int, singular: str, plural: str) -> str:
    return singular if count == 1 else plural


# The funnel table's lines: stats.json key, what it counts. A key missing from the stats (a
# release built before it existed) is left out; a key not listed here is shown by its name.
FUNNEL_LINES: tuple[tuple[str, str], ...] = (
    ("seeds", "Seeds pooled"),
    ("sampled", "Seeds sampled"),
    ("assigned", "Seeds assigned to an annotator"),
    ("rejected_by_annotators", "Seeds rejected by annotators as unsuitable"),
    ("skipped", "Skips: a seed passed on by an annotator, back to the pool (not a rejection)"),
    ("rewritten", "Seeds rewritten (submitted for review)"),
    ("submitted", "Revisions submitted for review"),
    ("waiting_for_votes", "Revisions still waiting for votes"),
    ("waiting_for_reviewers", "of which waiting for enough reviewers"),
    ("accepted", "Revisions accepted"),
    ("curator_accepted", "of which accepted by a curator (no consensus, adjudicated)"),
    ("rejected", "Revisions rejected"),
    ("curator_rejected", "of which rejected by a curator (no consensus, adjudicated)"),
    ("no_consensus", "Revisions without consensus, undecided"),
    ("returned", "Revisions returned to their author for a new revision"),
    ("in_revision", "Seeds in revision (new revision not submitted yet)"),
    ("closed", "Revisions closed by a curator (final, never released)"),
    ("contaminated", "Accepted revisions overlapping a public benchmark (excluded)"),
    ("releasable", "Accepted and uncontaminated (eligible)"),
    ("released", "Samples released"),
    ("released_curator_decided", "of which accepted by a curator"),
)


def _funnel_rows(funnel: dict[str, Any]) -> list[list[Any]]:
    known = dict(FUNNEL_LINES)
    rows: list[list[Any]] = [[label, funnel[key]] for key, label in FUNNEL_LINES if key in funnel]
    rows += [[f"`{key}`", n] for key, n in funnel.items() if key not in known]
    return rows


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


def _how_it_was_made(*, campaign: Campaign, stats: dict[str, Any]) -> str:
    """The card's account of the curation, each count with its noun in the right number."""
    total = stats["total"]
    funnel = stats["funnel"]
    quality = stats["quality"]
    kappa = stats["agreement"]["fleiss_kappa"]
    panels = stats["agreement"]["panels"]
    skipped = funnel.get("skipped", 0)
    accepted = funnel["accepted"]
    lines = [
        f"- **Seeds:** {_n(funnel['seeds'], 'seed question')} "
        f"{_verb(funnel['seeds'], 'was', 'were')} pooled, and {funnel['sampled']} of them "
        f"{_verb(funnel['sampled'], 'was', 'were')} sampled uniformly across subcategories.",
        f"- **Annotation:** annotators rewrote {_n(funnel['rewritten'], 'seed')} into new, "
        "self-contained questions and rejected "
        f"{_n(funnel['rejected_by_annotators'], 'seed')} as unsuitable"
        + (
            f"; {_n(skipped, 'time')} an annotator passed a seed on to someone else (a skip, "
            "not a rejection)."
            if skipped
            else "."
        ),
        f"- **Review:** a panel of {_n(campaign.panel_size, 'reviewer')} voted on each "
        f"submitted rewrite. {accepted} {_verb(accepted, 'was', 'were')} accepted, "
        f"{funnel['rejected']} rejected, and {funnel['no_consensus']} had no consensus "
        "at the end. Fleiss' kappa over "
        f"{_n(panels, 'complete panel')} was {'–' if kappa is None else kappa}.",
    ]
    curator_accepted = funnel.get("curator_accepted", 0)
    curator_rejected = funnel.get("curator_rejected", 0)
    closed = funnel.get("closed", 0)
    if curator_accepted or curator_rejected or closed:
        lines.append(
            "- **Curator decisions:** a curator settled panels without consensus, accepting "
            f"{_n(curator_accepted, 'rewrite')} and rejecting {curator_rejected}, each with a "
            f"written reason, and closed {_n(closed, 'rewrite')} for good (never released). "
            f"{funnel.get('released_curator_decided', 0)} of the {_n(total, 'released sample')} "
            f"{_verb(funnel.get('released_curator_decided', 0), 'was', 'were')} accepted by a "
            "curator rather than by a panel's quorum."
        )
    contaminated = quality["contaminated_excluded"]
    eligible = stats["parameters"]["eligible"]
    lines += [
        f"- **Decontamination:** {_n(contaminated, 'accepted rewrite')} "
        f"{_verb(contaminated, 'shares', 'share')} a word {quality['ngram']}-gram with a public "
        f"benchmark ({', '.join(quality['reference_sets']) or 'no reference sets loaded'}) and "
        f"{_verb(contaminated, 'is', 'are')} excluded.",
        f"- **Selection:** {_n(eligible, 'rewrite')} {_verb(eligible, 'was', 'were')} "
        f"eligible, and {total} {_verb(total, 'was', 'were')} released (stratified by "
        f"`{stats['parameters']['stratify']}`, seed {stats['parameters']['seed']}).",
        f"- **Quality flags in this release:** {_n(quality['copied_seed'], 'rewrite')} "
        f"{_verb(quality['copied_seed'], 'is', 'are')} close to their seed text, and "
        f"{_n(quality['near_duplicate_pairs'], 'pair')} "
        f"{_verb(quality['near_duplicate_pairs'], 'is a near duplicate', 'are near duplicates')}.",
    ]
    return "\n".join(lines)


def dataset_card(*, campaign: Campaign, stats: dict[str, Any], figures: list[str]) -> str:
    total = stats["total"]
    funnel = stats["funnel"]
    tokens = stats["question_tokens"]
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
        _how_it_was_made(campaign=campaign, stats=stats),
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
        _table(["Stage", "Count"], _funnel_rows(funnel)),
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
