from celery import shared_task

from .services import panels_fill_waiting


@shared_task(name="review.tasks.fill_waiting_panels")
def fill_waiting_panels() -> int:
    return panels_fill_waiting()
