"""pytest settings: the same database selection as everywhere (DATABASE_URL or SQLite), eager
Celery even when CELERY_BROKER_URL is set (tests that need a real worker start one, with
CELERY_TASK_ALWAYS_EAGER=0 in its environment), fast password hashing."""

import os

from .base import *  # noqa: F403
from .base import env_bool

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "test-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]
# Model endpoints on this machine or the local network (a local Ollama, the tests' fake
# server) need no CURATION_MODEL_ALLOWED_HOSTS here; production calls them only when listed.
CURATION_MODEL_ALLOW_PRIVATE = env_bool("CURATION_MODEL_ALLOW_PRIVATE", True)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", True)
CELERY_TASK_EAGER_PROPAGATES = True
# Test hook (tests/test_job_resilience.py): seconds a release build sleeps at each progress
# report, so that a test can kill its worker mid-build. Only these settings read it.
CURATION_JOB_TEST_DELAY = float(os.environ.get("CURATION_JOB_TEST_DELAY", "0"))

import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

# Uploads of a test run go to a folder of their own, not the project's media/.
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="codearena-test-media-"))
# whitenoise looks for collected static files here (none: tests read them where they are).
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="codearena-test-static-"))
WHITENOISE_USE_FINDERS = True
