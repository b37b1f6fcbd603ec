"""Two drivers press "pick up" at the same moment: exactly one wins, the other gets a clear
409 naming the current status. Real concurrent HTTP requests against a real server, on a
database with committed data (PostgreSQL when available, and SQLite)."""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from werkzeug.serving import make_server

from hazwaste import create_app
from hazwaste.extensions import db
from tests.conftest import test_config as config_for


def _scratch_postgres() -> str:
    base = os.environ["TEST_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    head, _, name = base.rpartition("/")
    scratch = f"{name}_concurrency"
    engine = create_engine(f"{head}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{scratch}"'))
    engine.dispose()
    return f"{head}/{scratch}"


def _world(url: str) -> tuple[Any, int, int, list[int]]:
    from flask_migrate import upgrade

    from hazwaste.catalog.services import load_reference_data
    from hazwaste.db import utcnow
    from hazwaste.demo.services import seed_demo
    from tests.manifest_factories import make_submitted

    app = create_app(config_for(url))
    with app.app_context():
        upgrade()
        load_reference_data(db.session)
        now = utcnow()
        world = seed_demo(db.session, now)
        manifests = [make_submitted(db.session, now, world) for _ in range(3)]
        db.session.commit()
        ids = [m.id for m in manifests]
        line_ids = [ln.id for ln in manifests[0].lines]
        vehicle = world.extra["vehicles"][0].id
        db.session.remove()
    return app, ids[0], vehicle, line_ids


def _post(url: str, body: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _race(url: str) -> None:
    app, manifest_id, vehicle, line_ids = _world(url)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}/api/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        tokens = [
            _post(f"{base}/auth/token", {"email": e, "password": "demo-pass-2026"})[1]["data"][
                "token"
            ]
            for e in ("driver@demo.test", "driver2@demo.test")
        ]
        body = {
            "vehicle_id": vehicle,
            "lines": [{"line_id": i, "loaded_qty": "100"} for i in line_ids],
        }
        barrier = threading.Barrier(2)
        results: list[tuple[int, Any]] = []

        def press(token: str) -> None:
            barrier.wait()
            results.append(_post(f"{base}/manifests/{manifest_id}/pickup", body, token))

        workers = [threading.Thread(target=press, args=(t,)) for t in tokens]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=60)
        statuses = sorted(status for status, _ in results)
        assert statuses == [200, 409], results
        loser = next(payload for status, payload in results if status == 409)
        assert loser["error"]["status"] == "in_transit"
        with app.app_context():
            from hazwaste.manifests.models import ManifestEvent

            picked = db.session.scalar(
                select(func.count())
                .select_from(ManifestEvent)
                .where(ManifestEvent.manifest_id == manifest_id, ManifestEvent.kind == "picked_up")
            )
            assert picked == 1
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.postgres
def test_two_simultaneous_pickups_on_postgresql() -> None:
    _race(_scratch_postgres())


def test_two_simultaneous_pickups_on_sqlite(tmp_path: Any) -> None:
    _race(f"sqlite:///{tmp_path / 'race.db'}")
