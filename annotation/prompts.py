"""The built-in prompts of model-assisted curation and the parsers of their answers. Pure: no
database, no network (``annotation.services.assist`` sends them).

A prompt has two parts. The *instructions* are what a curator may rewrite per campaign (saved as
versions, ``AssistPrompt``); version 0 is the built-in text below. The *answer format* is fixed
and always appended, so the platform can read the answer whatever the instructions say.

The draft instructions follow the guidelines the CodeArena paper gives for turning a real user's
question into a benchmark query (its Figure 6 prompt and the annotation checklist): a new,
self-contained question that keeps the user's real scenario, is clear, solvable in one answer
and free of ethical issues, not a copy of the seed. The wording is ours (the figure's exact text
was not available to copy), so it is versioned as our own: ``builtin-v1``.

The first line of every system message names the task (``TASK: draft``): it tells a reader of
the endpoint's logs what a call was for.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from core.llm import clean

BUILTIN_VERSION = "builtin-v1"
SEED_CHARS_MAX = 12_000  # bounds the tokens a seed sends (long pastes, logs)
ANSWER_CHARS_MAX = 3_000

DRAFT_INSTRUCTIONS = """\
You help a human annotator build a benchmark of real coding questions. Rewrite the seed below \
(a question a real user asked, or code-related text from the web) into a NEW user query for \
a coding assistant.

Guidelines:
1. Self-contained: everything needed to answer is in the query itself: the code, data, error \
messages, versions and constraints. No references to links, attachments, earlier messages or \
"the code above" that the reader cannot see.
2. Keep the user's real intent and realistic scenario; do not turn it into a textbook exercise.
3. Clear: a developer knows exactly what is asked and what a good answer contains.
4. Solvable: it can be answered in one response, without access to private systems.
5. No ethical issue: nothing harmful, private or offensive; remove names, keys, e-mail \
addresses and other personal data.
6. Do not copy the seed: write new wording (the platform flags rewrites that copy their seed).
7. Write in the natural language of the seed. Put code in fenced blocks with a language tag.
8. Judge the difficulty for an experienced developer: easy, medium or hard.
"""

DRAFT_FORMAT = """\
Answer in exactly this format, with nothing before or after it:
<question>
the new query, in markdown
</question>
<difficulty>easy, medium or hard</difficulty>
<languages>the programming languages the query is about, comma-separated, from this list: \
{languages}</languages>"""

CLASSIFY_INSTRUCTIONS = """\
You classify coding questions into a fixed taxonomy of categories and subcategories. Read the \
question and choose the one subcategory that describes what is asked best.
"""

CLASSIFY_FORMAT = """\
The subcategories, as "- Category > Subcategory":
{subcategories}

Answer with exactly one subcategory name from the list, in this format and nothing else:
<subcategory>Subcategory name</subcategory>"""

CLASSIFY_RETRY = """\
{answer!s} is not one of the listed subcategories. Answer again with exactly one subcategory \
name copied from the list, as <subcategory>Subcategory name</subcategory>."""

HINT_INSTRUCTIONS = """\
You assist a senior reviewer who decides whether a rewritten coding question may enter a \
benchmark. Give your view of the reviewer's three checklist items and the problems you see:
- clear: a developer knows exactly what is asked and what a good answer contains;
- ethical: nothing harmful, private or offensive is asked or revealed;
- solvable: everything needed to answer is in the question itself, and one answer can solve it.
Be brief and concrete. You are giving an opinion; the reviewer decides.
"""

HINT_FORMAT = """\
Answer with one JSON object and nothing else:
{"clear": {"ok": true or false, "note": "one sentence"}, "ethical": {"ok": ..., "note": ...}, \
"solvable": {"ok": ..., "note": ...}, "problems": ["a likely problem", ...]}"""

INSTRUCTIONS = {
    "draft": DRAFT_INSTRUCTIONS,
    "classify": CLASSIFY_INSTRUCTIONS,
    "hint": HINT_INSTRUCTIONS,
}
HINT_ITEMS = ("clear", "ethical", "solvable")


def campaign_version(number: int) -> str:
    """The version name of a campaign's own prompt (``AssistPrompt.number``)."""
    return f"campaign-v{number}"


def _clip(text: str, limit: int) -> str:
    text = text or ""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit} more characters not shown]"


def draft_messages(
    *,
    instructions: str,
    languages: list[str],
    title: str,
    body: str,
    answer: str = "",
    subcategory: str = "",
) -> list[dict[str, str]]:
    system = (
        "TASK: draft\n"
        + instructions.strip()
        + "\n\n"
        + DRAFT_FORMAT.replace("{languages}", ", ".join(languages) or "any")
    )
    user = []
    if title:
        user.append(f"Seed title: {title}")
    if subcategory:
        user.append(f"Seed subcategory: {subcategory}")
    user.append("Seed text:\n" + _clip(body, SEED_CHARS_MAX))
    if answer:
        user.append(
            "Answer given in the source (context only; do not put it in the query):\n"
            + _clip(answer, ANSWER_CHARS_MAX)
        )
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(user)}]


def classify_messages(
    *, instructions: str, taxonomy: list[tuple[str, str]], title: str, body: str
) -> list[dict[str, str]]:
    listing = "\n".join(f"- {category} > {sub}" for category, sub in taxonomy)
    system = (
        "TASK: classify\n"
        + instructions.strip()
        + "\n\n"
        + CLASSIFY_FORMAT.replace("{subcategories}", listing)
    )
    user = (f"Title: {title}\n\n" if title else "") + "Question:\n" + _clip(body, SEED_CHARS_MAX)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def classify_retry_messages(messages: list[dict[str, str]], answer: str) -> list[dict[str, str]]:
    """The conversation again, with the invalid answer and a request to pick from the list."""
    shown = json.dumps(" ".join(answer.split())[:200])
    return [
        *messages,
        {"role": "assistant", "content": answer[:2000]},
        {"role": "user", "content": CLASSIFY_RETRY.format(answer=shown)},
    ]


def hint_messages(
    *,
    instructions: str,
    text: str,
    difficulty: str,
    languages: list[str],
    subcategory: str,
    seed_text: str,
) -> list[dict[str, str]]:
    system = "TASK: hint\n" + instructions.strip() + "\n\n" + HINT_FORMAT
    user = (
        "The rewritten question:\n"
        + _clip(text, SEED_CHARS_MAX)
        + f"\n\nIts tags: difficulty {difficulty or '-'}; programming languages "
        + (", ".join(languages) or "-")
        + f"; subcategory {subcategory or '-'}."
        + "\n\nThe seed it was written from (for reference):\n"
        + _clip(seed_text, ANSWER_CHARS_MAX)
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# --- answers ---------------------------------------------------------------------------------


def _section(text: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>\s*(.*?)\s*</{tag}>", text, flags=re.S | re.I)
    return match.group(1).strip() if match else None


@dataclass
class DraftAnswer:
    question: str
    difficulty: str = ""  # "" when the answer gave none of easy/medium/hard
    languages: list[str] = field(default_factory=list)  # as the model wrote them


def parse_draft(text: str) -> DraftAnswer:
    """The question and tags of a draft answer. Raises ValueError saying what is wrong.
    Line ends become "\n", as a browser's editor makes them, so a suggestion inserted as it is
    has an edit distance of 0."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    question = _section(text, "question")
    if question is None:
        # A model that streamed the question and was cut off before </question>.
        start = re.search(r"<question>", text, flags=re.I)
        if start is None:
            raise ValueError("it has no <question> section")
        question = text[start.end() :].strip()
    if not question:
        raise ValueError("its <question> section is empty")
    difficulty = (_section(text, "difficulty") or "").strip().lower()
    if difficulty not in {"easy", "medium", "hard"}:
        difficulty = ""
    raw = _section(text, "languages") or ""
    languages = [name.strip() for name in re.split(r"[,;\n]", raw) if name.strip()]
    return DraftAnswer(question=question, difficulty=difficulty, languages=languages)


def question_so_far(text: str) -> str:
    """While a draft streams: the part of the question that has arrived (nothing before
    <question>, nothing from </question> on, and never half a closing tag)."""
    start = re.search(r"<question>", text, flags=re.I)
    if start is None:
        return ""
    rest = text[start.end() :]
    end = re.search(r"</question>", rest, flags=re.I)
    if end is not None:
        return rest[: end.start()].strip("\n")
    cut = rest.rfind("<")
    if cut != -1 and "</question>".startswith(rest[cut:].lower()):
        rest = rest[:cut]
    return rest.lstrip("\n")


def parse_classification(text: str) -> str:
    """The subcategory name in a classification answer ("" when there is none)."""
    found = _section(text, "subcategory")
    if found is None:
        found = text.strip().splitlines()[0] if text.strip() else ""
    return found.strip().strip("\"'` ").strip()


def parse_hint(text: str) -> dict[str, Any]:
    """The hint object, normalised to ``{item: {"ok": bool, "note": str}, "problems": [str]}``.
    Raises ValueError saying what is wrong."""
    body = text.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", body, flags=re.S)
    if fenced:
        body = fenced.group(1).strip()
    start, end = body.find("{"), body.rfind("}")
    if start == -1 or end <= start:
        raise ValueError("it is not a JSON object")
    try:
        data = json.loads(body[start : end + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"it is not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise ValueError("it is not a JSON object")
    out: dict[str, Any] = {}
    for item in HINT_ITEMS:
        value = data.get(item)
        if not isinstance(value, dict) or not isinstance(value.get("ok"), bool):
            raise ValueError(f'it has no "{item}" verdict')
        # JSON's \u escapes can spell what no column stores (NUL, lone surrogates).
        out[item] = {"ok": value["ok"], "note": clean(str(value.get("note") or ""))[:500]}
    problems = data.get("problems") or []
    if not isinstance(problems, list):
        problems = [problems]
    out["problems"] = [clean(str(p))[:300] for p in problems if str(p).strip()][:10]
    return out
