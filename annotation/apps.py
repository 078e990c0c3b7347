from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import labels

        from .models import (
            Assignment,
            AssistPurpose,
            CallPurpose,
            Difficulty,
            ModelCall,
            Origin,
            RejectReason,
            Rewrite,
            Role,
            Seed,
            SeedClassificationJob,
            SeedImport,
            SeedSuggestion,
        )

        labels.register("role", Role)
        labels.register("seed_status", Seed.Status)
        labels.register("seed_import_status", SeedImport.Status)
        labels.register("reject_reason", RejectReason)
        labels.register("assignment_status", Assignment.Status)
        labels.register("difficulty", Difficulty)
        labels.register("rewrite_status", Rewrite.Status)
        labels.register("assist_purpose", AssistPurpose)
        labels.register("call_purpose", CallPurpose)
        labels.register("origin", Origin)
        labels.register("model_call_status", ModelCall.Status)
        labels.register("classification_job_status", SeedClassificationJob.Status)
        labels.register("seed_suggestion_status", SeedSuggestion.Status)
