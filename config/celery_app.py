"""The Celery application.

Without ``CELERY_BROKER_URL`` the settings make tasks run eagerly in-process (the embedded
default); with it, tasks go to the broker (Redis) and a worker runs them.
"""

import os

from celery import Celery

# A worker is a production process, like the WSGI app: production settings unless told
# otherwise (a local worker beside runserver sets DJANGO_SETTINGS_MODULE=config.settings.local).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("codearena", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
