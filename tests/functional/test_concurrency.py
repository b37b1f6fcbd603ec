"""Real concurrent HTTP requests against a real server on a database with committed data.

Two drivers press "pick up" at the same moment: exactly one wins, the other gets a clear
409 naming the current status, and one event is recorded. Two submissions in the same city
at once get distinct, consecutive numbers. A retry racing its own first request (same
``Idempotency-Key``) gets the first result, never a 409.

The rolled-back ``session`` fixture cannot serve here (other connections would not see its
data), so each backend gets its own scratch database, built like production (Alembic
migrations, reference data, demo data) and dropped at the end:

- PostgreSQL (tests marked ``postgres``): ``CONCURRENCY_DATABASE_URL`` if set, otherwise a
  database named ``<TEST_DATABASE_URL's name>_concurrency``, created when missing;
- SQLite: a file in a temporary directory. ``BEGIN IMMEDIATE`` (``hazwaste.db``) makes the
  second request wait for the first and then see its outcome: a clean 409, never a 500.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from werkzeug.serving import BaseWSGIServer, make_server

from hazwaste import create_app
from hazwaste.extensions import db
from tests.conftest import test_config as config_for

PASSWORD = "demo-pass-2026"


# -- scratch databases -----------------------------------------------------------------------


def _psycopg_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _maintenance(url: str, statement: str) -> None:
    """Run one statement on the server's ``postgres`` database, outside any transaction."""
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(conninfo.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


def _postgres_database() -> tuple[str, Callable[[], None]]:
    """The scratch database's URL and how to clean it up."""
    explicit = os.environ.get("CONCURRENCY_DATABASE_URL", "").strip()
    if explicit:
        url = _psycopg_url(explicit)

        def empty() -> None:
            _reset_postgres_schema(url)

        return url, empty
    base = make_url(_psycopg_url(os.environ["TEST_DATABASE_URL"]))
    name = f"{base.database}_concurrency"
    url = base.set(database=name).render_as_string(hide_password=False)
    import psycopg

    # One left over by an interrupted run is reused: its schema is rebuilt below.
    with contextlib.suppress(psycopg.errors.DuplicateDatabase):
        _maintenance(url, f'CREATE DATABASE "{name}"')
    return url, lambda: _maintenance(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reset_postgres_schema(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


# -- the world: app, server, data ---------------------------------------------------------------


@dataclass
class World:
    app: Flask
    base: str
    ids: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, email: str, slot: int = 0) -> str:
        """A bearer token of ``email``; different slots are different tokens of one user."""
        key = f"{email}#{slot}"
        if key not in self.tokens:
            status, body = post(f"{self.base}/auth/token", {"email": email, "password": PASSWORD})
            assert status == 201, body
            self.tokens[key] = body["data"]["token"]
        return self.tokens[key]

    def query(self, stmt: Any) -> Any:
        with self.app.app_context():
            try:
                return db.session.scalar(stmt)
            finally:
                db.session.remove()


def _build(url: str) -> tuple[Flask, dict[str, Any]]:
    """Schema by the migrations, reference and demo data, manifests to race on — committed."""
    from flask_migrate import upgrade

    from hazwaste.catalog.services import load_reference_data
    from hazwaste.db import utcnow
    from hazwaste.demo.services import seed_demo
    from hazwaste.manifests.services import local_date
    from tests.manifest_factories import make_draft, make_submitted

    app = create_app(config_for(url))
    with app.app_context():
        upgrade()
        load_reference_data(db.session)
        now = utcnow()
        demo = seed_demo(db.session, now)
        today = local_date(now)
        pickups = [make_submitted(db.session, now, demo, planned_date=today) for _ in range(2)]
        drafts = [make_draft(db.session, now, demo, planned_date=today) for _ in range(2)]
        db.session.commit()
        ids = {
            "pickups": [m.id for m in pickups],
            "lines": {m.id: [ln.id for ln in m.lines] for m in pickups},
            "drafts": [m.id for m in drafts],
            "vehicle": demo.extra["vehicles"][0].id,
        }
        db.session.remove()
    return app, ids


def _serve(app: Flask) -> tuple[BaseWSGIServer, threading.Thread]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    if request.param == "postgresql":
        url, cleanup = _postgres_database()
        _reset_postgres_schema(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('race') / 'race.db'}"
        cleanup = lambda: None  # noqa: E731  (the temporary directory goes by itself)
    app, ids = _build(url)
    server, thread = _serve(app)
    try:
        yield World(app, f"http://127.0.0.1:{server.server_port}/api/v1", ids)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        cleanup()


# -- HTTP -------------------------------------------------------------------------------------


def post(url: str, body: Any, token: str | None = None) -> tuple[int, Any]:
    status, payload, _headers = _request(url, body, token)
    return status, payload


def _request(
    url: str, body: Any, token: str | None = None, key: str | None = None
) -> tuple[int, Any, dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["Idempotency-Key"] = key
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def at_once(*calls: tuple[str, Any, str, str | None]) -> list[tuple[int, Any, dict[str, str]]]:
    """Send the requests from parallel threads released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def send(index: int, url: str, body: Any, token: str, key: str | None) -> None:
        barrier.wait()
        results[index] = _request(url, body, token, key)

    threads = [threading.Thread(target=send, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert all(r is not None for r in results), results
    return results


def picked_up_events(world: World, manifest_id: int) -> int:
    from hazwaste.manifests.models import EventKind, ManifestEvent

    return int(
        world.query(
            select(func.count())
            .select_from(ManifestEvent)
            .where(ManifestEvent.manifest_id == manifest_id)
            .where(ManifestEvent.kind == EventKind.PICKED_UP)
        )
    )


def pickup_body(world: World, manifest_id: int) -> dict[str, Any]:
    return {
        "vehicle_id": world.ids["vehicle"],
        "position_note": "denied",
        "lines": [{"line_id": i, "loaded_qty": "100"} for i in world.ids["lines"][manifest_id]],
    }


# -- the races ----------------------------------------------------------------------------------


def test_two_drivers_press_pick_up_at_once_one_wins(world: World) -> None:
    manifest_id = world.ids["pickups"][0]
    url = f"{world.base}/manifests/{manifest_id}/pickup"
    body = pickup_body(world, manifest_id)
    drivers = [world.token("driver@demo.test"), world.token("driver2@demo.test")]
    results = at_once(*[(url, body, token, None) for token in drivers])
    assert sorted(status for status, _, _ in results) == [200, 409], results
    winner = next(i for i, (status, _, _) in enumerate(results) if status == 200)
    _, won, _ = results[winner]
    _, lost, _ = results[1 - winner]
    assert won["data"]["status"] == "in_transit"
    assert lost["error"]["code"] == "conflict" and lost["error"]["status"] == "in_transit"
    assert lost["error"]["message"]
    assert picked_up_events(world, manifest_id) == 1
    from hazwaste.accounts.models import User
    from hazwaste.manifests.models import Manifest

    driver_email = world.query(
        select(User.email)
        .join(Manifest, Manifest.pickup_driver_user_id == User.id)
        .where(Manifest.id == manifest_id)
    )
    assert driver_email == ("driver@demo.test", "driver2@demo.test")[winner]


def test_a_retry_racing_its_first_request_replays_it(world: World) -> None:
    """The same driver's app sends the pickup twice at once with one key (two tokens of the
    same user): one runs, the other waits for it and returns its result — both 200."""
    manifest_id = world.ids["pickups"][1]
    url = f"{world.base}/manifests/{manifest_id}/pickup"
    body = pickup_body(world, manifest_id)
    tokens = [world.token("driver@demo.test", slot) for slot in (1, 2)]
    results = at_once(*[(url, body, token, "race-key-1") for token in tokens])
    assert [status for status, _, _ in results] == [200, 200], results
    assert results[0][1] == results[1][1]
    replayed = [headers.get("Idempotent-Replayed") for _, _, headers in results]
    assert replayed.count("true") == 1, replayed
    assert picked_up_events(world, manifest_id) == 1


def test_two_submissions_in_one_city_get_consecutive_numbers(world: World) -> None:
    producer = world.token("producer@demo.test")
    colleague = world.token("producer-staff@demo.test")
    calls = [
        (f"{world.base}/manifests/{mid}/submit", None, token, None)
        for mid, token in zip(world.ids["drafts"], (producer, colleague), strict=True)
    ]
    results = at_once(*calls)
    assert [status for status, _, _ in results] == [200, 200], results
    numbers = sorted(payload["data"]["number"] for _, payload, _ in results)
    assert numbers[0][:8] == numbers[1][:8]  # year + province + city of the producer
    assert int(numbers[1][-6:]) == int(numbers[0][-6:]) + 1
    from hazwaste.manifests.models import ManifestSerial

    last = world.query(
        select(ManifestSerial.last_serial).where(ManifestSerial.city_code == numbers[0][4:8])
    )
    assert last == int(numbers[1][-6:])
