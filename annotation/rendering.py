"""Markdown to safe HTML, for seeds (scraped web content: hostile), rewrites, guidelines and the
live preview. One renderer and one sanitizer for all of them:

1. markdown-it-py (CommonMark + tables) with raw HTML disabled, so ``<script>`` in the text is
   shown as text, and its link validation, which drops ``javascript:``/``data:`` links;
2. code fences highlighted server-side by Pygments (CSS classes, no inline styles);
3. nh3 (the ammonia sanitizer) on the result, with an allow-list of tags, attributes and URL
   schemes, as a second, independent layer. Images are not allowed (a scraped seed could track
   who reads it); their alt text stays. nh3 also gives every ``<pre>`` ``tabindex="0"`` (a
   block that scrolls must be reachable by keyboard); a ``tabindex`` in the input is dropped.

Seeds go through ``render_seed``: scraped questions often paste code without fences, which
Markdown folds into one paragraph, so runs of lines that look like code are fenced first
(``fence_unfenced_code``). Rewrites and guidelines are rendered as written, as Markdown renders
them elsewhere.
"""

import re
from functools import cache
from html import escape

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "li", "ol", "p", "pre", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "pre": {"class"},
    "span": {"class"},
}
# Table cells are aligned by class, not by a style attribute: the Content-Security-Policy allows
# no inline styles. markdown-it writes ``style="text-align:..."``; _sanitize turns it into one
# of these classes (static/css/app.css) before nh3 keeps only them.
ALIGN_CLASSES = {"align-left", "align-center", "align-right"}
_CELL_ALIGN = re.compile(r'<(td|th) style="text-align:(left|center|right)">')
_FORMATTER = HtmlFormatter(nowrap=True, classprefix="hl-")
_FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+#.-]+)", re.MULTILINE)


def _highlight(code: str, lang: str, _attrs: str) -> str:
    """A highlighted code block (markdown-it calls this for fences), or "" to let markdown-it
    escape the code itself when the language is unknown."""
    if not lang:
        return ""
    try:
        lexer = get_lexer_by_name(lang.strip().lower())
    except ClassNotFound:
        return ""
    body = highlight(code, lexer, _FORMATTER)
    return f'<pre class="highlight"><code class="language-{lexer.aliases[0]}">{body}</code></pre>'


def _image_as_link(self, tokens, idx, options, env) -> str:  # noqa: ANN001 - markdown-it API
    """An image becomes a link to it, labelled with its alt text: nothing loads by itself."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    src = token.attrGet("src") or ""
    return f'<a href="{escape(src)}">[image: {escape(alt)}]</a>'


@cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight}).enable("table")
    md.add_render_rule("image", _image_as_link)
    return md


def _sanitize(html: str) -> str:
    html = _CELL_ALIGN.sub(r'<\1 class="align-\2">', html)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes={"td": ALIGN_CLASSES, "th": ALIGN_CLASSES},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
        # Set by the sanitizer itself, whatever the input said: a code block that scrolls can
        # be reached and scrolled with the keyboard.
        set_tag_attribute_values={"pre": {"tabindex": "0"}},
    )


def render_markdown(text: str) -> str:
    """Safe HTML for ``text`` (markdown). Never raises on odd input."""
    if not text:
        return ""
    return _sanitize(_markdown().render(text))


def render_seed(text: str) -> str:
    """Safe HTML for a seed's text: ``render_markdown`` after ``fence_unfenced_code``, so code
    pasted without fences is shown preformatted. Same sanitizer, same allow-list."""
    if not text:
        return ""
    return render_markdown(fence_unfenced_code(text))


# --- code without fences ----------------------------------------------------------------------
# A line-by-line heuristic. Each line is "strong" (only code looks like that: ends with { or },
# or with ; next to code characters; opens with a closing bracket; an import, a definition, a
# declaration, an assignment, a call, a tag, a decorator), "weak" (fits inside code but proves
# nothing: indented, a comment, one short token, an item inside brackets left open), "prose" or
# blank. Markdown list items, quotes and table rows are prose, and so is a line mostly in a
# non-Latin script outside its strings (a sentence), unless indented or a comment. A run of
# strong and weak lines is fenced when, without the sentence that leads into it ("Fix this:
# int main() {") and a sign-off word after a blank line, it has at least MIN_CODE_LINES lines,
# MIN_STRONG_LINES of them strong, strong lines making at least STRONG_SHARE of it. Existing
# fences are left alone. Tuned on the Arena-Hard-Auto and InfiBench prompts (tests in
# tests/test_seed_display.py): 118 of the 1,385 get a block; all but a handful hold code, the
# rest data, LaTeX or formulas laid out line by line.
MIN_CODE_LINES = 3
MIN_STRONG_LINES = 2
STRONG_SHARE = 0.3

_FENCE_OPEN = re.compile(r"^\s*(`{3,}|~{3,})")
_MARKDOWN_BLOCK = re.compile(r"^\s*(?:[-*+]\s|\d{1,3}[.)]\s|>|\|)")
_TRAILING_COMMENT = re.compile(r"\s(?://|#)\s.*$")
_STRONG = re.compile(
    "|".join(
        [
            r"[{}]\s*$",  # block open or close (";" at the end: below, with more)
            r"^\s*[}\])]",  # closes a block or a call
            r"^\s*#\s*(?:include|define|ifn?def|endif|pragma|import)\b",  # preprocessor
            r"^#!/",  # shebang
            r"^\s*<\?php",
            r"^\s*<(?:!DOCTYPE\b|/?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>)",  # an HTML or XML tag
            r"^\s*@[A-Za-z_][\w.]*(?:\(.*\))?\s*$",  # a decorator or annotation
            # definitions: def f(, class A:, function f(, fn f(, struct S {, fun f(, func f(
            r"^\s*(?:(?:export|public|private|protected|static|async|pub|abstract|final)\s+)*"
            r"(?:def|class|function|fn|fun|func|struct|interface|enum|impl|trait)\s+[\w$<>]+"
            r".*[({:<]",
            # imports: import a.b, import a as b, from a import b, import {a} from "b"
            r"^\s*import\s+[\w.*]+(?:\s*,\s*[\w.*]+)*(?:\s+as\s+\w+)?;?\s*$",
            r"^\s*from\s+[\w.]+\s+import\s+\S",
            r"^\s*import\s+(?:\{[^}]*\}|\*\s+as\s+\w+|\w+)(?:\s*,\s*\{[^}]*\})?\s+from\s+['\"]",
            r"^\s*import\s+['\"]",
            r"^\s*(?:using|package)\s+(?:namespace\s+)?[\w.:]+\s*;?\s*$",
            # declarations: const x =, let [a, b] =, int f(, unsigned long x;
            r"^\s*(?:const|let|var|val|auto)\s+[\w$\[\]{}, ]+\s*[=:;]",
            r"^\s*(?:(?:unsigned|signed|static|const|public|private|protected|final|virtual|"
            r"inline|extern)\s+)*(?:void|int|char|float|double|bool|long|short|size_t|"
            r"u?int\d+_t)\b[\w\s*&<>,\[\]]*[\w\]]\s*[(=;]",
            # an assignment: x = 1, self.a[0] += 2, $hr = $null
            r"^\s*[A-Za-z_$][\w$]*(?:\.[\w$]+|\[[^\]]*\])*\s*(?:[-+*/%|&^]|\*\*|//|<<|>>|:)?="
            r"(?!=)\s*\S",
            # a call as a statement: print(x), await f(a), os.path.join(a, b);
            r"^\s*(?:await\s+|return\s+|yield\s+)?[A-Za-z_$][\w$]*(?:\.[\w$]+)*\(.*\)\s*;?\s*$",
            # a Python block header with a symbol in it: for i in range(3):, if x == 1:
            r"^\s*(?:if|elif|while|for|with|except)\b[^:]*[()\[\]=<>._][^:]*:\s*$",
            r"^\s*(?:else|try|finally)\s*:\s*$",
            r"^\s*return\b[^.!?]*$",
        ]
    )
)
_WEAK_COMMENT = re.compile(r"^\s*(?:#|//|/\*|\*/|--\s|%\s)")
_SENTENCE = re.compile(r"^\s*\S+(?:\s+\S+){7,}[.?!]\s*$")
# What leads into code without being code: five plain words first ("Can you fix this code:
# int main() {"), or a label ("Example:").
_LEAD_IN = re.compile(
    r"^\s*(?:(?!(?:from|import|using|return|raise|throw|yield|global|local|export|declare|select|"
    r"set|insert|update|delete|create|alter|with|case|echo|new|await|unsigned|signed|long|short|"
    r"static|public|private|protected|const|let|var)\b)(?:[^\W\d_]+[,:]?\s+){4}[^\W\d_]+[,:]?"
    r"(?:\s|$)|[^\W\d_a-z][^\W\d_]*:\s*$)",
    re.IGNORECASE,
)
_WORD = re.compile(
    r"^\s*(?![A-Za-z]+[.?!]\s*$)[!-~]{1,30}\s*$"
)  # one short ASCII token, not "Thanks."
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
_CODE_CHAR = re.compile(r"[=()\[\]{}<>\"'$.@+*/%&|!~^_-]")
_CONTINUED = re.compile(r"[,;:=()\[\]{}<>\"'$.@+*/%&|!~^_-]")
_INDENTED = re.compile(r"^(?: {2,}|\t)")


def _line_kind(line: str, *, depth: int, in_comment: bool) -> str:
    if not line.strip():
        return "blank"
    if in_comment:
        return "weak"
    if _MARKDOWN_BLOCK.match(line):
        return "prose"
    code = _TRAILING_COMMENT.sub("", line)
    letters = [c for c in _QUOTED.sub("", code) if c.isalpha()]
    if sum(not c.isascii() for c in letters) > len(letters) / 2:
        # Mostly non-Latin words outside strings and comments: a sentence, unless it is a
        # comment or indented (a docstring).
        return "weak" if _WEAK_COMMENT.match(line) or _INDENTED.match(line) else "prose"
    if len(line) < 400 and _STRONG.search(code):
        return "strong"
    if code.rstrip().endswith(";") and (
        _CODE_CHAR.search(code) or code.count(";") > 1 or len(code.split()) <= 3 > code.count(": ")
    ):
        return "strong"
    if _WEAK_COMMENT.match(line) or _INDENTED.match(line):
        return "weak"
    if _WORD.match(line):
        return "weak"  # else, end, BEGIN, a closing tag word
    if depth > 0 and _CONTINUED.search(line) and not _SENTENCE.match(line):
        return "weak"  # an argument or an item inside brackets left open
    return "prose"


def _bracket_depth(depth: int, line: str) -> int:
    for char in line:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
    return depth


def _fence(lines: list[str]) -> list[str]:
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *lines, fence]


def _fence_runs(lines: list[str]) -> list[str]:
    """``lines`` (no fences among them) with each run that looks like code fenced."""
    out: list[str] = []
    run: list[str] = []
    kinds: list[str] = []
    depth, in_comment = 0, False

    def flush() -> None:
        # A sentence or a label that leads into the code ("Fix this: int main() {") stays
        # outside the fence, and so do blank lines at either end.
        start, end = 0, len(run)
        while start < end and (kinds[start] == "blank" or _LEAD_IN.match(run[start])):
            start += 1
        while end > start and kinds[end - 1] == "blank":
            end -= 1
        # A last word after a blank line ("Thanks") is a sign-off, not code.
        tail = end
        while tail > start and kinds[tail - 1] == "weak" and _WORD.match(run[tail - 1]):
            tail -= 1
        if tail < end and tail > start and kinds[tail - 1] == "blank":
            end = tail
            while end > start and kinds[end - 1] == "blank":
                end -= 1
        body = [kind for kind in kinds[start:end] if kind != "blank"]
        strong = body.count("strong")
        is_code = (
            len(body) >= MIN_CODE_LINES
            and strong >= MIN_STRONG_LINES
            and strong >= STRONG_SHARE * len(body)
        )
        if is_code:
            out.extend([*run[:start], *_fence(run[start:end]), *run[end:]])
        else:
            out.extend(run)
        run.clear()
        kinds.clear()

    for line in lines:
        kind = _line_kind(line, depth=depth, in_comment=in_comment)
        if kind == "prose":
            flush()
            depth, in_comment = 0, False
            out.append(line)
            continue
        if kind == "blank" and not run:
            out.append(line)
            continue
        run.append(line)
        kinds.append(kind)
        if kind != "blank":
            depth = _bracket_depth(depth, line)
            opened, closed = line.rfind("/*"), line.rfind("*/")
            if opened > closed:
                in_comment = True  # its " * @param" lines are not a Markdown list
            elif closed >= 0:
                in_comment = False
    flush()
    return out


def fence_unfenced_code(text: str) -> str:
    """``text`` with every run of lines that looks like code (see above) and is not already in a
    fence wrapped in a plain fence (no language: nothing is guessed), longer than any backtick
    run inside it. Everything else is returned unchanged, line endings normalised to ``\\n``."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    pending: list[str] = []
    index = 0
    while index < len(lines):
        opened = _FENCE_OPEN.match(lines[index])
        if not opened:
            pending.append(lines[index])
            index += 1
            continue
        out.extend(_fence_runs(pending))
        pending = []
        marker = opened.group(1)
        close = re.compile(rf"^\s*{re.escape(marker[0])}{{{len(marker)},}}\s*$")
        end = index + 1
        while end < len(lines) and not close.match(lines[end]):
            end += 1
        out.extend(lines[index : end + 1])  # the fence as written (unclosed: to the end)
        index = end + 1
    out.extend(_fence_runs(pending))
    return "\n".join(out)


def fence_languages(text: str) -> list[str]:
    """The info strings of the code fences in ``text`` (``python``, ``ts``...), in order, once
    each: suggestions for the programming-language tags."""
    seen: dict[str, None] = {}
    for match in _FENCE.finditer(text or ""):
        seen.setdefault(match.group(2).lower(), None)
    return list(seen)


def highlight_css() -> str:
    """The text of static/css/highlight.css (a test checks they agree): Pygments' token colours
    for the ``hl-`` classes the renderer emits, and nothing else. Left out: the block rules
    (``pre``, ``.highlight`` background, line numbers: static/css/code.css draws every block) and
    the error token's red box (``hl-err`` marks what the lexer did not expect, such as JSX in a
    ``js`` block, not a mistake of the author)."""
    rules = [
        line
        for line in _FORMATTER.get_style_defs(".highlight").splitlines()
        if line.startswith(".highlight .hl-") and not line.startswith(".highlight .hl-err ")
    ]
    header = (
        "/* Pygments' default token colours for the hl- classes annotation/rendering.py emits.\n"
        "   Generated by annotation.rendering.highlight_css(); do not edit by hand. */"
    )
    return "\n".join([header, *rules]) + "\n"
