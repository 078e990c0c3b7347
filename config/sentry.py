"""Error reporting to Sentry, or any service that speaks its protocol (GlitchTip, a self-hosted
Sentry), when SENTRY_DSN is set; nothing otherwise. Django and Celery errors are reported with
the request id and task id; no personal data (no user email, no IP address, no request body,
no cookies) is sent."""

import os
from typing import TYPE_CHECKING, Any

from core import logs

if TYPE_CHECKING:
    from sentry_sdk._types import Event

# Headers whose value is a credential or a person's address; sentry-sdk filters most of these
# itself without send_default_pii, this is the second lock.
_SECRET_HEADERS = {
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-csrftoken",
    "x-api-key",
    "x-forwarded-for",
    "x-real-ip",
}


def _scrub(event: "Event", hint: dict[str, Any]) -> "Event | None":
    """Drop what could hold a secret or user text before an event leaves the process, and tag
    the event with the ids of its log context (request id, task id, campaign, user id), so
    the report and the log lines find each other."""
    request: Any = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "query_string", "env"):
            request.pop(key, None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            for name in list(headers):
                if name.lower() in _SECRET_HEADERS:
                    headers[name] = "[removed]"
    user: Any = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    tags: Any = event.setdefault("tags", {})
    if isinstance(tags, dict):
        for name, value in logs.context().items():
            tags.setdefault(name, str(value))
    return event


def sentry_init() -> bool:
    """Start the Sentry SDK when SENTRY_DSN is set. True if it started."""
    dsn = os.environ.get("SENTRY_DSN", "")
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    from config import __version__

    sentry_sdk.init(
        dsn=dsn,
        release=f"codearena-curation@{__version__}",
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(monitor_beat_tasks=False),
            LoggingIntegration(event_level=None),  # errors are reported as exceptions, once
        ],
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
        before_send=_scrub,
        before_send_transaction=_scrub,  # traces (SENTRY_TRACES_SAMPLE_RATE) carry a request too
    )
    return True
