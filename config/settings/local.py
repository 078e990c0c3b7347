"""Developer laptop / `make demo`: SQLite and eager Celery unless the environment says otherwise."""

import os

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = env_bool("DJANGO_DEBUG", True)
# A development-only key; production.py refuses to start without DJANGO_SECRET_KEY.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "local-development-only-not-secret")
ALLOWED_HOSTS = ["*"]
# Model endpoints on this machine or the local network (a local Ollama, the tests' fake
# server) need no CURATION_MODEL_ALLOWED_HOSTS here; production calls them only when listed.
CURATION_MODEL_ALLOW_PRIVATE = env_bool("CURATION_MODEL_ALLOW_PRIVATE", True)

# whitenoise serves static files straight from the app folders (no collectstatic needed), and
# picks up edits.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
