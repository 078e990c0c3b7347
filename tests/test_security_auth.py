"""Hardening of accounts: password guessing is locked out per trusted client address and per
account (the API token endpoint, the allauth login form and /admin/login/), X-Forwarded-For
cannot choose the address a request is counted under, email addresses match whatever their
case, production never prints email to the console, `check --deploy` stays clean, and
authenticated responses are never cached by anyone else."""

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.core import mail
from django.core.cache import cache
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.services import user_ensure
from core.clientip import client_ip

from .conftest import api_for
from .test_releases import released_world  # noqa: F401 - fixture

API = "/api/v1"
ROOT = Path(__file__).resolve().parent.parent
GUESSES = 50


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """DRF's throttle history lives in the cache, which outlives a test's transaction."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def cura(db):
    user = user_ensure(username="cura", email="cura@x.invalid", password="right-horse-battery")
    return user


@pytest.fixture
def operator(db):
    user = user_ensure(username="op", email="op@x.invalid", password="operator-secret-42")
    user.is_staff = user.is_superuser = True
    user.save()
    return user


def _xff(i: int) -> str:
    return f"198.51.{i % 250}.{i % 200 + 1}"


# --- the trusted client address -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "remote", "xff", "expected"),
    [
        (0, "10.0.0.9", "1.2.3.4", "10.0.0.9"),  # no proxy: the header is the client's word
        (0, "10.0.0.9", None, "10.0.0.9"),
        (1, "10.0.0.1", "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # the proxy's entry, not the spoof
        (2, "10.0.0.2", "6.6.6.6, 203.0.113.7, 10.0.0.1", "203.0.113.7"),
        (2, "10.0.0.9", "203.0.113.7", "10.0.0.9"),  # fewer entries: did not come via the proxies
        (1, "10.0.0.1", "not-an-address", "10.0.0.1"),
        (1, "10.0.0.1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_ip_trusts_exactly_the_configured_proxies(count, remote, xff, expected):
    meta = {"REMOTE_ADDR": remote}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    request = RequestFactory().get("/", **meta)
    with override_settings(CURATION_TRUSTED_PROXY_COUNT=count):
        assert client_ip(request) == expected


# --- lockout: the API token endpoint --------------------------------------------------------------


def _token(client, username, password, xff=None):
    extra = {"HTTP_X_FORWARDED_FOR": xff} if xff else {}
    return client.post(
        f"{API}/auth/token/", {"username": username, "password": password}, format="json", **extra
    )


@pytest.mark.parametrize("proxies", [0, 1])
def test_token_endpoint_locks_out_after_wrong_guesses_whatever_x_forwarded_for(cura, proxies):
    client = APIClient()
    with override_settings(CURATION_TRUSTED_PROXY_COUNT=proxies):
        statuses = set()
        for i in range(GUESSES):
            # Rotate the whole header: with a trusted proxy the "client" address changes too,
            # as from a botnet; the account is still counted as one.
            r = _token(client, "cura", f"wrong-{i}", xff=f"{_xff(i)}, {_xff(i + 7)}")
            statuses.add(r.status_code)
            cache.clear()  # take DRF's per-address rate limit out of the picture
        assert statuses <= {400, 429}
        assert 429 in statuses
        r = _token(client, "cura", "right-horse-battery", xff="192.0.2.200, 192.0.2.201")
    assert r.status_code == 429, r.content
    body = r.json()
    assert body["code"] == "locked_out"
    assert "Too many failed login attempts" in body["detail"]
    assert int(r["Retry-After"]) > 0
    assert "token" not in body


def test_token_lockout_is_per_account_whatever_the_case_or_email_used(cura):
    client = APIClient()
    names = ["cura", "CURA", "Cura", "cura@x.invalid", "CurA@X.invalid"]
    for i in range(GUESSES):
        _token(client, names[i % len(names)], f"wrong-{i}", xff=_xff(i))
        cache.clear()
    # Another address entirely (REMOTE_ADDR too): the account itself is locked.
    r = client.post(
        f"{API}/auth/token/",
        {"username": "cura", "password": "right-horse-battery"},
        format="json",
        REMOTE_ADDR="192.0.2.99",
    )
    assert r.status_code == 429


def test_token_lockout_blocks_the_address_for_other_accounts(cura, db):
    other = user_ensure(username="curb", password="curb-password-77")
    client = APIClient()
    for i in range(GUESSES):
        _token(client, f"nobody{i}", "wrong", xff=_xff(i))  # spraying usernames
        cache.clear()
    r = _token(client, other.username, "curb-password-77")
    assert r.status_code == 429


def test_lockout_expires_after_the_cool_off(cura):
    client = APIClient()
    for i in range(12):
        _token(client, "cura", f"wrong-{i}")
        cache.clear()
    assert _token(client, "cura", "right-horse-battery").status_code == 429
    # Move the failures back past the cool-off window, as time passing would.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(hours=2))
    cache.clear()
    r = _token(client, "cura", "right-horse-battery")
    assert r.status_code == 200, r.content
    assert r.json()["token"]
    assert r["Cache-Control"] == "no-store"


def test_logging_into_ones_own_account_between_guesses_does_not_reset_the_count(cura, db):
    user_ensure(username="mallory", password="mallory-own-pass-1")
    client = APIClient()
    for i in range(GUESSES):
        if i % 5 == 4:
            assert _token(client, "mallory", "mallory-own-pass-1").status_code in {200, 429}
        _token(client, "cura", f"wrong-{i}", xff=_xff(i))
        cache.clear()
    r = client.post(
        f"{API}/auth/token/",
        {"username": "cura", "password": "right-horse-battery"},
        format="json",
        REMOTE_ADDR="192.0.2.98",
    )
    assert r.status_code == 429


def test_few_wrong_guesses_do_not_lock_out(cura):
    client = APIClient()
    for i in range(3):
        assert _token(client, "cura", f"wrong-{i}").status_code == 400
    assert _token(client, "cura", "right-horse-battery").status_code == 200


def test_token_throttle_ignores_a_rotating_x_forwarded_for(cura):
    """DRF's own per-address rate limit (20/min) is keyed on the trusted address: a new
    X-Forwarded-For per request does not reset it."""
    client = APIClient()
    with override_settings(AXES_ENABLED=False):
        statuses = [
            _token(client, f"nobody{i}", "wrong", xff=_xff(i)).status_code for i in range(30)
        ]
    assert statuses[:20] == [400] * 20
    assert set(statuses[20:]) == {429}


# --- lockout: the allauth login form and the admin login ------------------------------------------


def _login_page(client, login, password, xff):
    return client.post(
        "/accounts/login/", {"login": login, "password": password}, HTTP_X_FORWARDED_FOR=xff
    )


def test_allauth_login_locks_out_after_wrong_guesses_whatever_x_forwarded_for(cura):
    client = Client()
    # allauth's own limit (5 per account per 5 min) and axes both refuse; rotate everything.
    with override_settings(ACCOUNT_RATE_LIMITS=False):
        for i in range(GUESSES):
            r = _login_page(client, "cura", f"wrong-{i}", _xff(i))
            assert r.status_code in {200, 429}
        r = _login_page(client, "cura", "right-horse-battery", "192.0.2.1")
    assert r.status_code == 429
    text = r.content.decode()
    assert "Too many failed login attempts" in text
    assert "<html" in text  # the site's error page, not a bare string
    assert int(r["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session
    # The email form of the account is the same account.
    with override_settings(ACCOUNT_RATE_LIMITS=False):
        r = _login_page(client, "CURA@x.invalid", "right-horse-battery", "192.0.2.2")
    assert r.status_code == 429


def test_allauth_login_works_before_any_lockout(cura):
    client = Client()
    r = _login_page(client, "CurA@X.invalid", "right-horse-battery", "192.0.2.1")
    assert r.status_code == 302
    assert client.session["_auth_user_id"] == str(cura.pk)


def test_admin_login_locks_out_after_wrong_guesses_whatever_x_forwarded_for(operator):
    client = Client()
    for i in range(GUESSES):
        r = client.post(
            "/admin/login/?next=/admin/",
            {"username": "op", "password": f"wrong-{i}"},
            HTTP_X_FORWARDED_FOR=_xff(i),
        )
        assert r.status_code in {200, 429}
    r = client.post(
        "/admin/login/?next=/admin/",
        {"username": "op", "password": "operator-secret-42"},
        HTTP_X_FORWARDED_FOR="192.0.2.3",
    )
    assert r.status_code == 429
    assert "Too many failed login attempts" in r.content.decode()
    assert client.get("/admin/").status_code == 302  # still not logged in


# --- email: case-insensitive addresses, never the console in production ---------------------------


@pytest.mark.parametrize(
    ("stored", "typed"),
    [("cura@x.invalid", "curA@x.invalid"), ("CurA@X.invalid", "cura@x.invalid")],
)
def test_password_reset_finds_the_account_whatever_the_case(db, stored, typed):
    user = user_ensure(username="cura", email=stored, password="right-horse-battery")
    mail.outbox.clear()
    r = Client().post("/accounts/password/reset/", {"email": typed})
    assert r.status_code == 302, r.content.decode()[:2000]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert [address.lower() for address in message.to] == [stored.lower()]
    # The link resets *this* account's password.
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", message.body)
    assert link, message.body
    client = Client()
    r = client.get(link.group(1), follow=True)
    form_url = r.redirect_chain[-1][0] if r.redirect_chain else link.group(1)
    r = client.post(
        form_url, {"password1": "a-new-long-pass-93", "password2": "a-new-long-pass-93"}
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    user.refresh_from_db()
    assert user.check_password("a-new-long-pass-93")


def test_login_by_email_whatever_the_case_of_the_stored_address(db):
    user = user_ensure(username="cura", email="CurA@X.invalid", password="right-horse-battery")
    client = Client()
    r = client.post(
        "/accounts/login/", {"login": "cura@x.invalid", "password": "right-horse-battery"}
    )
    assert r.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def _production_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "EMAIL_")) and key != "DATABASE_URL"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="a-production-like-secret-key-" + "x" * 40 + "-not-used-anywhere-else",
        DJANGO_ALLOWED_HOSTS="curation.example.org",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://curation.example.org",
    )
    env.update(extra)
    return env


def _run_production(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=_production_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_sends_email_over_smtp_never_the_console():
    done = _run_production(
        "from django.conf import settings; print(settings.EMAIL_BACKEND, settings.EMAIL_HOST)",
        EMAIL_HOST="smtp.example.org",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.org",
    ]

    # No EMAIL_HOST: refuses to start rather than fall back to printing reset links.
    done = _run_production("print('started')")
    assert done.returncode != 0
    assert "EMAIL_HOST" in done.stderr

    for backend in ("console", "filebased", "locmem"):
        done = _run_production(
            "print('started')",
            EMAIL_HOST="smtp.example.org",
            DJANGO_EMAIL_BACKEND=f"django.core.mail.backends.{backend}.EmailBackend",
        )
        assert done.returncode != 0, backend
        assert "started" not in done.stdout


def test_check_deploy_is_clean_with_production_settings():
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production_env(EMAIL_HOST="smtp.example.org"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


# --- Cache-Control on authenticated responses -----------------------------------------------------


def test_authenticated_pages_and_api_are_private_no_store(world):
    world.add_seeds(2)
    curator = world.curator
    slug = world.campaign.slug
    client = Client()
    client.force_login(curator)
    for url in ["/", f"/campaigns/{slug}/dashboard/", f"/campaigns/{slug}/dashboard/funnel.csv"]:
        r = client.get(url)
        assert r.status_code == 200, url
        assert r["Cache-Control"] == "private, no-store", url
    r = api_for(curator).get(f"{API}/campaigns/{slug}/stats/")
    assert r.status_code == 200
    assert r["Cache-Control"] == "private, no-store"
    # An error for an authenticated request is private too.
    r = api_for(curator).get(f"{API}/campaigns/nope/stats/")
    assert r.status_code == 404
    assert r["Cache-Control"] == "private, no-store"


def test_anonymous_responses_are_left_alone(db):
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse

    from core.cache import PrivateCacheMiddleware

    request = RequestFactory().get("/accounts/password/reset/")
    request.user = AnonymousUser()
    assert not PrivateCacheMiddleware(lambda r: HttpResponse("x"))(request).has_header(
        "Cache-Control"
    )
    # A request carrying a token (even a bad one) is treated as authenticated.
    request = RequestFactory().get("/api/v1/campaigns/", HTTP_AUTHORIZATION="Token nope")
    request.user = AnonymousUser()
    response = PrivateCacheMiddleware(lambda r: HttpResponse("x"))(request)
    assert response["Cache-Control"] == "private, no-store"


def test_an_explicit_cache_control_is_kept(world):
    from django.http import HttpResponse

    from core.cache import PrivateCacheMiddleware

    def view(request):
        response = HttpResponse("x")
        response["Cache-Control"] = "max-age=60"
        return response

    request = RequestFactory().get("/x/")
    request.user = world.curator
    assert PrivateCacheMiddleware(view)(request)["Cache-Control"] == "max-age=60"
    request = RequestFactory().get("/static/css/app.css")
    request.user = world.curator
    assert not PrivateCacheMiddleware(lambda r: HttpResponse("x"))(request).has_header(
        "Cache-Control"
    )


def test_exports_release_files_and_zip_are_private_no_store(
    released_world,  # noqa: F811 - the fixture imported above
    tmp_path,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.RELEASES_DIR = tmp_path / "releases"
    world = released_world
    curator = api_for(world.curator)
    slug = world.campaign.slug
    with django_capture_on_commit_callbacks(execute=True):
        res = curator.post(f"{API}/campaigns/{slug}/releases/", {"name": "v1"}, format="json")
    assert res.status_code == 202, res.content
    detail = curator.get(f"{API}/releases/{res.json()['id']}/").json()
    assert detail["status"] == "done"
    urls = [f["url"] for f in detail["files"]]
    urls.append(reverse("release-download", kwargs={"pk": detail["id"]}))
    urls += [
        f"{API}/campaigns/{slug}/browse/seeds.csv",
        f"{API}/campaigns/{slug}/browse/rewrites.jsonl",
    ]
    browser = Client()
    browser.force_login(world.curator)  # the pages' links use the session
    for url in urls:
        for client in (curator, browser):
            r = client.get(url)
            assert r.status_code == 200, url
            assert r["Cache-Control"] == "private, no-store", url
