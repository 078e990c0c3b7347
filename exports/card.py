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
    """The card's YAML header. ``configs`` lists the samples (``default``) and the
    arena-hard-auto questions (``questions``), both JSON lines: ``datasets`` infers one builder
    from the first config's files for all configs, so every config has to be of one format
    (``benchmark.parquet`` is a plain download, outside ``configs``)."""
    params = stats["parameters"]
    license_id = params.get("license", "other")
    meta: dict[str, Any] = {
        "pretty_name": f"{campaign.name} ({stats['release']})",
        "language": sorted(stats["natural_languages"]) or ["en"],
        "license": license_id,
    }
    if license_id == "other":
        meta["license_name"] = params.get("license_name") or "other"
        meta["license_link"] = params.get("license_link") or "LICENSE"
    meta |= {
        "task_categories": ["text-generation"],
        "tags": ["code", "benchmark", "human-annotated"],
        "size_categories": [_size_category(stats["total"])],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "test", "path": "benchmark.jsonl"}],
                "default": True,
            },
            {
                "config_name": "questions",
                "data_files": [{"split": "test", "path": "questions.jsonl"}],
            },
        ],
    }
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def _answers(stats: dict[str, Any]) -> str:
    """What the release did with models that lack answers for some samples."""
    report = stats.get("responses")
    if not report:
        return ""
    intro = (
        f"Policy for missing answers: `{report['policy']}`. No sample holds a null or empty "
        "answer: a model's `<model>_response` key is there only where the model answered."
    )
    if report["baseline_model"]:
        intro += (
            f" The baseline model is `{report['baseline_model']}`: its answer to every sample "
            "is also the sample's `baseline` field."
        )
    lines = [intro + "\n"] if report["dropped_models"] or report["dropped_keys"] else [intro]
    for model, samples in report["dropped_models"].items():
        lines.append(
            f"- `{model}` is left out: no answer for {_n(len(samples), 'sample')} of this release."
        )
    for model, samples in report["dropped_keys"].items():
        lines.append(
            f"- `{model}_response` is absent from {_n(len(samples), 'sample')} it did not "
            "answer (listed in `stats.json`, `responses.dropped_keys`)."
        )
    return "\n".join(lines)


def _codearena_section(stats: dict[str, Any]) -> str:
    codearena = stats.get("codearena")
    if not codearena:
        return ""
    baseline = stats["parameters"].get("baseline_model") or ""
    models = stats.get("responses", {}).get("models", [])
    if codearena["meta"] == "omitted":
        return (
            "This release was built without CodeArena's `meta` (its taxonomy pairs have no "
            "CodeArena task type), so CodeArena's evaluation step cannot classify it."
        )
    parts = [
        "`benchmark.jsonl` is a drop-in replacement for CodeArena.jsonl of CodeArena's own "
        "evaluation code (QwenLM/Qwen2.5-Coder, `qwencoder-eval/instruct/CodeArena`): each "
        "sample's `meta.parsed.task_type[0]` is a task type whose first (main, sub) pair in "
        "CodeArena's `utils/tasktype_to_levels.json` is the sample's own (category, "
        "subcategory) (the shortest such task type, ties broken alphabetically).",
        _table(
            ["Category", "Subcategory", "Task type"],
            [
                [t["category"], t["subcategory"], f"`{t['task_type']}`"]
                for t in codearena["task_types"]
            ],
        ),
    ]
    if baseline:
        parts.append(
            f"Its judge compares each answer with `baseline` (`{baseline}`'s answer), which it "
            "reads when the sample has no `<baseline_name>_response` of its two built-in "
            "baseline names"
            + (
                "; **this release includes such a model**, which the judge then prefers"
                if {"gpt-4-turbo-2024-04-09", "gpt-4o-2024-05-13"} & set(models)
                and baseline not in {"gpt-4-turbo-2024-04-09", "gpt-4o-2024-05-13"}
                else ""
            )
            + ". From the CodeArena folder, for a model `MODEL` (a path or name vLLM loads):"
        )
    else:
        parts.append(
            "This release names no baseline model: CodeArena's judge reads the answer of "
            "`--baseline_name` (`gpt-4-turbo-2024-04-09_response` by default) from each sample, "
            "so import that model's answers before releasing, or release with a baseline "
            "model. From the CodeArena folder, for a model `MODEL`:"
        )
    parts.append(
        "```sh\n"
        "python infer_vllm.py -model MODEL -input_path /path/to/release/benchmark.jsonl "
        "-output_path ./results/MODEL.jsonl -tensor_parallel_size 1 -model_max_len 16384 "
        "-chat_template auto\n"
        "python judge_models.py -input_path ./results/MODEL.jsonl -output_path "
        "./results/MODEL.jsonl.judge -workers 64 -judgement_only -setting_file "
        "./utils/judge_config.yaml\n"
        "python judge_models.py -input_path ./results/MODEL.jsonl -output_path "
        "./results/MODEL.jsonl.judge -evaluation_only -setting_file ./utils/judge_config.yaml\n"
        "```"
    )
    long = codearena["long_questions"]
    if long:
        parts.append(
            f"Note: {_n(len(long), 'question')} of 1024 or more words "
            f"{_verb(len(long), 'is', 'are')} silently skipped by `judge_models.py` (listed in "
            "`stats.json`, `codearena.long_questions`)."
        )
    return "\n\n".join(parts)


def _arena_hard_section(stats: dict[str, Any]) -> str:
    arena = stats.get("arena_hard")
    if not arena:
        return ""
    bench, category, baseline = arena["bench"], arena["category"], arena["baseline"]
    shipped = arena["baseline_shipped"]
    judged = [m for m in arena["models"] if m != baseline]
    builtin = arena["builtin_baseline"]
    parts = [
        f"`arena-hard-auto/data/{bench}/` is laid out as lmarena/arena-hard-auto reads a "
        f"benchmark: `question.jsonl` (category `{category}`) and `model_answer/<model>.jsonl` "
        "for every included model, in the format its `gen_answer.py` writes (the assistant "
        'content `{"answer": ...}`, and `metadata` with `token_len` in the gpt-4o encoding and '
        "the markdown counts its style control reads; `tstamp` is 0 and `ans_id` derived from "
        "the answer, so rebuilding gives the same bytes)."
    ]
    if builtin == baseline:
        change = (
            f"No settings change is needed: arena-hard-auto judges category `{category}` "
            f"against `{baseline}`"
            + (
                ", whose answers are in this release."
                if shipped
                else f"; generate `{baseline}`'s answers with `gen_answer.py` first (add it to "
                "`model_list` in `config/gen_answer_config.yaml`)."
            )
        )
    elif builtin is not None:
        change = (
            f"One settings change: arena-hard-auto judges its built-in category `{category}` "
            f"against `{builtin}`. In `utils/judge_utils.py`, change that one entry of "
            f'`JUDGE_SETTINGS` to `"{category}": {{"baseline": "{baseline}", '
            '"system_prompt": OG_ARENA_HARD_PROMPT},` (or release with a category of your own).'
        )
    else:
        change = (
            "One settings change: in `utils/judge_utils.py`, add this entry to "
            f'`JUDGE_SETTINGS`: `"{category}": {{"baseline": "{baseline}", '
            '"system_prompt": OG_ARENA_HARD_PROMPT},`.'
        )
    parts.append(change)
    model_list = ", ".join(judged) if judged else "MODEL"
    parts.append(
        "Then, in a checkout of arena-hard-auto (tested with its v2 layout: `gen_judgment.py` "
        "reading `uid`/`prompt`, `show_result.py` with `--category` taking several values), "
        f"set `bench_name: {bench}` and `model_list: [{model_list}]` in "
        "`config/arena-hard-v2.0.yaml` (and `config/gen_answer_config.yaml` to answer with a "
        "new model), and the judge's endpoint in `config/api_config.yaml`; `JUDGE` is that "
        "config's `judge_model`:"
    )
    parts.append(
        "```sh\n"
        f"cp -r /path/to/release/arena-hard-auto/data/{bench} data/\n"
        "python gen_answer.py      # only for models without an answer file here\n"
        "python gen_judgment.py\n"
        f"python show_result.py --benchmark {bench} --judge-names JUDGE --category {category}\n"
        f"python show_result.py --benchmark {bench} --judge-names JUDGE --category {category} "
        "--control-features markdown length\n"
        "```"
    )
    parts.append(
        "Style control (the last command) reads each answer's `metadata`. Ask for both features: "
        "in that version of `show_result.py`, `--control-features length` alone keeps a model "
        "column instead of the length column and stops with an IndexError."
    )
    return "\n\n".join(parts)


# What became of the submitted revisions, in the card's words: (funnel key, singular, plural).
# Accepted and rejected are always named; the others only when they happened, so the card never
# says "0 had no consensus" of a split that a curator returned for revision.
REVIEW_OUTCOMES: tuple[tuple[str, str, str], ...] = (
    ("accepted", "was accepted", "were accepted"),
    ("rejected", "was rejected", "were rejected"),
    (
        "returned",
        "was returned to its author for a new revision",
        "were returned to their authors for a new revision",
    ),
    (
        "no_consensus",
        "is without consensus, for a curator to decide",
        "are without consensus, for a curator to decide",
    ),
    ("closed", "was closed by a curator", "were closed by a curator"),
    ("waiting_for_votes", "is still waiting for votes", "are still waiting for votes"),
)


def _review_outcomes(funnel: dict[str, Any]) -> str:
    """The submitted revisions' outcomes in words: "5 were accepted, 1 was rejected and 1 was
    returned to its author for a new revision"."""
    parts = [
        f"{funnel.get(key, 0)} {_verb(funnel.get(key, 0), singular, plural)}"
        for key, singular, plural in REVIEW_OUTCOMES
        if key in ("accepted", "rejected") or funnel.get(key, 0)
    ]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _how_it_was_made(*, campaign: Campaign, stats: dict[str, Any]) -> str:
    """The card's account of the curation, each count with its noun in the right number."""
    total = stats["total"]
    funnel = stats["funnel"]
    quality = stats["quality"]
    kappa = stats["agreement"]["fleiss_kappa"]
    panels = stats["agreement"]["panels"]
    skipped = funnel.get("skipped", 0)
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
        f"- **Review:** a panel of {_n(campaign.panel_size, 'reviewer')} voted on each of the "
        f"{_n(funnel['submitted'], 'submitted revision')}: {_review_outcomes(funnel)}. "
        f"Fleiss' kappa over {_n(panels, 'complete panel')} was "
        f"{'–' if kappa is None else kappa}.",
    ]
    curator_accepted = funnel.get("curator_accepted", 0)
    curator_rejected = funnel.get("curator_rejected", 0)
    closed = funnel.get("closed", 0)
    if curator_accepted or curator_rejected or closed:
        # Only what a curator did: no "accepting 0 rewrites" when they only closed one.
        rejected = curator_rejected if curator_accepted else _n(curator_rejected, "rewrite")
        settled = [
            f"accepting {_n(curator_accepted, 'rewrite')}" if curator_accepted else "",
            f"rejecting {rejected}" if curator_rejected else "",
        ]
        settled_text = " and ".join(part for part in settled if part)
        did = [
            f"settled panels without consensus, {settled_text}, each with a written reason"
            if settled_text
            else "",
            f"closed {_n(closed, 'rewrite')} for good (never released)" if closed else "",
        ]
        released_by_curator = funnel.get("released_curator_decided", 0)
        lines.append(
            "- **Curator decisions:** a curator "
            + ", and ".join(part for part in did if part)
            + f". {released_by_curator} of the {_n(total, 'released sample')} "
            f"{_verb(released_by_curator, 'was', 'were')} accepted by a curator rather than by a "
            "panel's quorum."
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


# The edit-distance buckets of stats.json's provenance block, in the card's words.
EDIT_BUCKET_LABELS = {
    "0": "0 (inserted unchanged)",
    "1-50": "1–50",
    "51-200": "51–200",
    "201-1000": "201–1,000",
    ">1000": "more than 1,000",
}
_SPREAD = ("min", "max", "mean", "median")


def _provenance_section(stats: dict[str, Any]) -> str:
    """Who wrote the samples: the split between text written by a person and text drafted from
    a model suggestion, the models and prompt versions, and how much the drafts were edited."""
    prov = stats.get("provenance")
    if not prov:
        return ""
    total = stats["total"]
    drafted = prov["model_drafted"]
    parts = [
        "Each sample's `provenance` says where its text came from: `human` (written by an "
        "annotator) or `model_drafted` (the annotator inserted a model's suggested rewrite into "
        "the editor and worked from it, or submitted a text close to a suggestion they were "
        "shown: an edit distance of at most half the longer of the two). A model-drafted "
        "sample was edited by its annotator, submitted, and voted on and accepted by the "
        "reviewer panel like every other sample; `edit_distance` is the character-level "
        "Levenshtein distance from the suggestion to the released text (distances above "
        "50,000 are given as 50,001) and `suggestion_chars` the suggestion's length.",
        _table(
            ["Origin", "Samples", "Share"],
            [
                [
                    "written by a person (`human`)",
                    prov["human_written"],
                    _share(prov["human_written"], total),
                ],
                [
                    "drafted from a model suggestion (`model_drafted`)",
                    drafted,
                    _share(drafted, total),
                ],
            ],
        ),
    ]
    if not drafted:
        parts.append("No sample of this release was drafted from a model suggestion.")
        return "\n\n".join(parts)
    parts.append(
        _table(
            ["Model", "Prompt version", "Samples"],
            [
                [model, version, n]
                for model, versions in prov["by_prompt_version"].items()
                for version, n in versions.items()
            ],
        )
    )
    distance, ratio = prov["edit_distance"], prov["edit_ratio"]
    parts.append(
        "How far the model-drafted samples were edited (the ratio is the edit distance divided "
        "by the suggestion's length in characters):"
    )
    parts.append(
        _table(
            ["Measure", "Min", "Max", "Mean", "Median"],
            [
                ["edit distance (characters)", *(distance[k] for k in _SPREAD)],
                ["edit ratio", *(ratio[k] for k in _SPREAD)],
            ],
        )
    )
    parts.append(
        _table(
            ["Edit distance (characters)", "Samples"],
            [
                [EDIT_BUCKET_LABELS.get(name, name), n]
                for name, n in prov["edit_distance_buckets"].items()
            ],
        )
    )
    return "\n\n".join(parts)


def dataset_card(*, campaign: Campaign, stats: dict[str, Any], figures: list[str]) -> str:
    total = stats["total"]
    funnel = stats["funnel"]
    tokens = stats["question_tokens"]
    models = sorted(stats["response_tokens"])
    baseline_model = stats["parameters"].get("baseline_model") or ""
    category = stats.get("arena_hard", {}).get("category", "coding")
    drafted = stats.get("provenance", {}).get("model_drafted", 0)
    parts = [
        _header(campaign, stats),
        f"# {_cell(campaign.name)}: release {_cell(stats['release'])}",
        (
            f"{total} coding questions written by human annotators from real user questions "
            + (
                f"({drafted} of them drafted from a model suggestion that the annotator then "
                "edited; see Provenance) "
                if drafted
                else ""
            )
            + f"and accepted by at least {campaign.accept_threshold} of {campaign.panel_size} "
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
                *(
                    [["`meta`", "CodeArena's `{parsed: {task_type: [task type]}}`"]]
                    if stats.get("codearena", {}).get("meta") == "written"
                    else []
                ),
                *(
                    [["`baseline`", f"the baseline model's answer ({baseline_model})"]]
                    if baseline_model
                    else []
                ),
                *[[f"`{m}_response`", f"answer of {m}"] for m in models],
                *(
                    [
                        [
                            "`provenance`",
                            "where the text came from: `{origin, model, prompt_version, "
                            "edit_distance, suggestion_chars}`, origin `human` or "
                            "`model_drafted` (see Provenance)",
                        ]
                    ]
                    if "provenance" in stats
                    else []
                ),
            ],
        ),
        "`questions.jsonl` holds the same questions in arena-hard-auto's question format "
        "(`uid`, `category`, `subcategory`, `prompt`) for LLM-as-judge evaluation; `uid` is the "
        f"sample `id`, `category` is `{category}` (the key of arena-hard-auto's judge "
        "settings) and `subcategory` the CodeArena subcategory. Both load with `datasets`: "
        '`load_dataset(folder)` (the samples) and `load_dataset(folder, "questions")`.',
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
    provenance = _provenance_section(stats)
    if provenance:
        parts += ["## Provenance", provenance]
    answers = _answers(stats)
    if answers:
        parts += ["## Model answers", answers]
    codearena = _codearena_section(stats)
    if codearena:
        parts += ["## Evaluating with CodeArena", codearena]
    arena = _arena_hard_section(stats)
    if arena:
        parts += ["## Evaluating with arena-hard-auto", arena]
    if figures:
        parts += [
            "## Figures",
            "\n\n".join(f"![{name.rsplit('.', 1)[0]}](figures/{name})" for name in figures),
        ]
    parts += [
        "## Files",
        "`benchmark.jsonl` (the samples), `benchmark.parquet` (the same rows), "
        "`questions.jsonl` (arena-hard-auto format), `arena-hard-auto/` (a benchmark folder "
        "for arena-hard-auto), `stats.json` (every figure above), `figures/` (SVG charts) and "
        "`manifest.json` (parameters, and the sha256 and size of every file). The zip of the "
        "release holds all of them under one folder.",
    ]
    return "\n\n".join(parts) + "\n"
