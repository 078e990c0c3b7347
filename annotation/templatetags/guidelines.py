"""``{% guidelines_unread_ids as unread %}``: the ids of the user's campaigns whose guidelines
changed since they last read them, for the home page's notice (two queries in all)."""

from typing import Any

from django import template

from ..selectors_campaigns import guidelines_unread_campaign_ids

register = template.Library()


@register.simple_tag(takes_context=True)
def guidelines_unread_ids(context: Any) -> set[int]:
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return set()
    return guidelines_unread_campaign_ids(user=user)
