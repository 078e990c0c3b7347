from csp.constants import NONCE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from annotation import api as annotation_api
from annotation import api_assist as annotation_assist_api
from annotation import views as annotation_views
from annotation import workspace_urls as annotation_workspace
from browser import workspace_urls as browser_workspace
from core import health as core_health
from core import http as core_http
from core import version as core_version
from core import view_as as core_view_as
from core import workspace as core_workspace
from exports import api as exports_api
from exports import views as exports_views
from exports import workspace_urls as exports_workspace
from quality import workspace_urls as quality_workspace
from review import api as review_api
from review import views as review_views
from review import workspace_urls as review_workspace

# The curator workspace (campaign settings, guidelines, people, seeds, references, answers):
# each app lists its own routes.
WORKSPACES = [
    annotation_workspace,
    review_workspace,
    quality_workspace,
    exports_workspace,
    browser_workspace,
]
core_workspace.register([entry for workspace in WORKSPACES for entry in workspace.nav])

api_v1 = [
    path("version/", core_version.VersionView.as_view(), name="version"),
    path("auth/token/", annotation_api.TokenView.as_view(), name="api-token"),
    path("campaigns/", annotation_api.CampaignListView.as_view(), name="campaign-list"),
    path(
        "campaigns/<slug:slug>/assignments/",
        annotation_api.CampaignAssignmentListView.as_view(),
        name="assignment-list",
    ),
    path(
        "campaigns/<slug:slug>/assignments/next/",
        annotation_api.ClaimNextView.as_view(),
        name="assignment-claim-next",
    ),
    path(
        "assignments/<int:pk>/",
        annotation_api.AssignmentDetailView.as_view(),
        name="assignment-detail",
    ),
    path("campaigns/<slug:slug>/preview/", annotation_api.PreviewView.as_view(), name="preview"),
    path("assignments/<int:pk>/draft/", annotation_api.DraftSaveView.as_view(), name="draft-save"),
    path(
        "assignments/<int:pk>/suggestion/",
        annotation_assist_api.DraftSuggestionView.as_view(),
        name="draft-suggestion",
    ),
    path("assignments/<int:pk>/submit/", review_api.SubmitView.as_view(), name="assignment-submit"),
    path(
        "assignments/<int:pk>/reject/", annotation_api.RejectSeedView.as_view(), name="seed-reject"
    ),
    path("assignments/<int:pk>/skip/", annotation_api.SkipSeedView.as_view(), name="seed-skip"),
    path(
        "campaigns/<slug:slug>/my-rewrites/",
        annotation_api.MyRewriteListView.as_view(),
        name="my-rewrite-list",
    ),
    path(
        "campaigns/<slug:slug>/ballots/",
        review_api.CampaignBallotListView.as_view(),
        name="ballot-list",
    ),
    path("ballots/<int:pk>/", review_api.BallotDetailView.as_view(), name="ballot-detail"),
    path("ballots/<int:pk>/vote/", review_api.VoteView.as_view(), name="ballot-vote"),
    path(
        "campaigns/<slug:slug>/rewrites/",
        review_api.CampaignRewriteListView.as_view(),
        name="rewrite-list",
    ),
    path("rewrites/<int:pk>/return/", review_api.ReturnView.as_view(), name="rewrite-return"),
    path(
        "assignments/<int:pk>/reassign/",
        annotation_api.ReassignView.as_view(),
        name="assignment-reassign",
    ),
    path(
        "campaigns/<slug:slug>/stats/",
        review_api.CampaignStatsView.as_view(),
        name="campaign-stats",
    ),
    path(
        "campaigns/<slug:slug>/releases/",
        exports_api.CampaignReleaseListView.as_view(),
        name="release-list",
    ),
    path("releases/<int:pk>/", exports_api.ReleaseDetailView.as_view(), name="release-detail"),
    *[route for workspace in WORKSPACES for route in workspace.api],
    path(
        "releases/<int:pk>/files/<path:name>",
        exports_api.ReleaseFileView.as_view(),
        name="release-file",
    ),
]

# Redoc writes its styles into <style> elements, which the strict policy refuses. On its page
# only, the policy admits those carrying the response's nonce (static/js/redoc-init.js hands it
# to Redoc), plus the two that its bundle inserts before any script can set the nonce, by the
# hash of their content: empty, then perfect-scrollbar's CSS (drf-spectacular-sidecar's Redoc;
# tests/test_csp.py fails in Chromium if an upgrade changes them). Its search index is built
# in a Web Worker made from a blob: URL. Still no 'unsafe-inline' and no inline script.
REDOC_POLICY = {
    "style-src": [
        NONCE,
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
        "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
    ],
    "worker-src": ["'self'", "blob:"],
}

# Django's own 404 and 403 (an unknown URL, say) in the site's layout, like domain errors.
handler404 = "core.http.page_not_found"
handler403 = "core.http.permission_denied"
handler500 = "core.http.server_error"

urlpatterns = [
    # For load balancers and orchestrators: JSON, no authentication (core.health).
    path("healthz", core_health.healthz, name="healthz"),
    path("readyz", core_health.readyz, name="readyz"),
    path("", annotation_views.home, name="home"),
    path("campaigns/<slug:slug>/queue/", annotation_views.queue_page, name="queue"),
    path("campaigns/<slug:slug>/next/", annotation_views.claim_next_page, name="claim-next"),
    path("assignments/<int:pk>/", annotation_views.annotate_page, name="annotate"),
    path("campaigns/<slug:slug>/my-work/", annotation_views.my_work_page, name="my-work-page"),
    path("rewrites/<int:pk>/view/", annotation_views.my_rewrite_page, name="my-rewrite-page"),
    path("campaigns/<slug:slug>/releases/", exports_views.releases_page, name="releases-page"),
    path("campaigns/<slug:slug>/ballots/", review_views.ballots_page, name="ballots-page"),
    path("campaigns/<slug:slug>/ballots/next/", review_views.ballot_next_page, name="ballot-next"),
    path("ballots/<int:pk>/", review_views.vote_page, name="vote-page"),
    path("campaigns/<slug:slug>/dashboard/", review_views.dashboard_page, name="dashboard-page"),
    path(
        "campaigns/<slug:slug>/dashboard/<slug:chart>.csv",
        review_views.dashboard_chart_csv,
        name="dashboard-csv",
    ),
    path("rewrites/<int:pk>/return/", review_views.rewrite_return_page, name="return-page"),
    path(
        "assignments/<int:pk>/reassign/",
        review_views.assignment_reassign_page,
        name="reassign-page",
    ),
    *[route for workspace in WORKSPACES for route in workspace.pages],
    # A curator views the campaign as one of its members, read-only (core.view_as).
    path("campaigns/<slug:slug>/view-as/", core_view_as.start_page, name="view-as-start"),
    path("view-as/stop/", core_view_as.stop_page, name="view-as-stop"),
    path("admin/", admin.site.urls),
    # No self-service email addresses: an account's email comes from its invitation (or an
    # operator), and invitations and "add by email" trust it, so nobody may claim another
    # person's address (sign-up is closed and addresses are not verified).
    path("accounts/email/", core_http.page_not_found, {"exception": None}, name="account_email"),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI from our own static files (drf-spectacular-sidecar), its start-up script served
    # as a separate file (?script), so the page runs under the strict Content-Security-Policy.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", template_name="drf_spectacular/swagger_ui_csp.html"
        ),
        name="api-docs",
    ),
    # Redoc, also from our own static files, started by a script file of ours.
    path(
        "api/redoc/",
        csp_update(REDOC_POLICY)(
            SpectacularRedocView.as_view(
                url_name="schema", template_name="drf_spectacular/redoc_csp.html"
            )
        ),
        name="api-redoc",
    ),
]
