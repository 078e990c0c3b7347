"""Routes of the data browser's lists (seeds, assignments, rewrites, released samples)."""

from django.urls import URLPattern, URLResolver

pages: list[URLPattern | URLResolver] = []
api: list[URLPattern | URLResolver] = []
nav: list[tuple[int, str, str]] = []
