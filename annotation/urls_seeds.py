"""Workspace routes of the annotation app: seeds."""

from django.urls import URLPattern, URLResolver

pages: list[URLPattern | URLResolver] = []
api: list[URLPattern | URLResolver] = []
