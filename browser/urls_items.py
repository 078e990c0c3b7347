"""Routes of the item page (one seed's whole history)."""

from django.urls import URLPattern, URLResolver, path

from . import views_items

pages: list[URLPattern | URLResolver] = [
    path("campaigns/<slug:slug>/items/<int:seed_id>/", views_items.item_page, name="item-page"),
]
api: list[URLPattern | URLResolver] = []
