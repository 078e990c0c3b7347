"""The curator workspace's routes of the annotation app: ``pages`` are mounted at the site's
root, ``api`` under /api/v1/ (see config/urls.py)."""

from django.urls import URLPattern, URLResolver

from . import urls_campaigns, urls_seeds

pages: list[URLPattern | URLResolver] = [*urls_campaigns.pages, *urls_seeds.pages]
api: list[URLPattern | URLResolver] = [*urls_campaigns.api, *urls_seeds.api]
nav: list[tuple[int, str, str]] = [*urls_campaigns.nav, *urls_seeds.nav]
