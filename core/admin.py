"""What every app's admin shares."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class WorkflowReadOnly(admin.ModelAdmin):
    """Workflow rows change only through the services (commands, API, pages), which check the
    transition, keep the invariants and write the audit event: operators can look, not edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
