"""Two inspectors press "start investigating" at the same moment: one wins, the other gets a
409 naming the current status, and exactly one transition note is written (real server,
committed data, SQLite and PostgreSQL; helpers shared with test_concurrency)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from hazwaste import create_app
from hazwaste.extensions import db
from tests.conftest import test_config as config_for
from tests.functional.test_concurrency import (
    World,
    _postgres_database,
    _reset_postgres_schema,
    _serve,
    at_once,
)


def _build(url: str) -> tuple[object, dict[str, int]]:
    from flask_migrate import upgrade

    from hazwaste.accounts import services as accounts
    from hazwaste.catalog.services import load_reference_data
    from hazwaste.db import utcnow
    from hazwaste.demo.services import DEMO_PASSWORD, seed_demo
    from hazwaste.reconciliation.models import Flag, Severity

    app = create_app(config_for(url))
    with app.app_context():
        upgrade()
        load_reference_data(db.session)
        now = utcnow()
        demo = seed_demo(db.session, now)
        accounts.create_regulator_user(
            db.session,
            now,
            demo.users["admin"],
            demo.bodies["city"],
            {
                "email": "second@demo.test",
                "name": "第二执法员",
                "phone": "",
                "password": DEMO_PASSWORD,
                "role": "inspector",
            },
            10,
        )
        flags = []
        for n in range(2):
            flag = Flag(
                rule="WEIGHT_GAP",
                subject_type="manifest",
                subject_id=800000 + n,
                severity=Severity.HIGH,
                quantity_kg=Decimal("900"),
                summary=f"race {n}",
                producer_id=demo.orgs["producer"].id,
                first_seen_at=now,
                last_seen_at=now,
            )
            db.session.add(flag)
            flags.append(flag)
        db.session.commit()
        ids = {"flag": flags[0].id, "flag2": flags[1].id}
        db.session.remove()
    return app, ids


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def race(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    if request.param == "postgresql":
        url, cleanup = _postgres_database()
        _reset_postgres_schema(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('case-race') / 'race.db'}"
        cleanup = lambda: None  # noqa: E731
    app, ids = _build(url)
    server, thread = _serve(app)  # type: ignore[arg-type]
    try:
        yield World(app, f"http://127.0.0.1:{server.server_port}/api/v1", ids)  # type: ignore[arg-type]
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():  # type: ignore[attr-defined]
            db.session.remove()
            db.engine.dispose()
        cleanup()


def _notes(world: World, flag_id: int) -> int:
    from hazwaste.cases.models import CaseNote

    return int(
        world.query(select(func.count()).select_from(CaseNote).where(CaseNote.flag_id == flag_id))
    )


def test_two_inspectors_start_at_once_one_wins(race: World) -> None:
    url = f"{race.base}/flags/{race.ids['flag']}/transitions"
    results = at_once(
        (url, {"action": "start", "note": "A"}, race.token("regulator@demo.test"), None),
        (url, {"action": "start", "note": "B"}, race.token("second@demo.test"), None),
    )
    statuses = sorted(r[0] for r in results)
    assert statuses == [200, 409], results
    loser = next(r for r in results if r[0] == 409)[1]
    assert loser["error"]["code"] == "conflict"
    assert _notes(race, race.ids["flag"]) == 1


def test_close_and_refer_at_once_one_wins(race: World) -> None:
    flag = race.ids["flag2"]
    url = f"{race.base}/flags/{flag}/transitions"
    token = race.token("regulator@demo.test")
    first = at_once((url, {"action": "start"}, token, None))
    assert first[0][0] == 200
    results = at_once(
        (url, {"action": "close", "finding": "violation", "note": "x"}, token, None),
        (url, {"action": "refer", "referral_note": "y"}, race.token("second@demo.test"), None),
    )
    assert sorted(r[0] for r in results) == [200, 409], results
    assert _notes(race, flag) == 2
