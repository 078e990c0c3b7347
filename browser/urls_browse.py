"""Routes of the data browser's lists (seeds, assignments, rewrites, released samples).

Pages: ``/campaigns/<slug>/browse/`` (seeds), ``/campaigns/<slug>/browse/<kind>/``, the exports
``/campaigns/<slug>/browse/<kind>.csv`` and ``.jsonl`` and the bulk form's
``/campaigns/<slug>/browse/<kind>/bulk/``. API (under /api/v1/): the same per kind, one route each
so the schema documents each kind's filters and rows (``browse-list``, ``browse-export``,
``browse-bulk`` reverse with ``kind`` and, for exports, ``fmt``)."""

from django.urls import URLPattern, URLResolver, path, re_path

from . import api as browse_api
from . import views
from .selectors import KINDS

KIND = r"(?P<kind>seeds|assignments|rewrites|samples)"
BULK_KIND = r"(?P<kind>seeds|assignments|rewrites)"

pages: list[URLPattern | URLResolver] = [
    path("campaigns/<slug:slug>/browse/", views.browse_page, name="browse-page"),
    re_path(
        rf"^campaigns/(?P<slug>[-a-zA-Z0-9_]+)/browse/{KIND}/$",
        views.browse_kind_page,
        name="browse-kind-page",
    ),
    re_path(
        rf"^campaigns/(?P<slug>[-a-zA-Z0-9_]+)/browse/{KIND}\.(?P<fmt>csv|jsonl)$",
        views.browse_export_page,
        name="browse-export-page",
    ),
    re_path(
        rf"^campaigns/(?P<slug>[-a-zA-Z0-9_]+)/browse/{BULK_KIND}/bulk/$",
        views.browse_bulk_page,
        name="browse-bulk-page",
    ),
]

api: list[URLPattern | URLResolver] = []
for _kind in KINDS:
    api.append(
        path(
            f"campaigns/<slug:slug>/browse/{_kind}/",
            browse_api.LIST_VIEWS[_kind].as_view(),
            {"kind": _kind},
            name="browse-list",
        )
    )
    for _fmt in ("csv", "jsonl"):
        api.append(
            path(
                f"campaigns/<slug:slug>/browse/{_kind}.{_fmt}",
                browse_api.EXPORT_VIEWS[(_kind, _fmt)].as_view(),
                {"kind": _kind, "fmt": _fmt},
                name="browse-export",
            )
        )
    if _kind in browse_api.BULK_VIEWS:
        api.append(
            path(
                f"campaigns/<slug:slug>/browse/{_kind}/bulk/",
                browse_api.BULK_VIEWS[_kind].as_view(),
                {"kind": _kind},
                name="browse-bulk",
            )
        )
# (position, label, URL name) of this part's pages in the workspace navigation (core.workspace).
nav: list[tuple[int, str, str]] = [(15, "Data", "browse-page")]
