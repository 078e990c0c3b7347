"""The curator workspace's routes of the exports app: ``pages`` are mounted at the site's root,
``api`` under /api/v1/ (see config/urls.py)."""

from django.urls import URLPattern, URLResolver

pages: list[URLPattern | URLResolver] = []
api: list[URLPattern | URLResolver] = []
# (position, label, URL name) of this part's pages in the workspace navigation (core.workspace).
nav: list[tuple[int, str, str]] = [(90, "Releases", "releases-page")]
