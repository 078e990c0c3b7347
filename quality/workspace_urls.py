"""The curator workspace's routes of the quality app: ``pages`` are mounted at the site's root,
``api`` under /api/v1/ (see config/urls.py)."""

from django.urls import URLPattern, URLResolver, path

from . import api as quality_api
from . import views as quality_views

pages: list[URLPattern | URLResolver] = [
    path(
        "campaigns/<slug:slug>/references/",
        quality_views.references_page,
        name="references-page",
    ),
]
api: list[URLPattern | URLResolver] = [
    path(
        "campaigns/<slug:slug>/reference-sets/",
        quality_api.CampaignReferenceSetListView.as_view(),
        name="reference-set-list",
    ),
    path(
        "campaigns/<slug:slug>/reference-sets/available/",
        quality_api.ReferenceSetAvailableView.as_view(),
        name="reference-set-available",
    ),
    path(
        "campaigns/<slug:slug>/reference-sets/available/<str:name>/enable/",
        quality_api.ReferenceSetEnableView.as_view(),
        name="reference-set-enable",
    ),
]
# (position, label, URL name) of this part's pages in the workspace navigation (core.workspace).
nav: list[tuple[int, str, str]] = [(60, "References", "references-page")]
