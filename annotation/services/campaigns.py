"""Campaigns: create one (with its taxonomy, its first curator and its first guidelines
version), change its settings, and the operator's grant of the permission to create them."""

import json
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction

from core import access
from core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from core.transitions import EventKind, event_record

from ..models import (
    Campaign,
    Category,
    GuidelinesVersion,
    Membership,
    ProgrammingLanguage,
    Rewrite,
    Role,
    Subcategory,
)
from ..tokens import encoding
from ..vocabulary import BUILTIN_TAXONOMIES, builtin_taxonomy

User = get_user_model()

CREATE_PERMISSION = "annotation.create_campaign"
# Page routes under /campaigns/ that a slug would shadow.
RESERVED_SLUGS = frozenset({"new", "create"})
SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+$")
TAXONOMY_MAX_BYTES = 1_000_000
# Settings a curator may change after creation (the contamination n-gram and the similarity
# thresholds belong to quality's services).
EDITABLE_SETTINGS = (
    "name",
    "panel_size",
    "accept_threshold",
    "target_release_size",
    "lease_minutes",
    "max_active_assignments",
    "early_decision",
    "curator_may_accept",
    "tokenizer",
)
MAX_PANEL_SIZE = 50
MAX_LEASE_MINUTES = 366 * 24 * 60

Errors = dict[str, list[str]]


def tokenizer_problem(name: str) -> str | None:
    """Why tiktoken cannot load encoding (or model) ``name`` on this machine, or None when it
    can. Offline, only the encodings cached in TIKTOKEN_CACHE_DIR load."""
    if not name or not name.strip():
        return "must not be empty"
    try:
        encoding(name)
    except Exception as exc:  # noqa: BLE001 - unknown name, no network, bad cache: all "no"
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return (
            f"tiktoken cannot load {name!r} here ({type(exc).__name__}: {reason}); use an "
            "encoding such as o200k_base or cl100k_base"
        )
    return None


def _check_numbers(values: Mapping[str, Any], errors: Errors) -> None:
    """Range checks of the numeric settings present in ``values`` (panel and threshold are
    checked together by ``_check_panel``)."""
    size = values.get("target_release_size")
    if "target_release_size" in values and (not isinstance(size, int) or size < 1):
        errors.setdefault("target_release_size", []).append("must be a whole number, at least 1")
    lease = values.get("lease_minutes")
    if "lease_minutes" in values and (
        not isinstance(lease, int) or not 1 <= lease <= MAX_LEASE_MINUTES
    ):
        errors.setdefault("lease_minutes", []).append(
            f"must be a whole number of minutes from 1 to {MAX_LEASE_MINUTES}"
        )
    cap = values.get("max_active_assignments")
    if cap is not None and (not isinstance(cap, int) or cap < 1):
        errors.setdefault("max_active_assignments", []).append(
            "must be at least 1, or empty for no cap"
        )


def _check_panel(panel_size: Any, accept_threshold: Any, errors: Errors) -> None:
    if not isinstance(panel_size, int) or not 1 <= panel_size <= MAX_PANEL_SIZE:
        errors.setdefault("panel_size", []).append(f"must be from 1 to {MAX_PANEL_SIZE}")
    elif not isinstance(accept_threshold, int) or not (
        panel_size / 2 < accept_threshold <= panel_size
    ):
        errors.setdefault("accept_threshold", []).append(
            f"must be a strict majority of the panel: more than {panel_size / 2:g} and at most "
            f"{panel_size}"
        )


def _check_slug(slug: str, errors: Errors) -> None:
    if not slug or len(slug) > 64 or not SLUG_RE.match(slug):
        errors.setdefault("slug", []).append("use 1 to 64 letters, digits, hyphens or underscores")
    elif slug.lower() in RESERVED_SLUGS:
        errors.setdefault("slug", []).append(
            f"{slug!r} is reserved (a page's address); choose another"
        )


def _check_name(name: str, errors: Errors) -> None:
    if not isinstance(name, str) or not name.strip():
        errors.setdefault("name", []).append("must not be empty")
    elif len(name) > 200:
        errors.setdefault("name", []).append("at most 200 characters")


TAXONOMY_LIMITS = {"categories": 200, "subcategories": 2000, "programming_languages": 1000}
_ITEM_FIELDS = {
    "categories": {"name": 200, "short_name": 100},
    "subcategories": {"name": 200, "short_name": 100, "category": 200},
    "programming_languages": {"name": 64},
}
_REQUIRED = {
    "categories": ("name",),
    "subcategories": ("name", "category"),
    "programming_languages": ("name", "aliases"),
}


def _text_field(
    item: Mapping[str, Any], key: str, where: str, limit: int, required: bool, problems: list[str]
) -> str | None:
    if key not in item:
        if required:
            problems.append(f"{where}: '{key}' is missing")
        return None
    value = item[key]
    if not isinstance(value, str):
        problems.append(f"{where}.{key}: must be a string, not {type(value).__name__}")
        return None
    if required and not value.strip():
        problems.append(f"{where}.{key}: must not be empty")
        return None
    if len(value) > limit:
        problems.append(f"{where}.{key}: at most {limit} characters")
        return None
    return value.strip()


def _unique(name: str, seen: dict[str, str], where: str, what: str, problems: list[str]) -> None:
    key = " ".join(name.split()).casefold()
    if key in seen:
        problems.append(f"{where}.name: {what} {name!r} is already {seen[key]}")
    else:
        seen[key] = where


def taxonomy_parse(raw: bytes | str) -> dict[str, Any]:
    """An uploaded taxonomy file (JSON, UTF-8) as a validated taxonomy (``taxonomy_validate``).

    Raises ValidationFailed naming the field ``taxonomy`` with every problem found."""
    if len(raw) > TAXONOMY_MAX_BYTES:
        raise _taxonomy_invalid([f"the file is larger than {TAXONOMY_MAX_BYTES:,} bytes"])
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(text)
    except UnicodeDecodeError as exc:
        raise _taxonomy_invalid(
            [f"the file is not UTF-8 ({exc.reason} at byte {exc.start})"]
        ) from exc
    except json.JSONDecodeError as exc:
        raise _taxonomy_invalid(
            [f"the file is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"]
        ) from exc
    except (RecursionError, ValueError) as exc:  # nested too deeply, or a number too long
        raise _taxonomy_invalid(
            ["the file is not a taxonomy: its JSON is nested too deeply"]
        ) from exc
    return taxonomy_validate(data)


def _taxonomy_invalid(problems: list[str]) -> ValidationFailed:
    return ValidationFailed(
        f"The taxonomy is invalid ({len(problems)} problem{'s' if len(problems) != 1 else ''}).",
        details={"errors": {"taxonomy": problems}},
    )


def taxonomy_validate(data: Any) -> dict[str, Any]:
    """Check a taxonomy in the shape of the built-in one (annotation/data/codearena_taxonomy.json):
    ``categories`` [{name, short_name?}], ``subcategories`` [{name, short_name?, category}] with
    ``category`` naming one of the categories, ``programming_languages`` [{name, aliases: [str]}];
    names unique (ignoring case and spacing) within each list, an alias used by one language only.
    Returns the taxonomy with names stripped.

    Raises ValidationFailed naming the field ``taxonomy`` with every problem, each with where it
    is (``subcategories[3].category``)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise _taxonomy_invalid([f"must be a JSON object, not {type(data).__name__}"])
    known = {"name", "source", *_ITEM_FIELDS}
    problems += [f"unknown field {key!r}" for key in sorted(set(data) - known)]
    for key in ("name", "source"):
        if key in data and not isinstance(data[key], str):
            problems.append(f"{key}: must be a string")
    out: dict[str, Any] = {"name": data.get("name") if isinstance(data.get("name"), str) else ""}
    named: dict[str, list[tuple[int, dict[str, Any]]]] = {section: [] for section in _ITEM_FIELDS}
    for section, fields in _ITEM_FIELDS.items():
        items = data.get(section)
        out[section] = []
        if section not in data:
            problems.append(f"'{section}' is missing")
            continue
        if not isinstance(items, list):
            problems.append(f"{section}: must be a list")
            continue
        if section != "programming_languages" and not items:
            problems.append(f"{section}: must not be empty")
        if len(items) > TAXONOMY_LIMITS[section]:
            problems.append(f"{section}: at most {TAXONOMY_LIMITS[section]} entries")
            continue
        allowed = {*fields, "aliases"} if section == "programming_languages" else set(fields)
        for i, item in enumerate(items):
            where = f"{section}[{i}]"
            if not isinstance(item, dict):
                problems.append(f"{where}: must be an object")
                out[section].append(None)
                continue
            problems += [f"{where}: unknown field {k!r}" for k in sorted(set(item) - allowed)]
            row: dict[str, Any] = {}
            ok = True
            for key, limit in fields.items():
                value = _text_field(item, key, where, limit, key in _REQUIRED[section], problems)
                if value is None and key in _REQUIRED[section]:
                    ok = False
                row[key] = value or ""
            if section == "programming_languages":
                aliases = item.get("aliases")
                if "aliases" not in item:
                    problems.append(f"{where}: 'aliases' is missing (a list, possibly empty)")
                    ok = False
                elif not isinstance(aliases, list) or not all(
                    isinstance(a, str) and a.strip() and len(a) <= 64 for a in aliases
                ):
                    problems.append(f"{where}.aliases: must be a list of non-empty strings")
                    ok = False
                else:
                    row["aliases"] = [a.strip() for a in aliases]
            out[section].append(row if ok else None)
            if row.get("name"):
                named[section].append((i, row))
    # Uniqueness and references, over every entry whose name is well formed.
    categories: dict[str, str] = {}
    for i, row in named["categories"]:
        _unique(row["name"], categories, f"categories[{i}]", "category", problems)
    category_names = {row["name"] for _, row in named["categories"]}
    subcategories: dict[str, str] = {}
    for i, row in named["subcategories"]:
        _unique(row["name"], subcategories, f"subcategories[{i}]", "subcategory", problems)
        if row["category"] and row["category"] not in category_names:
            problems.append(
                f"subcategories[{i}].category: {row['category']!r} is not one of the categories"
            )
    names: dict[str, str] = {}
    for i, row in named["programming_languages"]:
        _unique(row["name"], names, f"programming_languages[{i}]", "language", problems)
    alias_seen: dict[str, str] = {}
    for i, row in named["programming_languages"]:
        for alias in row.get("aliases", []):
            key = " ".join(alias.split()).casefold()
            where = f"programming_languages[{i}].aliases"
            if key in names and names[key] != f"programming_languages[{i}]":
                problems.append(f"{where}: {alias!r} is the name of {names[key]}")
            elif key in alias_seen and alias_seen[key] != where:
                problems.append(f"{where}: {alias!r} is already an alias in {alias_seen[key]}")
            else:
                alias_seen.setdefault(key, where)
    if problems:
        raise _taxonomy_invalid(problems)
    return out


@transaction.atomic
def campaign_create(
    *,
    slug: str,
    name: str,
    actor: Any = None,
    taxonomy: str | Mapping[str, Any] | bytes | None = "codearena",
    panel_size: int = 4,
    accept_threshold: int = 3,
    guidelines: str = "",
    tokenizer: str | None = None,
    target_release_size: int = 397,
    lease_minutes: int = 24 * 60,
    max_active_assignments: int | None = None,
    early_decision: bool = False,
    **options: Any,
) -> Campaign:
    """Create a campaign with a taxonomy: a built-in one by name, a taxonomy dict in the
    built-in's shape (``taxonomy_validate``), the bytes of an uploaded taxonomy JSON file
    (``taxonomy_parse``), or None for an empty one.

    With an ``actor`` (the browser and the API) the actor needs the ``create_campaign``
    permission and becomes the campaign's first curator; commands pass none (the operator).
    Non-empty ``guidelines`` become guidelines version 1.

    Raises NotAllowed (no permission), ValidationFailed naming every bad field (slug, name,
    taxonomy with each of its problems, panel, threshold, tokenizer, sizes), Conflict (the slug
    exists). Nothing is written unless everything is valid."""
    if actor is not None and not actor.has_perm(CREATE_PERMISSION):
        raise NotAllowed(
            "Creating a campaign needs the 'create campaign' permission; ask an operator "
            "(manage.py grant_create_campaign USERNAME)."
        )
    errors: Errors = {}
    _check_slug(slug, errors)
    _check_name(name, errors)
    installed: dict[str, Any] | None = None
    taxonomy_name: str | None = None
    if isinstance(taxonomy, str):
        if taxonomy not in BUILTIN_TAXONOMIES:
            errors["taxonomy"] = [
                f"unknown taxonomy {taxonomy!r}; built-in: {sorted(BUILTIN_TAXONOMIES)}"
            ]
        else:
            installed, taxonomy_name = builtin_taxonomy(taxonomy), taxonomy
    elif taxonomy is not None:
        try:
            if isinstance(taxonomy, bytes):
                installed = taxonomy_parse(taxonomy)
            else:
                installed = taxonomy_validate(taxonomy)
        except ValidationFailed as exc:
            errors.update(exc.details["errors"])
        else:
            taxonomy_name = installed["name"] or "uploaded"
    _check_panel(panel_size, accept_threshold, errors)
    _check_numbers(
        {
            "target_release_size": target_release_size,
            "lease_minutes": lease_minutes,
            "max_active_assignments": max_active_assignments,
        },
        errors,
    )
    tokenizer = tokenizer or settings.DEFAULT_TOKENIZER
    problem = tokenizer_problem(tokenizer)
    if problem:
        errors["tokenizer"] = [problem]
    if errors:
        raise ValidationFailed("The campaign settings are invalid.", details={"errors": errors})
    if Campaign.objects.filter(slug=slug).exists():
        raise Conflict(f"A campaign with slug {slug!r} already exists.")
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(
                slug=slug,
                name=name.strip(),
                guidelines=_normalize(guidelines),
                panel_size=panel_size,
                accept_threshold=accept_threshold,
                tokenizer=tokenizer,
                target_release_size=target_release_size,
                lease_minutes=lease_minutes,
                max_active_assignments=max_active_assignments,
                early_decision=early_decision,
                **options,
            )
    except IntegrityError as exc:
        raise Conflict(f"A campaign with slug {slug!r} already exists.") from exc
    if installed is not None:
        _taxonomy_write(campaign=campaign, data=installed)
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.CAMPAIGN_CREATED,
        obj=campaign,
        to_state="open",
        data={
            "taxonomy": taxonomy_name,
            "panel_size": panel_size,
            "accept_threshold": accept_threshold,
            "tokenizer": tokenizer,
        },
    )
    if campaign.guidelines:
        GuidelinesVersion.objects.create(
            campaign=campaign, number=1, text=campaign.guidelines, author=_user_or_none(actor)
        )
    if actor is not None:
        membership = Membership.objects.create(campaign=campaign, user=actor, role=Role.CURATOR)
        access.forget(actor.pk)
        event_record(
            campaign=campaign,
            actor=actor,
            kind=EventKind.MEMBERSHIP_ADDED,
            obj=membership,
            to_state=Role.CURATOR,
            data={"user": actor.get_username(), "reason": "created the campaign"},
        )
    return campaign


def _normalize(text: str) -> str:
    """Browsers send textareas with CRLF line ends: store LF only."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _user_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def taxonomy_install(*, campaign: Campaign, name: str) -> None:
    """Copy built-in taxonomy ``name`` (categories, subcategories, languages) into the campaign."""
    _taxonomy_write(campaign=campaign, data=builtin_taxonomy(name))


def _taxonomy_write(*, campaign: Campaign, data: Mapping[str, Any]) -> None:
    categories = Category.objects.bulk_create(
        Category(campaign=campaign, name=c["name"], short_name=c["short_name"], position=i)
        for i, c in enumerate(data["categories"])
    )
    by_name = {c.name: c for c in categories}
    Subcategory.objects.bulk_create(
        Subcategory(
            campaign=campaign,
            category=by_name[s["category"]],
            name=s["name"],
            short_name=s["short_name"],
            position=i,
        )
        for i, s in enumerate(data["subcategories"])
    )
    ProgrammingLanguage.objects.bulk_create(
        ProgrammingLanguage(
            campaign=campaign, name=lang["name"], aliases=lang["aliases"], position=i
        )
        for i, lang in enumerate(data["programming_languages"])
    )


def campaign_tokenizer_locked(campaign: Campaign) -> bool:
    """Whether a rewrite of ``campaign`` has been submitted: its token count was measured with
    the campaign's tokenizer, so changing it would mix two measures in one release."""
    return Rewrite.objects.filter(campaign=campaign).exclude(status=Rewrite.Status.DRAFT).exists()


@transaction.atomic
def campaign_settings_update(*, campaign: Campaign, actor: Any, **changes: Any) -> Campaign:
    """Change settings of ``campaign`` (curators only): any of ``EDITABLE_SETTINGS``. A new
    panel size or threshold applies to panels opened afterwards; the tokenizer can change only
    while no rewrite has been submitted. Unchanged values are ignored; with nothing changed
    nothing is written. Locks the campaign row; writes one CAMPAIGN_SETTINGS_CHANGED event with
    ``from``/``to`` of each changed field.

    Raises NotFound / NotAllowed (not a curator), ValidationFailed naming every bad field
    (unknown fields too), Conflict (the tokenizer after a submit)."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    errors: Errors = {}
    for key in sorted(set(changes) - set(EDITABLE_SETTINGS)):
        errors[key] = ["not a setting that can be changed here"]
    locked = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
    wanted = {
        key: value
        for key, value in changes.items()
        if key in EDITABLE_SETTINGS and getattr(locked, key) != value
    }
    if "name" in wanted:
        _check_name(wanted["name"], errors)
        if "name" not in errors:
            wanted["name"] = wanted["name"].strip()
    if "panel_size" in wanted or "accept_threshold" in wanted:
        _check_panel(
            wanted.get("panel_size", locked.panel_size),
            wanted.get("accept_threshold", locked.accept_threshold),
            errors,
        )
    _check_numbers(wanted, errors)
    for flag in ("early_decision", "curator_may_accept"):
        if flag in wanted and not isinstance(wanted[flag], bool):
            errors[flag] = ["must be true or false"]
    if "tokenizer" in wanted:
        problem = tokenizer_problem(wanted["tokenizer"])
        if problem:
            errors["tokenizer"] = [problem]
    if errors:
        raise ValidationFailed("The campaign settings are invalid.", details={"errors": errors})
    if "tokenizer" in wanted and campaign_tokenizer_locked(locked):
        raise Conflict(
            "The tokenizer cannot change any more: rewrites have been submitted and their "
            f"question tokens were counted with {locked.tokenizer!r}.",
            details={"errors": {"tokenizer": ["locked after the first submitted rewrite"]}},
        )
    wanted = {key: value for key, value in wanted.items() if getattr(locked, key) != value}
    if not wanted:
        return locked
    changed = {key: {"from": getattr(locked, key), "to": value} for key, value in wanted.items()}
    for key, value in wanted.items():
        setattr(locked, key, value)
    locked.save(update_fields=list(wanted))
    event_record(
        campaign=locked,
        actor=actor,
        kind=EventKind.CAMPAIGN_SETTINGS_CHANGED,
        obj=locked,
        data={"changes": changed},
    )
    for key, value in wanted.items():
        setattr(campaign, key, value)
    return locked


@transaction.atomic
def campaign_creator_grant(*, username: str, revoke: bool = False) -> Any:
    """Give ``username`` the ``create_campaign`` permission (or take it away with ``revoke``);
    an operator's step (a command or the admin), idempotent. Returns the user.

    Raises NotFound for an unknown username."""
    user = User.objects.select_for_update(no_key=True).filter(username=username).first()
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    app_label, codename = CREATE_PERMISSION.split(".")
    permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
    if revoke:
        user.user_permissions.remove(permission)
    else:
        user.user_permissions.add(permission)
    return user


@transaction.atomic
def user_ensure(*, username: str, email: str = "", password: str | None = None) -> Any:
    """Return the user ``username``, creating it (with ``password``) if it does not exist; an
    existing user's password is changed only when one is given."""
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    changed = []
    if email and user.email != email:
        user.email = email
        changed.append("email")
    if password is not None:
        user.set_password(password)
        changed.append("password")
    elif created:
        user.set_unusable_password()
        changed.append("password")
    if changed:
        user.save(update_fields=changed)
    return user
