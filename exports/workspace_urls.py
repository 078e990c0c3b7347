"""The curator workspace's routes of the exports app: ``pages`` are mounted at the site's root,
``api`` under /api/v1/ (see config/urls.py)."""

from django.urls import URLPattern, URLResolver, path

from . import api_answers, views_answers
from .api import ReleaseDownloadView

pages: list[URLPattern | URLResolver] = [
    path("campaigns/<slug:slug>/answers/", views_answers.answers_page, name="answers-page"),
]
api: list[URLPattern | URLResolver] = [
    path(
        "campaigns/<slug:slug>/responses/",
        api_answers.CampaignResponsesView.as_view(),
        name="response-coverage",
    ),
    path("releases/<int:pk>/download.zip", ReleaseDownloadView.as_view(), name="release-download"),
]
# (position, label, URL name) of this part's pages in the workspace navigation (core.workspace).
nav: list[tuple[int, str, str]] = [
    (70, "Answers", "answers-page"),
    (90, "Releases", "releases-page"),
]
