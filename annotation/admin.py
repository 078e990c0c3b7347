from django.contrib import admin
from django.http import HttpRequest

from core.admin import WorkflowReadOnly

from .models import (
    Assignment,
    Campaign,
    Category,
    Event,
    GuidelinesVersion,
    Membership,
    ProgrammingLanguage,
    Rewrite,
    RewriteLanguage,
    Seed,
    Subcategory,
)


class MembershipInline(admin.TabularInline):
    """Members are shown here; they are added, changed and removed on the Membership admin,
    which goes through the membership services (panels refilled, work handed on, events)."""

    model = Membership
    extra = 0
    fields = readonly_fields = ("user", "role", "created_at")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    """Campaigns are created from /campaigns/new/ (or ``create_campaign``), which installs a
    taxonomy and makes the creator a curator; the admin only edits existing ones."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    list_display = ["slug", "name", "panel_size", "accept_threshold", "target_release_size"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> list[str]:
        # Changing the panel under open ballots would make votes already cast unfit the panel.
        if obj is not None and obj.rewrites.exclude(status="draft").exists():
            return ["slug", "panel_size", "accept_threshold", "tokenizer"]
        return ["slug"] if obj is not None else []


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "short_name", "campaign", "position"]
    list_filter = ["campaign"]


@admin.register(Subcategory)
class SubcategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "short_name", "category", "campaign", "position"]
    list_filter = ["campaign", "category"]
    list_select_related = ["category", "campaign"]


@admin.register(ProgrammingLanguage)
class ProgrammingLanguageAdmin(admin.ModelAdmin):
    list_display = ["name", "aliases", "campaign", "position"]
    list_filter = ["campaign"]
    search_fields = ["name"]


@admin.register(Seed)
class SeedAdmin(WorkflowReadOnly):
    list_display = ["external_id", "campaign", "subcategory", "status", "sample_rank"]
    list_filter = ["campaign", "status"]
    search_fields = ["external_id", "title"]
    list_select_related = ["campaign", "subcategory"]


@admin.register(Assignment)
class AssignmentAdmin(WorkflowReadOnly):
    list_display = ["id", "campaign", "seed", "annotator", "status", "lease_expires_at"]
    list_filter = ["campaign", "status"]
    list_select_related = ["campaign", "seed", "annotator"]


class RewriteLanguageInline(admin.TabularInline):
    model = RewriteLanguage
    extra = 0
    readonly_fields = ["language", "position"]
    can_delete = False


@admin.register(Rewrite)
class RewriteAdmin(WorkflowReadOnly):
    list_display = ["id", "campaign", "seed", "author", "revision", "status", "question_tokens"]
    list_filter = ["campaign", "status", "difficulty"]
    list_select_related = ["campaign", "seed", "author"]
    inlines = [RewriteLanguageInline]


@admin.register(Event)
class EventAdmin(WorkflowReadOnly):
    """The audit log is append-only: no add, change or delete here."""

    list_display = [
        "created_at",
        "campaign",
        "actor",
        "kind",
        "object_type",
        "object_id",
        "from_state",
        "to_state",
    ]
    list_filter = ["campaign", "kind"]
    list_select_related = ["campaign", "actor"]


@admin.register(GuidelinesVersion)
class GuidelinesVersionAdmin(WorkflowReadOnly):
    """Saved by ``guidelines_save`` (the guidelines page and API), which numbers the versions
    and writes the event: read-only here."""

    list_display = ["campaign", "number", "author", "created_at"]
    list_filter = ["campaign"]
    list_select_related = ["campaign", "author"]
