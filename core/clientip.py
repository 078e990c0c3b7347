"""The client address this deployment trusts, for throttling and lockouts.

``settings.CURATION_TRUSTED_PROXY_COUNT`` says how many reverse proxies stand in front of the
application, each appending the address it received the request from to ``X-Forwarded-For``.
With 0 (the default) the header is ignored and the peer address (``REMOTE_ADDR``) is the
client; with N the client is the N-th entry from the right, the one the outermost trusted proxy
wrote. Entries further left were written by the client itself and are never trusted, so
rotating ``X-Forwarded-For`` cannot change the address a request is counted under. A header
with fewer entries than trusted proxies means the request did not come through them: the peer
address is used.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _clean(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[::1]:443"
        value = value[1 : value.index("]")]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def trusted_proxy_count() -> int:
    return max(0, int(getattr(settings, "CURATION_TRUSTED_PROXY_COUNT", 0)))


def client_ip(request: HttpRequest) -> str:
    """The client's address as far as the trusted proxies vouch for it (never empty)."""
    peer = _clean(request.META.get("REMOTE_ADDR", "") or "") or "0.0.0.0"  # noqa: S104
    count = trusted_proxy_count()
    if count == 0:
        return peer
    forwarded = [item for item in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(forwarded) < count or not forwarded[-count].strip():
        return peer
    return _clean(forwarded[-count]) or peer
