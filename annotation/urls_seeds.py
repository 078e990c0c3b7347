"""Workspace routes of the annotation app: seeds."""

from django.urls import URLPattern, URLResolver

pages: list[URLPattern | URLResolver] = []
api: list[URLPattern | URLResolver] = []
# (position, label, URL name) of this part's pages in the workspace navigation (core.workspace).
nav: list[tuple[int, str, str]] = []
