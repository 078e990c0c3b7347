from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from . import labels
        from .transitions import EventKind

        labels.register("event_kind", EventKind)
