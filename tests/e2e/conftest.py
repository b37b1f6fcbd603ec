"""Browser tests: a real server on 127.0.0.1 and Debian's headless Chromium via Playwright.

The server runs the real app on its own scratch SQLite database, built by the migrations and
loaded with the reference and demo data, because the browser needs committed data.

Every browser context a test opens reports Content-Security-Policy violations, console
errors and uncaught page errors; a test fails at its end if there was any (the pages must
satisfy the strict CSP of ``hazwaste.security``).
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from hazwaste import create_app
from hazwaste.extensions import db
from tests.conftest import test_config

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_live_app(tmp_path_factory: pytest.TempPathFactory, history: bool = False) -> Any:
    """The app on a fresh migrated SQLite file with reference and demo data (``history``:
    also the demo's weeks of manifests, flags and cases, as ``flask seed-demo``)."""
    from flask_migrate import upgrade

    from hazwaste.catalog.services import load_reference_data
    from hazwaste.db import utcnow
    from hazwaste.demo.services import seed_demo

    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'e2e.db'}"
    port = _free_port()
    app = create_app(
        test_config(url, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", WTF_CSRF_ENABLED=True)
    )
    with app.app_context():
        upgrade()
        load_reference_data(db.session)
        seed_demo(db.session, utcnow(), history=history)
        db.session.commit()
        db.session.remove()
    app.config["LIVE_PORT"] = port
    return app


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_live_app(tmp_path_factory)


@pytest.fixture(scope="module")
def live_server(live_app: Any) -> Iterator[str]:
    port = live_app.config["LIVE_PORT"]
    server = make_server("127.0.0.1", port, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


#: Installed in every page before its own scripts: a violation is reported to the test at
#: once (a later ``evaluate`` would miss violations of pages navigated away from).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.__hazwasteReport("CSP " + e.violatedDirective + " blocked " + (e.blockedURI || "inline")
    + " at " + e.documentURI + " (" + (e.sourceFile || "") + ":" + e.lineNumber + ")"
    + (e.sample ? " sample " + e.sample : ""));
});
"""


class GuardedBrowser:
    """The Playwright browser, whose ``new_context`` adds the violation and error reports.

    ``problems`` collects them; ``take_problems()`` empties it (the autouse fixture below
    checks it after every test).
    """

    def __init__(self, browser: Any) -> None:
        self._browser = browser
        self.problems: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)

    def new_context(self, **kwargs: Any) -> Any:
        context = self._browser.new_context(**kwargs)
        context.expose_function("__hazwasteReport", self._report)
        context.add_init_script(CSP_LISTENER)
        context.on("console", self._console)
        context.on("response", self._response)
        context.on("weberror", lambda error: self.problems.append(f"page error: {error.error}"))
        return context

    def _report(self, text: str) -> None:
        self.problems.append(text)

    def _console(self, message: Any) -> None:
        # A page answered 4xx is how the app shows field errors (a 422 form) or refusals;
        # Chromium logs it as "Failed to load resource". Failed assets are caught below.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console error: {message.text} at {message.location}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"{response.status} for {response.url}")

    def take_problems(self) -> list[str]:
        taken, self.problems[:] = list(self.problems), []
        return taken


@pytest.fixture(scope="module")
def browser() -> Iterator[GuardedBrowser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield GuardedBrowser(instance)
        finally:
            instance.close()


@pytest.fixture(autouse=True)
def no_browser_problems(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a browser test: no CSP violation, console error or page error happened."""
    yield
    if "browser" in request.fixturenames:
        guarded: GuardedBrowser = request.getfixturevalue("browser")
        assert guarded.take_problems() == []
