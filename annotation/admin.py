from django.contrib import admin

from .models import (
    Assignment,
    Campaign,
    Category,
    Event,
    Membership,
    ProgrammingLanguage,
    Rewrite,
    RewriteLanguage,
    Seed,
    Subcategory,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "panel_size", "accept_threshold", "target_release_size"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["campaign", "user", "role"]
    list_filter = ["role", "campaign"]
    list_select_related = ["campaign", "user"]
    autocomplete_fields = ["user"]


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
class SeedAdmin(admin.ModelAdmin):
    list_display = ["external_id", "campaign", "subcategory", "status", "sample_rank"]
    list_filter = ["campaign", "status"]
    search_fields = ["external_id", "title"]
    list_select_related = ["campaign", "subcategory"]
    readonly_fields = ["content_hash", "status", "sample_rank"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    """Read-mostly: state changes go through the services (commands, API), not the admin."""

    list_display = ["id", "campaign", "seed", "annotator", "status", "lease_expires_at"]
    list_filter = ["campaign", "status"]
    list_select_related = ["campaign", "seed", "annotator"]
    readonly_fields = ["campaign", "seed", "annotator", "status", "reject_reason", "reject_note"]


class RewriteLanguageInline(admin.TabularInline):
    model = RewriteLanguage
    extra = 0
    readonly_fields = ["language", "position"]
    can_delete = False


@admin.register(Rewrite)
class RewriteAdmin(admin.ModelAdmin):
    list_display = ["id", "campaign", "seed", "author", "revision", "status", "question_tokens"]
    list_filter = ["campaign", "status", "difficulty"]
    list_select_related = ["campaign", "seed", "author"]
    readonly_fields = ["status", "version", "question_tokens", "tokenizer", "feedback"]
    inlines = [RewriteLanguageInline]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False
