"""What every app's admin shares."""

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

if TYPE_CHECKING:
    # ModelAdmin is generic only in the stubs; subscripting it at runtime raises TypeError.
    _ModelAdmin = admin.ModelAdmin[models.Model]
else:
    _ModelAdmin = admin.ModelAdmin


class WorkflowReadOnly(_ModelAdmin):
    """Workflow rows change only through the services (commands, API, pages), which check the
    transition, keep the invariants and write the audit event: operators can look, not edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
