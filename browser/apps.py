from django.apps import AppConfig


class BrowserConfig(AppConfig):
    name = "browser"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import labels
        from core.transitions import EventKind

        from .selectors_items import EVENT_LABELS

        # The timeline's wording of each event kind ("Invitation sent").
        labels.register("event_kind", EventKind, labels=EVENT_LABELS)
