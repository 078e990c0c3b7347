"""The checks run on every newly submitted rewrite (the Celery task enqueued by submit)."""

from typing import Any

from annotation.models import Rewrite

from ..selectors import CHECKED
from .decontamination import rewrites_decontaminate
from .similarity import rewrite_similarity_check


def rewrite_quality_check(*, rewrite_id: int) -> dict[str, Any]:
    """All checks for one newly submitted rewrite (the Celery task enqueued on submit)."""
    rewrite = Rewrite.objects.select_related("campaign").filter(pk=rewrite_id).first()
    if rewrite is None or rewrite.status not in CHECKED:
        return {"skipped": True}
    contamination = rewrites_decontaminate(campaign=rewrite.campaign, rewrite_ids=[rewrite_id])
    similarity = rewrite_similarity_check(rewrite_id=rewrite_id)
    return {"contamination_hits": contamination.hits, **similarity.__dict__}
