"""Markdown to safe HTML, for seeds (scraped web content: hostile), rewrites, guidelines and the
live preview. One renderer and one sanitizer for all of them:

1. markdown-it-py (CommonMark + tables) with raw HTML disabled, so ``<script>`` in the text is
   shown as text, and its link validation, which drops ``javascript:``/``data:`` links;
2. code fences highlighted server-side by Pygments (CSS classes, no inline styles);
3. nh3 (the ammonia sanitizer) on the result, with an allow-list of tags, attributes and URL
   schemes, as a second, independent layer. Images are not allowed (a scraped seed could track
   who reads it); their alt text stays.
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
    )


def render_markdown(text: str) -> str:
    """Safe HTML for ``text`` (markdown). Never raises on odd input."""
    if not text:
        return ""
    return _sanitize(_markdown().render(text))


def fence_languages(text: str) -> list[str]:
    """The info strings of the code fences in ``text`` (``python``, ``ts``...), in order, once
    each: suggestions for the programming-language tags."""
    seen: dict[str, None] = {}
    for match in _FENCE.finditer(text or ""):
        seen.setdefault(match.group(2).lower(), None)
    return list(seen)


def highlight_css() -> str:  # used to generate static/css/highlight.css
    """Pygments' stylesheet for the ``hl-`` classes the renderer emits."""
    return _FORMATTER.get_style_defs(".highlight")
