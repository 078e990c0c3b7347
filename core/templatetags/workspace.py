"""``{% workspace_nav campaign %}``: the curator workspace's navigation, on every workspace
page (entries registered by the apps through ``core.workspace``)."""

from typing import Any

from django import template
from django.urls import reverse

from core.workspace import NAV

register = template.Library()


@register.inclusion_tag("workspace/nav.html", takes_context=True)
def workspace_nav(context: Any, campaign: Any) -> dict[str, Any]:
    match = getattr(context.get("request"), "resolver_match", None)
    current = getattr(match, "url_name", None)
    links = [
        {
            "label": entry.label,
            "url": reverse(entry.url_name, kwargs={"slug": campaign.slug}),
            "current": entry.url_name == current,
        }
        for entry in NAV
    ]
    return {"campaign": campaign, "links": links}
