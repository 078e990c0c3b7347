"""Production: every secret and host comes from the environment; HTTPS everywhere."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env_bool, env_list

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# Database connections persist between requests (60 s unless DATABASE_CONN_MAX_AGE says
# otherwise) and are checked before reuse: a new connection per request cost more than the
# request itself at load (issue 18: claim-next over HTTP 48/s with a connection each time, 79/s
# kept). Behind pgbouncer in transaction mode set DATABASE_CONN_MAX_AGE=0 (base.py).
DATABASES["default"]["CONN_MAX_AGE"] = int(  # noqa: F405
    os.environ.get("DATABASE_CONN_MAX_AGE") or "60"
)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("DATABASE_CONN_HEALTH_CHECKS", True)  # noqa: F405

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
# Load balancers and orchestrators probe the health endpoints over plain HTTP, straight at the
# instance (core.health): they answer there instead of redirecting to HTTPS. (The probe's Host
# header must still be in DJANGO_ALLOWED_HOSTS: README "Production".)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Email (password resets, invitations) goes out over SMTP (EMAIL_HOST, EMAIL_PORT,
# EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS / EMAIL_USE_SSL from the environment),
# never to the console: a reset link in the server log is an account takeover for whoever reads
# the log. DJANGO_EMAIL_BACKEND may name another real backend (or Django's dummy backend, which
# drops every email), never one that writes messages out locally.
_LOCAL_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
}
EMAIL_BACKEND = (
    os.environ.get("DJANGO_EMAIL_BACKEND") or "django.core.mail.backends.smtp.EmailBackend"
)
if EMAIL_BACKEND in _LOCAL_EMAIL_BACKENDS:
    raise ImproperlyConfigured(
        f"DJANGO_EMAIL_BACKEND={EMAIL_BACKEND} would write password-reset links where the server"
        " keeps them; production sends email over SMTP (set EMAIL_HOST)."
    )
if EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend" and not EMAIL_HOST:  # noqa: F405
    raise ImproperlyConfigured(
        "Production sends email (password resets, invitations) over SMTP: set EMAIL_HOST (and"
        " EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD), or DJANGO_EMAIL_BACKEND="
        "django.core.mail.backends.dummy.EmailBackend to send none."
    )
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_SSL:
    EMAIL_USE_TLS = False
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))

# The cache (allauth's rate limits, the dashboard's short-lived figures) has its own Redis URL,
# never the broker's database: flushing one must not drop the other's data. Unset: each
# process keeps its own in-memory cache.
if os.environ.get("REDIS_CACHE_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_CACHE_URL"],
            "TIMEOUT": 300,
        }
    }

# Static files come from the app server (whitenoise), compressed with hashed names.
STORAGES = {  # noqa: F405
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Logs are JSON lines unless told otherwise (a log shipper reads one object per line).
CURATION_LOG_FORMAT = "text" if os.environ.get("CURATION_LOG_FORMAT") == "text" else "json"
LOGGING = {  # noqa: F405
    **LOGGING,  # noqa: F405
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": CURATION_LOG_FORMAT,
        }
    },
}

# Error reporting to Sentry (or any Sentry-compatible service) when SENTRY_DSN is set.
from config.sentry import sentry_init  # noqa: E402

sentry_init()
