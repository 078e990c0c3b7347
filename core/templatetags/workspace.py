"""``{% workspace_nav campaign %}``: the curator workspace's navigation, on every workspace
page (entries registered by the apps through ``core.workspace``)."""

from typing import Any

from django import template
from django.urls import reverse

from core.workspace import NAV

register = template.Library()


@register.inclusion_tag("workspace/nav.html", takes_context=True)
def workspace_nav(context: Any, campaign: Any) -> dict[str, Any]:
    request = context.get("request")
    path = getattr(request, "path", "")
    urls = [(entry, reverse(entry.url_name, kwargs={"slug": campaign.slug})) for entry in NAV]
    # The current section is the entry whose page is the longest prefix of this page's path
    # (so /browse/rewrites/ is under Data, and /seeds/sample/ is Sampling, not Seeds).
    under = [url for _entry, url in urls if path.startswith(url)]
    current = max(under, key=len) if under else None
    links = [{"label": entry.label, "url": url, "current": url == current} for entry, url in urls]
    return {"campaign": campaign, "links": links}
