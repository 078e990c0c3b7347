"""The curator workspace's navigation, shown on every workspace page."""

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()

# (label, URL name): each app names its pages in its workspace_urls.
WORKSPACE_PAGES = [
    ("Dashboard", "dashboard-page"),
    ("Settings", "campaign-settings-page"),
    ("Guidelines", "guidelines-page"),
    ("People", "people-page"),
    ("Seeds", "seeds-page"),
    ("References", "references-page"),
    ("Answers", "answers-page"),
    ("Releases", "releases-page"),
]


@register.inclusion_tag("workspace/nav.html", takes_context=True)
def workspace_nav(context: Any, campaign: Any) -> dict[str, Any]:
    current = getattr(getattr(context.get("request"), "resolver_match", None), "url_name", None)
    links = []
    for label, name in WORKSPACE_PAGES:
        try:
            url = reverse(name, kwargs={"slug": campaign.slug})
        except NoReverseMatch:  # a page this deployment does not have
            continue
        links.append({"label": label, "url": url, "current": name == current})
    return {"campaign": campaign, "links": links}
