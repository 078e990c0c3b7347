from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

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
    is an Event. A refused change (the last curator, say) is reported and nothing changes."""

    list_display = ["campaign", "user", "role", "created_at"]
    list_filter = ["role", "campaign"]
    list_select_related = ["campaign", "user"]
    autocomplete_fields = ["user"]
    search_fields = ["user__username", "campaign__slug"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["campaign", "user"] if obj is not None else []

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
            self.message_user(request, error_message(exc), level=messages.ERROR)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        try:
            membership_remove(
                campaign=obj.campaign,
                user=obj.user,
                role=obj.role,
                actor=request.user,
                operator=True,
            )
        except DomainError as exc:
            self.message_user(request, error_message(exc), level=messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset.select_related("campaign", "user"):
            self.delete_model(request, membership)
