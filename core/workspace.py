"""The curator workspace's navigation: each app names its workspace pages (in its
``workspace_urls.nav``) and ``config/urls.py`` registers them here, so core links to every
app's pages without knowing any app."""

from dataclasses import dataclass


@dataclass(frozen=True)
class NavEntry:
    position: int  # order in the navigation, lowest first
    label: str
    url_name: str  # a page taking the campaign's ``slug``


NAV: list[NavEntry] = []


def register(entries: list[tuple[int, str, str]]) -> None:
    """Add (position, label, URL name) entries to the navigation, once each."""
    for position, label, url_name in entries:
        entry = NavEntry(position, label, url_name)
        if entry not in NAV:
            NAV.append(entry)
    NAV.sort(key=lambda e: (e.position, e.label))
