"""Workspace routes of the annotation app: campaigns (new, settings, model assistance) and
guidelines."""

from django.urls import URLPattern, URLResolver, path

from . import api_campaigns, views_campaigns

pages: list[URLPattern | URLResolver] = [
    path("campaigns/new/", views_campaigns.campaign_new_page, name="campaign-new-page"),
    path(
        "campaigns/<slug:slug>/settings/",
        views_campaigns.campaign_settings_page,
        name="campaign-settings-page",
    ),
    path(
        "campaigns/<slug:slug>/guidelines/",
        views_campaigns.guidelines_page,
        name="guidelines-page",
    ),
    path(
        "campaigns/<slug:slug>/guidelines/versions/<int:number>/",
        views_campaigns.guidelines_version_page,
        name="guidelines-version-page",
    ),
]
api: list[URLPattern | URLResolver] = [
    path("campaigns/create/", api_campaigns.CampaignCreateView.as_view(), name="campaign-create"),
    path(
        "campaigns/<slug:slug>/settings/",
        api_campaigns.CampaignSettingsView.as_view(),
        name="campaign-settings",
    ),
    path(
        "campaigns/<slug:slug>/guidelines/",
        api_campaigns.GuidelinesView.as_view(),
        name="guidelines",
    ),
    path(
        "campaigns/<slug:slug>/guidelines/versions/",
        api_campaigns.GuidelinesVersionListView.as_view(),
        name="guidelines-versions",
    ),
    path(
        "campaigns/<slug:slug>/guidelines/versions/<int:number>/",
        api_campaigns.GuidelinesVersionView.as_view(),
        name="guidelines-version",
    ),
    path(
        "campaigns/<slug:slug>/guidelines/read/",
        api_campaigns.GuidelinesReadView.as_view(),
        name="guidelines-read",
    ),
    path(
        "campaigns/<slug:slug>/assist/",
        api_campaigns.AssistSettingsView.as_view(),
        name="assist-settings",
    ),
    path(
        "campaigns/<slug:slug>/assist/prompts/",
        api_campaigns.AssistPromptsView.as_view(),
        name="assist-prompts",
    ),
    path(
        "campaigns/<slug:slug>/assist/usage/",
        api_campaigns.AssistUsageView.as_view(),
        name="assist-usage",
    ),
    path(
        "campaigns/<slug:slug>/assist/test/",
        api_campaigns.AssistTestView.as_view(),
        name="assist-test",
    ),
]
# (position, label, URL name) of this part's pages in the workspace navigation (core.workspace).
nav: list[tuple[int, str, str]] = [
    (20, "Settings", "campaign-settings-page"),
    (30, "Guidelines", "guidelines-page"),
]
