"""A campaign's vocabulary (taxonomy, programming languages, natural languages) and the rules
for turning the names people type into rows: full or short names, any case, common aliases."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pycountry

from .models import Campaign, Category, ProgrammingLanguage, Subcategory

BUILTIN_TAXONOMIES = {"codearena": Path(__file__).parent / "data" / "codearena_taxonomy.json"}


@cache
def builtin_taxonomy(name: str) -> dict:
    """The built-in taxonomy ``name`` as loaded from its JSON file; KeyError if unknown."""
    return json.loads(BUILTIN_TAXONOMIES[name].read_text(encoding="utf-8"))


def _key(value: str) -> str:
    return re.sub(r"\s+", " ", value.strip()).casefold()


def natural_language_code(value: str) -> str | None:
    """The ISO 639 code for ``value`` (a code such as ``en``/``eng`` or an English name such as
    ``Chinese``), lower-case, two letters where one exists; None if it is not a language."""
    text = value.strip()
    if not text:
        return None
    base = re.split(r"[-_]", text, maxsplit=1)[0]
    lang = None
    if len(base) == 2:
        lang = pycountry.languages.get(alpha_2=base.lower())
    elif len(base) == 3:
        lang = pycountry.languages.get(alpha_3=base.lower())
    if lang is None:
        try:
            lang = pycountry.languages.lookup(text)
        except LookupError:
            return None
    return (getattr(lang, "alpha_2", None) or lang.alpha_3).lower()


@dataclass
class Vocabulary:
    """Lookup tables for one campaign, built with three queries."""

    campaign: Campaign
    subcategories: dict[str, Subcategory] = field(default_factory=dict)
    categories: dict[str, Category] = field(default_factory=dict)
    languages: dict[str, ProgrammingLanguage] = field(default_factory=dict)

    @classmethod
    def for_campaign(cls, campaign: Campaign) -> Vocabulary:
        vocab = cls(campaign=campaign)
        for cat in Category.objects.filter(campaign=campaign):
            vocab.categories.setdefault(_key(cat.name), cat)
            if cat.short_name:
                vocab.categories.setdefault(_key(cat.short_name), cat)
        for sub in Subcategory.objects.filter(campaign=campaign).select_related("category"):
            vocab.subcategories.setdefault(_key(sub.name), sub)
        # Short names only where they do not shadow a full name.
        for sub in list(vocab.subcategories.values()):
            if sub.short_name:
                vocab.subcategories.setdefault(_key(sub.short_name), sub)
        for lang in ProgrammingLanguage.objects.filter(campaign=campaign):
            vocab.languages.setdefault(_key(lang.name), lang)
        for lang in ProgrammingLanguage.objects.filter(campaign=campaign):
            for alias in lang.aliases:
                vocab.languages.setdefault(_key(alias), lang)
        return vocab

    def subcategory(self, name: str) -> Subcategory | None:
        return self.subcategories.get(_key(name))

    def category(self, name: str) -> Category | None:
        return self.categories.get(_key(name))

    def language(self, name: str) -> ProgrammingLanguage | None:
        return self.languages.get(_key(name))
