"""Workspace routes of the annotation app: seeds (uploads and imports, sampling, dealing)."""

from django.urls import URLPattern, URLResolver, path

from . import api_seeds, views_seeds

pages: list[URLPattern | URLResolver] = [
    path("campaigns/<slug:slug>/seeds/", views_seeds.seeds_page, name="seeds-page"),
    path(
        "campaigns/<slug:slug>/seeds/sample/",
        views_seeds.seeds_sample_page,
        name="seeds-sample-page",
    ),
    path("campaigns/<slug:slug>/seeds/deal/", views_seeds.seeds_deal_page, name="seeds-deal-page"),
    path("seed-imports/<int:pk>/", views_seeds.seed_import_page, name="seed-import-page"),
    path(
        "campaigns/<slug:slug>/seeds/classification/",
        views_seeds.seeds_classify_page,
        name="seeds-classify-page",
    ),
]
api: list[URLPattern | URLResolver] = [
    path(
        "campaigns/<slug:slug>/seed-imports/",
        api_seeds.CampaignSeedImportListView.as_view(),
        name="seed-import-list",
    ),
    path(
        "seed-imports/<int:pk>/",
        api_seeds.SeedImportDetailView.as_view(),
        name="seed-import-detail",
    ),
    path(
        "seed-imports/<int:pk>/confirm/",
        api_seeds.SeedImportConfirmView.as_view(),
        name="seed-import-confirm",
    ),
    path(
        "seed-imports/<int:pk>/discard/",
        api_seeds.SeedImportDiscardView.as_view(),
        name="seed-import-discard",
    ),
    path(
        "campaigns/<slug:slug>/sampling/preview/",
        api_seeds.SamplingPreviewView.as_view(),
        name="sampling-preview",
    ),
    path("campaigns/<slug:slug>/sampling/", api_seeds.SamplingView.as_view(), name="sampling"),
    path(
        "campaigns/<slug:slug>/dealing/preview/",
        api_seeds.DealingPreviewView.as_view(),
        name="dealing-preview",
    ),
    path("campaigns/<slug:slug>/dealing/", api_seeds.DealingView.as_view(), name="dealing"),
    path(
        "campaigns/<slug:slug>/seed-classifications/",
        api_seeds.CampaignSeedClassificationListView.as_view(),
        name="seed-classification-list",
    ),
    path(
        "seed-classifications/<int:pk>/",
        api_seeds.SeedClassificationDetailView.as_view(),
        name="seed-classification-detail",
    ),
    path(
        "campaigns/<slug:slug>/seed-suggestions/",
        api_seeds.CampaignSeedSuggestionListView.as_view(),
        name="seed-suggestion-list",
    ),
    path(
        "campaigns/<slug:slug>/seed-suggestions/accept/",
        api_seeds.SeedSuggestionAcceptView.as_view(),
        name="seed-suggestion-accept",
    ),
    path(
        "campaigns/<slug:slug>/seed-suggestions/dismiss/",
        api_seeds.SeedSuggestionDismissView.as_view(),
        name="seed-suggestion-dismiss",
    ),
]
# (position, label, URL name) of this part's pages in the workspace navigation (core.workspace).
nav: list[tuple[int, str, str]] = [
    (50, "Seeds", "seeds-page"),
    (51, "Sampling", "seeds-sample-page"),
    (52, "Dealing", "seeds-deal-page"),
]
