from django.contrib import admin

from .models import Ballot


@admin.register(Ballot)
class BallotAdmin(admin.ModelAdmin):
    """Read-only: votes are cast through the API so consensus is applied and audited."""

    list_display = ["id", "campaign", "rewrite", "reviewer", "status", "decision", "cast_at"]
    list_filter = ["campaign", "status", "decision"]
    list_select_related = ["campaign", "rewrite", "reviewer"]
    readonly_fields = [
        "campaign",
        "rewrite",
        "reviewer",
        "status",
        "decision",
        "reasons",
        "comment",
        "cast_at",
    ]
