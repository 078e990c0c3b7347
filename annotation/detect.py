"""A natural-language suggestion for a question, from its writing system and, for Latin script,
its most common function words. A hint for the annotator, who confirms or changes it; code in
the text (fences and inline code) is ignored."""

import re
from collections import Counter

_CODE = re.compile(r"```.*?(```|$)|~~~.*?(~~~|$)|`[^`\n]*`", re.DOTALL)
_WORD = re.compile(r"[^\W\d_]+")
# The most frequent short function words of each language, none shared between two of them.
_STOPWORDS = {
    "en": {"the", "and", "is", "of", "to", "in", "that", "it", "with", "how", "what", "this"},
    "es": {"el", "los", "las", "del", "que", "es", "por", "para", "una", "cómo", "con", "este"},
    "fr": {"le", "les", "des", "est", "et", "une", "pour", "dans", "qui", "comment", "avec"},
    "de": {"der", "die", "das", "und", "ist", "nicht", "mit", "ein", "eine", "wie", "ich"},
    "pt": {"o", "os", "não", "uma", "em", "com", "como", "para", "um", "do", "da", "você"},
    "it": {"il", "gli", "che", "è", "di", "per", "una", "come", "non", "sono", "con"},
}
_SCRIPTS = [
    ("ja", re.compile(r"[\u3040-\u30ff]")),  # kana: Japanese even among Han characters
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
]


def guess_natural_language(text: str) -> str | None:
    """An ISO 639-1 code, or None when the text gives too little to go on."""
    prose = _CODE.sub(" ", text or "")
    letters = sum(1 for ch in prose if ch.isalpha())
    if letters < 8:
        return None
    for code, pattern in _SCRIPTS:
        if len(pattern.findall(prose)) >= max(3, letters // 10):
            return code
    words = Counter(w.casefold() for w in _WORD.findall(prose))
    scores = {code: sum(words[w] for w in stop) for code, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda code: (scores[code], code == "en"))
    return best if scores[best] else "en"
