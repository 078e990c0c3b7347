from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from core.errors import Conflict, ValidationFailed
from core.transitions import EventKind, event_record

from ..models import Campaign, Category, ProgrammingLanguage, Subcategory
from ..vocabulary import BUILTIN_TAXONOMIES, builtin_taxonomy

User = get_user_model()


@transaction.atomic
def campaign_create(
    *,
    slug: str,
    name: str,
    actor: Any = None,
    taxonomy: str | None = "codearena",
    panel_size: int = 4,
    accept_threshold: int = 3,
    guidelines: str = "",
    tokenizer: str | None = None,
    **options: Any,
) -> Campaign:
    """Create a campaign, optionally seeded with a built-in taxonomy and language list.

    Raises Conflict if the slug exists, ValidationFailed for an unknown taxonomy or a threshold
    that is not a strict majority of the panel."""
    errors: dict[str, list[str]] = {}
    if taxonomy is not None and taxonomy not in BUILTIN_TAXONOMIES:
        errors["taxonomy"] = [
            f"unknown taxonomy {taxonomy!r}; built-in: {sorted(BUILTIN_TAXONOMIES)}"
        ]
    if panel_size < 1:
        errors["panel_size"] = ["must be at least 1"]
    elif not (panel_size / 2 < accept_threshold <= panel_size):
        errors["accept_threshold"] = [
            f"must be a strict majority of the panel: more than {panel_size / 2:g} and at most "
            f"{panel_size}"
        ]
    if errors:
        raise ValidationFailed("The campaign settings are invalid.", details={"errors": errors})
    if Campaign.objects.filter(slug=slug).exists():
        raise Conflict(f"A campaign with slug {slug!r} already exists.")
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(
                slug=slug,
                name=name,
                guidelines=guidelines,
                panel_size=panel_size,
                accept_threshold=accept_threshold,
                tokenizer=tokenizer or settings.DEFAULT_TOKENIZER,
                **options,
            )
    except IntegrityError as exc:
        raise Conflict(f"A campaign with slug {slug!r} already exists.") from exc
    if taxonomy is not None:
        taxonomy_install(campaign=campaign, name=taxonomy)
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.CAMPAIGN_CREATED,
        obj=campaign,
        to_state="open",
        data={"taxonomy": taxonomy, "panel_size": panel_size, "accept_threshold": accept_threshold},
    )
    return campaign


def taxonomy_install(*, campaign: Campaign, name: str) -> None:
    """Copy built-in taxonomy ``name`` (categories, subcategories, languages) into the campaign."""
    data = builtin_taxonomy(name)
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
