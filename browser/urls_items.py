"""Routes of the item page (one seed's whole history): the page and its API."""

from django.urls import URLPattern, URLResolver, path

from . import api_items, views_items

pages: list[URLPattern | URLResolver] = [
    path("campaigns/<slug:slug>/items/<int:seed_id>/", views_items.item_page, name="item-page"),
]
api: list[URLPattern | URLResolver] = [
    path(
        "campaigns/<slug:slug>/items/<int:seed_id>/",
        api_items.ItemDetailView.as_view(),
        name="item-detail",
    ),
]
