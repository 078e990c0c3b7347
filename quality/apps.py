from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = "Quality checks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import labels

        from .models import RewriteCheck, SimilarityFlag

        labels.register("similarity_flag_kind", SimilarityFlag.Kind)
        labels.register("rewrite_check_status", RewriteCheck.Status)
