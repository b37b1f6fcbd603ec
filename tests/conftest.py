"""Test set-up: one database per run, built by the Alembic migrations; each test in a
transaction that is rolled back.

Set ``TEST_DATABASE_URL`` to run on PostgreSQL (CI does); otherwise a temporary SQLite file
is used. Tests marked ``postgres`` need PostgreSQL and say so when it is absent; tests
marked ``browser`` need Debian's chromium.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from hazwaste import create_app
from hazwaste.extensions import db, limiter


def _test_signing_key() -> str:
    """One Ed25519 key per test run, as PEM text: checkpoints never touch ``instance/``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


TEST_SIGNING_KEY = _test_signing_key()
FAST_HASH = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
TEST_SECRET = "test-secret-key-not-for-production"


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if url:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def is_postgres(app: Flask) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


def test_config(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "PASSWORD_HASH_PARAMS": FAST_HASH,
        "PUBLIC_BASE_URL": "http://localhost",
        # No queue: tests run outbox jobs themselves (the ``run_jobs`` fixture), no threads.
        "QUEUE_URL": "off",
        "AUDIT_SIGNING_KEY": TEST_SIGNING_KEY,
        **extra,
    }


def _reset_schema(app: Flask) -> None:
    """Drop everything and rebuild with the migrations, as production does."""
    from flask_migrate import upgrade

    with app.app_context():
        if is_postgres(app):
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()
        from hazwaste.catalog.services import load_reference_data

        load_reference_data(db.session)
        db.session.commit()
        db.session.remove()


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """Compile each .po to .mo when missing or older (.mo files are not in git)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (ROOT / "hazwaste" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as src:
            catalogue = read_po(src)
        tmp = mo.with_suffix(f".{os.getpid()}.tmp")  # concurrent runs must not see half a file
        with tmp.open("wb") as out:
            write_mo(out, catalogue, use_fuzzy=True)
        tmp.replace(mo)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _database_url(tmp_path_factory)


class FreshGlobalsClient(FlaskClient):
    """A test client whose every request starts with an empty ``flask.g``, as in production.

    The ``session`` fixture keeps one app context open for the whole test and Flask reuses it
    for each request, so ``g`` (Flask-Babel's locale, Flask-Login's user) would otherwise
    carry over from one request to the next.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            vars(g._get_current_object()).clear()
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    application = create_app(test_config(database_url))
    application.test_client_class = FreshGlobalsClient
    _reset_schema(application)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture()
def session(app: Flask) -> Iterator[Session]:
    """A session inside a transaction rolled back after the test.

    The app's engine is swapped for one connection holding an open transaction, so every
    request the test makes (and every ``commit``) becomes a savepoint inside it.
    """
    with app.app_context():
        engines = db.engines
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        engines[None] = connection  # type: ignore[assignment]
        db.session.remove()
        db.session.configure(join_transaction_mode="create_savepoint")
        if app.config.get("RATELIMIT_ENABLED", True):
            limiter.reset()
        try:
            yield db.session()
        finally:
            db.session.remove()
            engines[None] = engine
            outer.rollback()
            connection.close()


@pytest.fixture()
def client(app: Flask, session: Session) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def now() -> datetime:
    return datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture()
def run_jobs(session: Session) -> Any:
    """``run_jobs(now)``: run the outbox jobs due at ``now`` as a worker would (each in its
    own transaction, here a savepoint), synchronously; returns the count of each outcome."""
    from hazwaste.jobs.outbox import run_pending

    def run(at: datetime) -> dict[str, int]:
        counts = run_pending(session, at)
        session.expire_all()
        return counts

    return run


@pytest.fixture()
def demo(session: Session, now: datetime) -> Any:
    """The demo world (see ``hazwaste.demo.services``), inside the test's transaction.

    The jobs of its seeding (the events of its approvals, told to nobody yet) are dropped, so
    a test starts with an empty outbox and counts only the jobs it makes."""
    from hazwaste.demo.services import seed_demo
    from hazwaste.jobs.models import OutboxJob

    world = seed_demo(session, now)
    session.commit()
    session.query(OutboxJob).delete()
    session.commit()
    return world


@pytest.fixture()
def reconciliation_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Events reach only the reconciliation: for tests that follow a receipt's one job chain
    (notifications and webhooks have their own tests)."""
    from hazwaste import events

    for name in ("notifications", "webhooks"):
        monkeypatch.delitem(events._SUBSCRIBERS, name, raising=False)


def forget_jobs(session: Session) -> None:
    """Commit, then drop every outbox job so far (the events of earlier hand-offs)."""
    from hazwaste.jobs.models import OutboxJob

    session.commit()
    session.query(OutboxJob).delete()
    session.commit()


def login(client: FlaskClient, email: str, password: str = "demo-pass-2026") -> None:
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def api_token(client: FlaskClient, email: str, password: str = "demo-pass-2026") -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['data']['token']}"}


CHROMIUM = shutil.which("chromium")
ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Say plainly which system components are missing instead of failing obscurely."""
    on_pg = os.environ.get("TEST_DATABASE_URL", "").startswith("postgres")
    for item in items:
        if "postgres" in item.keywords and not on_pg:
            item.add_marker(
                pytest.mark.skip(
                    reason="needs PostgreSQL: set TEST_DATABASE_URL (.ci/run starts one)"
                )
            )
        if "browser" in item.keywords and not CHROMIUM:
            item.add_marker(
                pytest.mark.skip(
                    reason="needs Debian's chromium (apt-get install chromium; .ci/run does)"
                )
            )


@pytest.fixture(autouse=True)
def _fresh_holiday_schedules() -> Iterator[None]:
    """Each test's database holds its own schedules: nothing carries over in the process's
    copy (``hazwaste.holidays.services``)."""
    from hazwaste.holidays import services as holidays

    holidays.forget()
    yield
    holidays.forget()


class Inbox:
    """What a real SMTP server (aiosmtpd, in process) received, parsed."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def smtp_inbox(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on loopback that the app sends its e-mail to."""
    from aiosmtpd.controller import Controller

    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_URL", f"smtp://127.0.0.1:{port}")
    yield handler
    controller.stop()
