"""Playwright with Debian's Chromium (no browser download): launch flags that keep Chromium off
the network, a logged-in page helper, and a folder for screenshots that CI keeps out of the
repository (``test-artifacts/``, in .gitignore)."""

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer

from .conftest import require

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "needs Playwright for Python (pip install playwright)")
    require(Path(CHROMIUM).is_file(), f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    # Playwright runs an event loop in this thread; the ORM calls made by the test itself are
    # still synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Every page reports what its Content-Security-Policy blocked (an inline script or style, an
# outside origin) as a console message the fixture collects.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.effectiveDirective + " blocked " + (e.blockedURI || "inline")
    + " in " + e.documentURI + (e.sample ? " (" + e.sample + ")" : ""));
});
"""


def watch_page(page: Any, script_errors: list[str]) -> None:
    """Collect ``page``'s uncaught script errors and Content-Security-Policy violations."""
    page.on("pageerror", lambda exc: script_errors.append(str(exc)))

    def console(message: Any) -> None:
        text = message.text
        if message.type == "error" and (
            text.startswith("CSP violation") or "Content Security Policy" in text
        ):
            script_errors.append(text)

    page.on("console", console)


@pytest.fixture
def new_page(chromium: Any, live_server: Any) -> Iterator[Any]:
    """Factory: a fresh browser context (1366x768) logged in as ``username``. An uncaught
    script error on any of its pages (a module that fails to load or throws) or anything the
    Content-Security-Policy blocked fails the test."""
    contexts = []
    script_errors: list[str] = []

    def make(username: str, password: str) -> Any:
        context = chromium.new_context(viewport={"width": 1366, "height": 768})
        track_requests(context)
        contexts.append(context)
        context.add_init_script(CSP_LISTENER)
        context.on("page", lambda p: watch_page(p, script_errors))
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    yield make
    for context in contexts:
        if getattr(context, "closed", False):  # the test closed it already
            continue
        quiesce(context)
        context.close()
    wait_for_live_server_idle()
    assert not script_errors, f"script errors or CSP violations in the page: {script_errors}"


def wait_for_live_server_idle(timeout: float = 10) -> None:
    """Wait until the live server has answered every request it received. Closing a page sends
    its save-on-leave as a keepalive request, which Playwright cannot intercept; if it were
    still running when the test database is flushed, the flush would deadlock on PostgreSQL."""
    time.sleep(0.5)  # let a request sent while closing be accepted
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(map(_serves_the_live_server, threading.enumerate())):
        time.sleep(0.05)


def _serves_the_live_server(thread: threading.Thread) -> bool:
    """Whether ``thread`` answers a request of Django's live server. Other servers of the tests
    (the fake model endpoint, fake Redis peers) run handler threads of the same name, and a
    connection they keep alive must not hold up the end of a browser test."""
    target = getattr(thread, "_target", None)  # gone once the thread has finished
    server = getattr(target, "__self__", None)
    return isinstance(server, ThreadedWSGIServer)


def track_requests(context: Any) -> None:
    """Count the context's requests in flight (``context.in_flight``)."""
    context.in_flight = 0

    def started(_request: Any) -> None:
        context.in_flight += 1

    def ended(_request: Any) -> None:
        context.in_flight -= 1

    context.closed = False
    context.on("close", lambda _context: setattr(context, "closed", True))
    context.on("request", started)
    context.on("requestfinished", ended)
    context.on("requestfailed", ended)


def quiesce(context: Any) -> None:
    """Stop a context's pages from reaching the live server (autosave timers, previews, the
    save on leaving the page) and let requests in flight finish. Otherwise a request can still
    hold row locks while the test database is flushed, which deadlocks on PostgreSQL."""
    context.route("**/*", lambda route: route.abort())
    deadline = time.monotonic() + 10
    while getattr(context, "in_flight", 0) > 0 and time.monotonic() < deadline:
        for page in context.pages[:1]:
            page.wait_for_timeout(50)  # lets Playwright deliver the request events
        if not context.pages:
            break


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
