"""Browser tests: a real server on 127.0.0.1 and Debian's headless Chromium via Playwright.

The server runs the real app on its own scratch SQLite database, built by the migrations and
loaded with the reference and demo data, because the browser needs committed data.
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


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
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
        seed_demo(db.session, utcnow())
        db.session.commit()
        db.session.remove()
    app.config["LIVE_PORT"] = port
    return app


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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()
