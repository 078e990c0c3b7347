"""The one place that turns a stored enum value into the words people read.

Every ``TextChoices`` of the project (statuses, reasons, decisions, kinds, roles, event kinds)
is registered here under a short name by the app that defines it, in its ``AppConfig.ready``:
core sits below the apps and never imports them. Pages use the ``label`` template filter
(``core.templatetags.labels``), messages and documents call ``label()``::

    label("no_consensus")                      # "No consensus"
    label("rejected", Assignment.Status)       # "Seed rejected"
    label("rejected", "assignment_status")     # the same, by registered name
    {{ rewrite.status|label|lower }}

A value two enums word differently ("done": "Done" / "Imported") reads, without ``choices``,
as its plain words ("Done"). A value no enum knows is never shown raw either: underscores
become spaces and the first letter is capitalised ("not_a_value" -> "Not a value")."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

# registered name -> {value: label}
_BY_NAME: dict[str, dict[str, str]] = {}
# value -> every label the registered enums give it
_BY_VALUE: dict[str, set[str]] = {}
# enum class -> registered name
_NAME_OF: dict[type, str] = {}


def register(
    name: str, choices: type[models.Choices], *, labels: Mapping[str, str] | None = None
) -> None:
    """Make ``choices`` known as ``name``; ``labels`` overrides some of its labels (the event
    kinds' timeline wording). Registering the same name again replaces it (a reloaded app)."""
    words = {str(value): str(text) for value, text in choices.choices}
    words.update({str(value): str(text) for value, text in (labels or {}).items()})
    if name in _BY_NAME:
        _forget(name)
    _BY_NAME[name] = words
    _NAME_OF[choices] = name
    for value, text in words.items():
        _BY_VALUE.setdefault(value, set()).add(text)


def _forget(name: str) -> None:
    _BY_NAME.pop(name)
    _BY_VALUE.clear()
    for words in _BY_NAME.values():
        for value, text in words.items():
            _BY_VALUE.setdefault(value, set()).add(text)


def registered() -> dict[str, dict[str, str]]:
    """Every registered enum: {name: {value: label}} (a copy)."""
    return {name: dict(words) for name, words in _BY_NAME.items()}


def registered_classes() -> set[type]:
    return set(_NAME_OF)


def humanize(value: str) -> str:
    """The words of an unknown value: "not_self_contained" -> "Not self contained"."""
    text = value.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def label(value: Any, choices: type[models.Choices] | str | None = None) -> str:
    """The human label of ``value`` (an enum member or its stored value), from ``choices``
    (an enum class or a registered name) or from every registered enum. "" and None give ""."""
    if value is None or value == "":
        return ""
    key = str(value.value if isinstance(value, models.Choices) else value)
    if choices is not None:
        name = choices if isinstance(choices, str) else _NAME_OF.get(choices)
        words = _BY_NAME.get(name or "")
        if words is None and not isinstance(choices, str):
            words = {str(v): str(t) for v, t in choices.choices}
        if words is None:
            raise KeyError(f"no enum registered as {choices!r}")
        if key in words:
            return words[key]
        return humanize(key)
    found = _BY_VALUE.get(key)
    if found and len(found) == 1:
        return next(iter(found))
    return humanize(key)


def labels(values: Iterable[Any], choices: type[models.Choices] | str | None = None) -> list[str]:
    """``label`` of each value."""
    return [label(v, choices) for v in values]
