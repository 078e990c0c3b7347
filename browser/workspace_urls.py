"""The data browser's routes: ``pages`` are mounted at the site's root, ``api`` under /api/v1/
(see config/urls.py). The lists (``urls_browse``) and the item page (``urls_items``) keep
their own route lists."""

from django.urls import URLPattern, URLResolver

from . import urls_browse, urls_items

pages: list[URLPattern | URLResolver] = [*urls_browse.pages, *urls_items.pages]
api: list[URLPattern | URLResolver] = [*urls_browse.api, *urls_items.api]
# (position, label, URL name) of this part's pages in the workspace navigation (core.workspace).
nav: list[tuple[int, str, str]] = [*urls_browse.nav]
