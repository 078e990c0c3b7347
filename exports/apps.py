from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the tasks that other apps enqueue by name (review's submit enqueues the
        # quality check), in every process, not only once Celery autodiscovery has run.
        from . import tasks  # noqa: F401
