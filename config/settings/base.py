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
    "axes",
    "csp",
    "drf_spectacular_sidecar",
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
    # First: a request id for every request and one structured log line per request (core.logs).
    "core.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (compressed, hashed names, cached for a year) from the app server itself.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "core.access.AccessScopeMiddleware",
    "core.http.DomainErrorMiddleware",
    "core.cache.PrivateCacheMiddleware",
    # Last: turns a login that django-axes refused into the lockout page (annotation.auth).
    "axes.middleware.AxesMiddleware",
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
# Connections are kept open between requests for DATABASE_CONN_MAX_AGE seconds (0 here: a new
# connection per request; production keeps them 60 s by default, config/settings/production.py:
# the measured claim-next rate over HTTP went from 48/s to 79/s at 60) and checked before reuse
# (DATABASE_CONN_HEALTH_CHECKS), so a restarted server costs one failed request at most. Behind
# pgbouncer in transaction mode set DATABASE_CONN_MAX_AGE=0 and
# DATABASE_DISABLE_SERVER_SIDE_CURSORS=1 (README "Production").
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", True),
        disable_server_side_cursors=env_bool("DATABASE_DISABLE_SERVER_SIDE_CURSORS", False),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: refuses every password check for a locked-out address or account (see "Password
    # guessing" below), before any backend looks at the password.
    "annotation.auth.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
    "annotation.auth.EmailCaseInsensitiveBackend",
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
# Password reset finds the account whatever the case of the typed address.
ACCOUNT_FORMS = {"reset_password": "annotation.auth.CaseInsensitiveResetPasswordForm"}
LOGIN_REDIRECT_URL = "/"

# --- Password guessing ------------------------------------------------------------------------
# How many reverse proxies (each appending to X-Forwarded-For) stand in front of the app. 0: the
# peer address is the client and X-Forwarded-For is ignored; N: the N-th address from the right
# (written by the outermost trusted proxy). Throttles and lockouts count per this address
# (core.clientip), so a client cannot pick its own by sending X-Forwarded-For.
CURATION_TRUSTED_PROXY_COUNT = int(os.environ.get("CURATION_TRUSTED_PROXY_COUNT", "0"))
# django-axes counts failed password checks everywhere a password is checked (the API token
# endpoint, the allauth login form, /admin/login/) and locks out, for AXES_COOLOFF_TIME, both
# the client address and the account (whatever the client address: rotating addresses does not
# help) after AXES_FAILURE_LIMIT failures in that window; then even the right password is
# refused. An operator lifts a lockout early with `manage.py axes_reset_username <name>`.
AXES_ENABLED = env_bool("CURATION_LOGIN_LOCKOUT", True)
AXES_FAILURE_LIMIT = int(os.environ.get("CURATION_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("CURATION_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
# A failure while locked out does not restart the clock (a guesser cannot keep the account
# locked forever with one request per cool-off); it is still refused.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A successful login does not wipe the failures counted against its address: otherwise anyone
# with an account could log into it between guesses at someone else's password.
AXES_RESET_ON_SUCCESS = False
AXES_CLIENT_IP_CALLABLE = "core.clientip.client_ip"
# "cura", "CURA" and "cura@x.invalid" count as one account.
AXES_USERNAME_CALLABLE = "annotation.auth.lockout_username"
AXES_LOCKOUT_CALLABLE = "annotation.auth.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # no start-up banner in every command's output
# allauth's own login/reset rate limits use the same client address (annotation.auth adapter).
ALLAUTH_TRUSTED_PROXY_COUNT = CURATION_TRUSTED_PROXY_COUNT

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

# --- Content-Security-Policy (django-csp) -------------------------------------------------------
# Scripts and styles come only from our own static files: no inline <script>, <style>, event
# handler or style attribute anywhere (templates link static/js and static/css). Images: ours
# and data: URIs (Swagger UI's icons). Nothing may frame the site.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: DRF's browsable HTML API needs inline styles the Content-Security-Policy forbids;
    # people read the API at /api/docs/.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.http.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "core.openapi.AutoSchema",
    # JSON with limits (depth, size, numbers, NUL and lone surrogates: core.parsers), forms and
    # file uploads.
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "core.http.api_exception_handler",
    # No OPTIONS self-description (undocumented, and it needs a serializer on every view): 405.
    "DEFAULT_METADATA_CLASS": None,
    # Only the password-checking token endpoint is throttled (against password guessing), per
    # the client address the trusted proxies vouch for (never the raw X-Forwarded-For).
    "DEFAULT_THROTTLE_RATES": {"auth-token": os.environ.get("API_TOKEN_RATE", "20/min")},
    "NUM_PROXIES": CURATION_TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CodeArena curation platform API",
    "DESCRIPTION": "Campaigns, seeds, assignments, rewrites, ballots and statistics.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (drf-spectacular-sidecar): no CDN, works under the CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
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
        "AssistPurposeEnum": "annotation.models.AssistPurpose",
        "CallPurposeEnum": "annotation.models.CallPurpose",
        "OriginEnum": "annotation.models.Origin",
    },
    # Redoc (/api/redoc/) from our own static files too.
    "REDOC_DIST": "SIDECAR",
}

# --- Health endpoints (core.health) ------------------------------------------------------------
# /readyz answers within this many seconds whatever hangs (its checks run at the same time; one
# still running by then is reported as timed out), and waits this long for a Celery worker to
# answer a ping.
CURATION_HEALTH_CHECK_TIMEOUT = float(os.environ.get("CURATION_HEALTH_CHECK_TIMEOUT", "2"))
CURATION_HEALTH_WORKER_PING_TIMEOUT = float(
    os.environ.get("CURATION_HEALTH_WORKER_PING_TIMEOUT", "1")
)
# The version (written once, in config/__init__.py), for core: the page footer and
# /api/v1/version/.
from config import __version__  # noqa: E402

CURATION_VERSION = __version__

# Celery: without a broker URL tasks run eagerly in the calling process (the embedded default).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL or None)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = env_bool("CELERY_TASK_EAGER_PROPAGATES", False)
# Jobs survive a dead worker (see "Jobs and failures" in README.md and exports/README.md):
# a task is acknowledged only once it finished, and a pool child killed mid-task (the OOM
# killer, kill -9) puts its message back on the queue instead of acknowledging it. Every task
# is idempotent, so a redelivered one resumes or restarts its job.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per worker process: a long release build never holds a second
# message hostage (which would wait for it, or be redelivered while it runs).
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The longest a job may run. The longest measured (bench/results): a seed file of 200,000
# lines checked in 15 s and imported in 43 s (94 s re-uploaded); 2,000 rewrites decontaminated
# in 1.4 s; a release build well under a minute. One hour leaves a wide margin: past the soft
# limit a job fails with a message, the hard limit (a minute later) kills it. The broker's
# visibility timeout, how long Redis waits before handing an unacknowledged message (its whole
# worker died) to another worker, is sized above the hard limit (66 min), so a task still
# running is never delivered twice; the sweeps recover releases and checks sooner.
CURATION_JOB_TIME_LIMIT = int(os.environ.get("CURATION_JOB_TIME_LIMIT", "3600"))
CELERY_TASK_SOFT_TIME_LIMIT = CURATION_JOB_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = CURATION_JOB_TIME_LIMIT + 60
# Nothing reads task results (job state lives in the database); not subscribing to a result
# also spares the web process the result store's 19 s reconnect loop when Redis is down.
CELERY_TASK_IGNORE_RESULT = True
# Redis unreachable: a request that enqueues a job gives up quickly (measured: 0.3 s when the
# connection is refused, 5 s when Redis accepts and never answers; was a 19 s hang, then a
# 500). The committed write stands, the job is recorded as pending and a sweep enqueues it
# later (core/jobs.py).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_TASK_TIME_LIMIT + 300,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
CELERY_REDIS_SOCKET_TIMEOUT = 5
# A worker keeps retrying its broker connection when Redis goes away (and at startup).
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
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
    "resume-stale-seed-classifications": {
        "task": "annotation.tasks.resume_stale_seed_classifications",
        "schedule": timedelta(minutes=5),
    },
    "requeue-stale-releases": {
        "task": "exports.tasks.requeue_stale_releases",
        "schedule": timedelta(minutes=2),
    },
    "requeue-unchecked-rewrites": {
        "task": "quality.tasks.requeue_unchecked_rewrites",
        "schedule": timedelta(minutes=5),
    },
}

# --- Logs ------------------------------------------------------------------------------------
# One line per request (request id, user id, campaign, method, path, status, duration), one per
# service transition (its Event kind and ids, core.transitions) and per Celery task start / end
# / retry / failure (task id, config.celery_app): JSON lines with CURATION_LOG_FORMAT=json
# (production's default), readable text otherwise; Celery's worker and beat use this too.
# Never a password, token, secret or seed text (core.logs). DJANGO_LOG_LEVEL sets the level.
CURATION_LOG_FORMAT = os.environ.get("CURATION_LOG_FORMAT", "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.logs.ContextFilter"}},
    "formatters": {
        "text": {"()": "core.logs.TextFormatter"},
        "json": {"()": "core.logs.JSONFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": CURATION_LOG_FORMAT if CURATION_LOG_FORMAT in ("text", "json") else "text",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # Request lines come from core.logs; Django's own access/5xx lines would repeat them.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # SQL with its parameters (passwords' hashes, seed text) never, even at DEBUG.
        "django.db.backends": {"level": "INFO"},
        # Task lines come from config.celery_app. Celery's own would repeat them with the
        # task's arguments, return value and full exception text (which can quote input).
        "celery.app.trace": {"level": "CRITICAL"},
    },
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
# Seed and response imports read a stream: one line (one JSON-array element) at most this long,
# a .gz at most this much once decompressed, and the first N bad lines listed (all counted).
CURATION_IMPORT_MAX_LINE_BYTES = int(
    os.environ.get("CURATION_IMPORT_MAX_LINE_BYTES", str(1024 * 1024))
)
CURATION_IMPORT_MAX_DECOMPRESSED_BYTES = int(
    os.environ.get("CURATION_IMPORT_MAX_DECOMPRESSED_BYTES", str(4 * 1024**3))
)
CURATION_IMPORT_MAX_REPORTED_ERRORS = int(
    os.environ.get("CURATION_IMPORT_MAX_REPORTED_ERRORS", "1000")
)
# --- Model-assisted curation (annotation.services.assist) -------------------------------------
# A campaign names the environment variable that holds its model endpoint's API key; only
# variables whose name is this prefix or starts with it and "_" may be named, so a curator can
# never have another secret of the server (the database URL, SECRET_KEY) sent to an endpoint.
CURATION_MODEL_KEY_PREFIX = os.environ.get("CURATION_MODEL_KEY_PREFIX", "CURATION_MODEL_KEY")
# Hosts a campaign's model endpoint may be on, comma-separated ("api.openai.com,10.0.0.5");
# empty: any host on a public address. Production deployments should set it (the server calls
# the URL a curator enters). A listed host may be on a loopback or private address (a local
# Ollama or vLLM); without the list such addresses are called only where
# CURATION_MODEL_ALLOW_PRIVATE is on (the development and test settings).
CURATION_MODEL_ALLOWED_HOSTS = [
    host.strip().lower()
    for host in os.environ.get("CURATION_MODEL_ALLOWED_HOSTS", "").split(",")
    if host.strip()
]
CURATION_MODEL_ALLOW_PRIVATE = env_bool("CURATION_MODEL_ALLOW_PRIVATE", False)
# Model calls a person waits for (suggestions, hints, connection tests) running at once in one
# server process: a slow endpoint holds at most this many of its threads (default: half of
# gunicorn's GUNICORN_THREADS). Campaign limits (calls at once, per minute) come on top.
CURATION_MODEL_CALLS_PER_PROCESS = int(
    os.environ.get(
        "CURATION_MODEL_CALLS_PER_PROCESS",
        max(1, int(os.environ.get("GUNICORN_THREADS", "4")) // 2),
    )
)
# --- File storage ---------------------------------------------------------------------------
# Three stores, all through Django's storage API:
# - "staticfiles": whitenoise's compressed, hashed files, built by `collectstatic` (the install
#   step of `make serve` and the Dockerfile); in DEBUG Django serves them from static/.
# - "default": uploads waiting to be checked and imported (seed files);
# - "releases": the files of finished releases, keyed <campaign>/<release>/<file>. A release job
#   builds its files in a local temporary folder, saves each into this store (overwriting what
#   an earlier attempt left) and only then marks the release done; downloads stream from it.
# Locally both are folders (MEDIA_ROOT, RELEASES_DIR) that the web server and the worker must
# share; each follows its setting when a test or command moves it. With CURATION_S3_BUCKET set
# they live in S3-compatible object storage (django-storages; AWS_S3_ENDPOINT_URL for MinIO,
# Ceph, R2...), so web servers and workers on different machines share nothing but the bucket:
# uploads under uploads/, releases under releases/. Credentials come from the usual
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment variables (or the instance's role),
# never from these settings. Downloads read the object's HTTP body as it arrives (never the
# whole file in memory); tests/test_storage_s3.py runs all of it against moto's S3 server.
CURATION_S3_BUCKET = os.environ.get("CURATION_S3_BUCKET", "")
if CURATION_S3_BUCKET:
    _s3 = {
        "bucket_name": CURATION_S3_BUCKET,
        "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
        "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
        "default_acl": None,
        "querystring_auth": True,
        # A file read through the storage API (a seed file being checked) spills to a
        # temporary file past 8 MB instead of being held in memory.
        "max_memory_size": 8 * 1024 * 1024,
    }
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        # Two uploads of "seeds.jsonl" in a month get two keys (a suffix), as on disk.
        "OPTIONS": {**_s3, "location": "uploads", "file_overwrite": False},
    }
    _releases_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        # A release built again (a redelivered job) replaces its files under the same keys.
        "OPTIONS": {**_s3, "location": "releases", "file_overwrite": True},
    }
else:
    # No location: Django's FileSystemStorage follows MEDIA_ROOT (tests move it).
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    # A folder that follows RELEASES_DIR; files are written whole and overwritten.
    _releases_storage = {
        "BACKEND": "core.storage.SettingFolderStorage",
        "OPTIONS": {"setting": "RELEASES_DIR"},
    }
STORAGES = {
    "default": _default_storage,
    "releases": _releases_storage,
    # Production (production.py) serves compressed files with hashed names (whitenoise's
    # manifest storage, filled by collectstatic); elsewhere the files are read where they are.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# How long an invitation link stays valid.
INVITATION_DAYS = int(os.environ.get("CURATION_INVITATION_DAYS", "14"))
