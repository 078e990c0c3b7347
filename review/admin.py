from django.contrib import admin

from annotation.admin import WorkflowReadOnly

from .models import Ballot


@admin.register(Ballot)
class BallotAdmin(WorkflowReadOnly):
    """Read-only: votes are cast through the API so consensus is applied and audited."""

    list_display = ["id", "campaign", "rewrite", "reviewer", "status", "decision", "cast_at"]
    list_filter = ["campaign", "status", "decision"]
    list_select_related = ["campaign", "rewrite", "reviewer"]
