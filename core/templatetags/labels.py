"""``{{ value|label }}`` and ``{{ value|label:"vote_reason" }}``: an enum value in words
(``core.labels.label``); ``{{ values|labels|join:", " }}`` for a list of them."""

from typing import Any

from django import template

from core import labels as core_labels

register = template.Library()


@register.filter
def label(value: Any, choices: str | None = None) -> str:
    return core_labels.label(value, choices or None)


@register.filter
def labels(values: Any, choices: str | None = None) -> list[str]:
    if not values:
        return []
    return core_labels.labels(values, choices or None)
