"""The curator workspace's routes of the review app: ``pages`` are mounted at the site's root,
``api`` under /api/v1/ (see config/urls.py)."""

from django.urls import URLPattern, URLResolver, path

from . import api as ballots_api
from . import api_decisions, api_people, views_decisions, views_people

pages: list[URLPattern | URLResolver] = [
    path("rewrites/<int:pk>/close/", views_decisions.rewrite_close_page, name="rewrite-close-page"),
    path(
        "rewrites/<int:pk>/adjudicate/",
        views_decisions.rewrite_adjudicate_page,
        name="rewrite-adjudicate-page",
    ),
    path(
        "rewrites/<int:pk>/reopen/", views_decisions.rewrite_reopen_page, name="rewrite-reopen-page"
    ),
    path("campaigns/<slug:slug>/people/", views_people.people_page, name="people-page"),
    path(
        "invitations/<str:token>/",
        views_people.invitation_accept_page,
        name="invitation-accept-page",
    ),
]
api: list[URLPattern | URLResolver] = [
    path("ballots/<int:pk>/hint/", ballots_api.BallotHintView.as_view(), name="ballot-hint"),
    path(
        "rewrites/<int:pk>/close/", api_decisions.RewriteCloseView.as_view(), name="rewrite-close"
    ),
    path(
        "rewrites/<int:pk>/adjudicate/",
        api_decisions.RewriteAdjudicateView.as_view(),
        name="rewrite-adjudicate",
    ),
    path(
        "rewrites/<int:pk>/reopen/",
        api_decisions.RewriteReopenView.as_view(),
        name="rewrite-reopen",
    ),
    path(
        "campaigns/<slug:slug>/members/",
        api_people.CampaignMemberListView.as_view(),
        name="member-list",
    ),
    path(
        "campaigns/<slug:slug>/members/role/",
        api_people.MemberRoleView.as_view(),
        name="member-role",
    ),
    path(
        "campaigns/<slug:slug>/members/remove/",
        api_people.MemberRemoveView.as_view(),
        name="member-remove",
    ),
    path(
        "campaigns/<slug:slug>/invitations/",
        api_people.CampaignInvitationListView.as_view(),
        name="invitation-list",
    ),
    # Before invitations/<id>/..., though the two cannot collide (an id is an int).
    path(
        "invitations/accept/", api_people.InvitationAcceptView.as_view(), name="invitation-accept"
    ),
    path(
        "invitations/<int:pk>/revoke/",
        api_people.InvitationRevokeView.as_view(),
        name="invitation-revoke",
    ),
]
# (position, label, URL name) of this part's pages in the workspace navigation (core.workspace).
nav: list[tuple[int, str, str]] = [
    (10, "Dashboard", "dashboard-page"),
    (40, "People", "people-page"),
]
