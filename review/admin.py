from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from annotation.models import Membership
from core.admin import WorkflowReadOnly
from core.errors import DomainError
from core.http import error_message

from .models import Ballot
from .services import membership_add, membership_remove, membership_role_change


@admin.register(Ballot)
class BallotAdmin(WorkflowReadOnly):
    """Read-only: votes are cast through the API so consensus is applied and audited."""

    list_display = ["id", "campaign", "rewrite", "reviewer", "status", "decision", "cast_at"]
    list_filter = ["campaign", "status", "decision"]
    list_select_related = ["campaign", "rewrite", "reviewer"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Adding, changing and removing members go through the membership services: a new reviewer
    fills waiting panels, a removed reviewer's pending ballots are closed and refilled, a
    removed annotator's work is reassigned or released, the last curator stays, and each change
    is an Event. A refused change (the last curator, say) is reported as an error, nothing
    changes and nothing is logged as done. One membership is deleted at a time (no bulk
    delete), so each refusal is reported with its reason."""

    list_display = ["campaign", "user", "role", "created_at"]
    list_filter = ["role", "campaign"]
    list_select_related = ["campaign", "user"]
    autocomplete_fields = ["user"]
    search_fields = ["user__username", "campaign__slug"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["campaign", "user"] if obj is not None else []

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # --- add and change ---------------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        try:
            if not change:
                saved = membership_add(
                    campaign=obj.campaign,
                    user=obj.user,
                    role=obj.role,
                    actor=request.user,
                    operator=True,
                )
            else:
                before = Membership.objects.get(pk=obj.pk).role
                saved = membership_role_change(
                    campaign=obj.campaign,
                    user=obj.user,
                    from_role=before,
                    to_role=obj.role,
                    actor=request.user,
                    operator=True,
                )
            obj.pk = saved.pk
        except DomainError as exc:
            request._membership_refused = error_message(exc)  # type: ignore[attr-defined]

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if not getattr(request, "_membership_refused", None):
            return super().log_addition(request, obj, message)
        return None

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if not getattr(request, "_membership_refused", None):
            return super().log_change(request, obj, message)
        return None

    def _refused(self, request: HttpRequest) -> HttpResponse | None:
        refused = getattr(request, "_membership_refused", None)
        if not refused:
            return None
        self.message_user(request, refused, level=messages.ERROR)
        return redirect(reverse("admin:annotation_membership_changelist"))

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        return self._refused(request) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Any) -> Any:
        return self._refused(request) or super().response_change(request, obj)

    # --- delete -------------------------------------------------------------------------------

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The confirmation page is Django's; the deletion itself is ``membership_remove``."""
        obj = self.get_object(request, object_id)
        if request.method != "POST" or obj is None or not self.has_delete_permission(request, obj):
            return super().delete_view(request, object_id, extra_context)
        obj_display = str(obj)
        try:
            with transaction.atomic():
                self.log_deletions(request, Membership.objects.filter(pk=obj.pk))
                membership_remove(
                    campaign=obj.campaign,
                    user=obj.user,
                    role=obj.role,
                    actor=request.user,
                    operator=True,
                )
        except DomainError as exc:
            self.message_user(request, error_message(exc), level=messages.ERROR)
            return redirect(reverse("admin:annotation_membership_change", args=[obj.pk]))
        return self.response_delete(request, obj_display, obj.pk)


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, except that a member of a campaign is not deleted here: deleting
    would drop their memberships without the membership services (no events, their pending
    ballots left open, perhaps the campaign's last curator gone). Remove their memberships
    first (the Membership pages, the People page or ``remove_member``), or make the account
    inactive. Users are deleted one at a time, so each refusal shows."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and Membership.objects.filter(user=obj).exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
