"""Settings shared by every environment. Everything that differs between machines comes from
the environment; see README.md ("Configuration")."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_filters",
    "allauth",
    "allauth.account",
    "core",
    "annotation",
    "quality",
    "review",
    "exports",
    "browser",
]
# core sits below the apps and never imports them; it reaches campaign memberships (for the one
# access check) and the audit log (for the transition helper) through these, as Django's auth
# reaches the user model through AUTH_USER_MODEL.
CURATION_MEMBERSHIP_MODEL = "annotation.Membership"
CURATION_EVENT_MODEL = "annotation.Event"
# Operators (active staff superusers) hold these roles in every campaign (core.access).
CURATION_OPERATOR_ROLES = ["curator"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "core.access.AccessScopeMiddleware",
    "core.http.DomainErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The embedded default is a SQLite file next to manage.py; DATABASE_URL selects PostgreSQL
# (postgres://user@host:port/name, driven by psycopg 3).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-allauth: log in by username or email, no open sign-up (accounts are created by a
# curator with `add_member`).
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_ADAPTER = "annotation.auth.ClosedSignupAccountAdapter"
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))

# Invitations are emailed: printed to the console locally; over SMTP once EMAIL_HOST is set.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "curation@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.http.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.http.api_exception_handler",
    # Only the password-checking token endpoint is throttled (against password guessing).
    "DEFAULT_THROTTLE_RATES": {"auth-token": os.environ.get("API_TOKEN_RATE", "20/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CodeArena curation platform API",
    "DESCRIPTION": "Campaigns, seeds, assignments, rewrites, ballots and statistics.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per set of states (every model has a "status").
    "ENUM_NAME_OVERRIDES": {
        "AssignmentStatusEnum": "annotation.models.Assignment.Status",
        "RewriteStatusEnum": "annotation.models.Rewrite.Status",
        "BallotStatusEnum": "review.models.Ballot.Status",
        "ReleaseStatusEnum": "exports.models.Release.Status",
        "RoleEnum": "annotation.models.Role",
        "SeedImportStatusEnum": "annotation.models.SeedImport.Status",
        "SeedStatusEnum": "annotation.models.Seed.Status",
        "RejectReasonEnum": "annotation.models.RejectReason",
        "SimilarityFlagKindEnum": "quality.models.SimilarityFlag.Kind",
        "VoteDecisionEnum": "review.models.Decision",
        "VoteReasonEnum": "review.models.VoteReason",
    },
}

# Celery: without a broker URL tasks run eagerly in the calling process (the embedded default).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL or None)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = env_bool("CELERY_TASK_EAGER_PROPAGATES", False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "expire-assignment-leases": {
        "task": "annotation.tasks.expire_assignments",
        "schedule": timedelta(minutes=5),
    },
    "count-missing-question-tokens": {
        "task": "annotation.tasks.count_missing_tokens",
        "schedule": timedelta(minutes=10),
    },
    "fill-waiting-review-panels": {
        "task": "review.tasks.fill_waiting_panels",
        "schedule": timedelta(minutes=1),
    },
    "resume-stale-seed-imports": {
        "task": "annotation.tasks.resume_stale_seed_imports",
        "schedule": timedelta(minutes=5),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}

# Where tiktoken keeps its encoding files; offline machines point this at a folder that has them.
if os.environ.get("TIKTOKEN_CACHE_DIR") is None:
    _shared = BASE_DIR.parent / "shared" / "tiktoken"
    if _shared.is_dir():
        os.environ["TIKTOKEN_CACHE_DIR"] = str(_shared)
DEFAULT_TOKENIZER = os.environ.get("CURATION_DEFAULT_TOKENIZER", "o200k_base")

# Release jobs started from the API write their files under RELEASES_DIR/<campaign>/<release>/;
# curators download them through the API (never served as static files).
RELEASES_DIR = Path(os.environ.get("CURATION_RELEASES_DIR", BASE_DIR / "releases"))
# Uploaded files (seed files waiting to be checked and imported) live in the default storage;
# the web server and the worker must share it.
MEDIA_ROOT = Path(os.environ.get("CURATION_MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media/"  # never served: uploads are read by the services, not downloaded
# Reference benchmarks a deployment offers to enable from the references page (jsonl /
# jsonl.gz files, one folder per set); empty: none.
_shared_references = BASE_DIR.parent / "shared" / "data" / "references"
REFERENCES_DIR = os.environ.get(
    "CURATION_REFERENCES_DIR", str(_shared_references) if _shared_references.is_dir() else ""
)
# The largest file a curator may upload (seeds, reference sets, answers), counted after
# decompression for .gz files, so a small compressed file cannot fill the server's memory.
UPLOAD_MAX_BYTES = int(os.environ.get("CURATION_UPLOAD_MAX_MB", "512")) * 1024 * 1024
# How long an invitation link stays valid.
INVITATION_DAYS = int(os.environ.get("CURATION_INVITATION_DAYS", "14"))
