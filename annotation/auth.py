"""Accounts: closed sign-up, case-insensitive email addresses, and the password-guessing guard.

Every password check (the API token endpoint, the allauth login form, ``/admin/login/``) goes
through ``django.contrib.auth.authenticate``, where django-axes counts failures per client
address (``core.clientip``: the address the trusted proxies vouch for) and per account (named by
``lockout_username``, so "cura", "CURA" and cura's email address are one account). Past
``AXES_FAILURE_LIMIT`` failures within ``AXES_COOLOFF_TIME`` every check is refused, even with
the right password, and ``lockout_response`` says so: 429 JSON with ``Retry-After`` for the API,
the site's error page with the same status for pages.
"""

import math
from datetime import timedelta
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.auth_backends import AuthenticationBackend
from allauth.account.forms import ResetPasswordForm
from axes.backends import AxesBackend  # type: ignore[import-untyped]
from axes.helpers import get_cool_off  # type: ignore[import-untyped]
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.throttling import ScopedRateThrottle

from core.clientip import client_ip

LOCKOUT_MESSAGE = (
    "Too many failed login attempts for this account or from this address. Logging in is "
    "blocked for {minutes} minutes, even with the right password; try again later or ask an "
    "operator to lift the block."
)


class ClosedSignupAccountAdapter(DefaultAccountAdapter):
    """Accounts are created by curators (``add_member``), never by open sign-up."""

    def is_open_for_signup(self, request) -> bool:  # noqa: ANN001
        return False

    def get_client_ip(self, request: HttpRequest) -> str:
        """allauth's own rate limits (login, password reset) count per the trusted address."""
        return client_ip(request)


def _users_by_email(email: str) -> list[Any]:
    return list(
        get_user_model().objects.filter(email__iexact=email.strip(), is_active=True).order_by("pk")
    )


class EmailCaseInsensitiveBackend(AuthenticationBackend):
    """allauth's login by username or email, finding an account whose stored address differs
    from the typed one only in case (allauth lowercases the typed address and compares exactly,
    so an address stored as ``CurA@x.invalid`` could never log in or reset)."""

    def _authenticate_by_email(self, email: str, password: str) -> AbstractBaseUser | None:
        user = super()._authenticate_by_email(email, password)
        if user is not None or "@" not in (email or ""):
            return user
        for candidate in _users_by_email(email):
            checked = self._check_password(candidate, password)
            if checked is not None:
                return checked
        return None


class CaseInsensitiveResetPasswordForm(ResetPasswordForm):
    """Password reset for ``curA@x.invalid`` reaches the account of ``cura@x.invalid`` (and the
    other way round)."""

    users: list[Any]

    def clean_email(self) -> str:
        email = super().clean_email()
        if not self.users:
            self.users = _users_by_email(email)
        return email


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The account a login attempt is counted against: the existing account's username when the
    login names one (by username, or by email in any case), else the typed name in lower case."""
    credentials = credentials or {}
    typed = credentials.get("username") or credentials.get("email") or credentials.get("login")
    if typed is None:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        typed = data.get("username") or data.get("login") or data.get("email")
    if not isinstance(typed, str) or not typed.strip():
        return None
    typed = typed.strip()[:150]
    users = get_user_model().objects
    user = users.filter(username__iexact=typed).order_by("pk").first()
    if user is None and "@" in typed:
        user = users.filter(email__iexact=typed).order_by("pk").first()
    return user.get_username() if user is not None else typed.lower()


class LockoutBackend(AxesBackend):
    """django-axes' gate (first in AUTHENTICATION_BACKENDS): refuses every password check while
    the client address or the account is locked out. A check without a request is not a web
    login (a management command, a test's ``Client.login``): there is no client address to count
    and nothing to refuse. Every web login passes its request (Django's admin and auth views,
    allauth, DRF's token serializer; tests/test_security_auth.py proves the three). As axes'
    AxesBackend it is also a ModelBackend, so a session logged in through it (``login(request,
    user)`` picks the first backend) finds its user again."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        super().authenticate(request, username=username, password=password, **kwargs)
        return None


def lockout_minutes() -> int:
    cool_off = get_cool_off() or timedelta(minutes=15)
    return max(1, math.ceil(cool_off.total_seconds() / 60))


def lockout_body() -> dict[str, str]:
    """The API's answer to a locked-out password check (with ``Retry-After``)."""
    return {
        "detail": LOCKOUT_MESSAGE.format(minutes=lockout_minutes()),
        "code": "locked_out",
    }


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' answer to a locked-out login: JSON for the API, the error page otherwise."""
    minutes = lockout_minutes()
    message = LOCKOUT_MESSAGE.format(minutes=minutes)
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(lockout_body(), status=429)
    else:
        response = render(
            request,
            "error.html",
            {"title": "Too many login attempts", "message": message},
            status=429,
        )
    response["Retry-After"] = str(minutes * 60)
    response["Cache-Control"] = "private, no-store"
    return response


class ClientAddressRateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle counted per the trusted client address (``core.clientip``)."""

    def get_ident(self, request: Any) -> str:
        return client_ip(request)
