"""The 37-character container code: its layout, and unique consecutive sequences when two
registrations of the same producer, waste code and day run at the same time.

The concurrency tests need committed data seen by several connections, so each builds a
scratch database (Alembic upgrade + reference + demo data): a SQLite file, and on
PostgreSQL ``<test db>_ledgerconc`` on the server of ``TEST_DATABASE_URL``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from hazwaste import create_app
from hazwaste.accounts.models import User
from hazwaste.extensions import db
from hazwaste.ledger import codes, services
from hazwaste.ledger.models import Container
from tests.conftest import test_config as config_for

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
DAY = date(2026, 11, 2)
USCC = "91150624MA0N8C3K7X"


# -- layout ---------------------------------------------------------------------------------


def test_code_layout_has_four_parts_and_37_characters():
    assert codes.CODE_LENGTH == 37
    code = codes.format_code(USCC, "900-249-08", DAY, 7)
    assert len(code) == 37
    assert code[:18] == USCC and code[18:26] == "90024908"
    assert code[26:34] == "20261102" and code[34:] == "007"
    parsed = codes.parse_code(f" {code[:20].lower()} {code[20:]} ")
    assert parsed == codes.ContainerCode(USCC, "900-249-08", DAY, 7)
    assert str(parsed) == code


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "short",
        USCC + "9002490820261102",
        USCC + "90024908202611020011",
        USCC + "90024908202613020001"[:-1],
        USCC + "9002490820261302001",  # month 13
        "I" * 18 + "9002490820261102001",
    ],  # I is not a USCC character
)
def test_malformed_codes_do_not_parse(bad):
    assert codes.parse_code(bad) is None


@pytest.mark.parametrize(
    ("uscc", "waste_code", "sequence"),
    [
        (USCC[:-1], "900-249-08", 1),
        (USCC, "900-249-0", 1),
        (USCC, "900-249-08", 0),
        (USCC, "900-249-08", 1000),
    ],
)
def test_format_code_refuses_parts_that_do_not_fit(uscc, waste_code, sequence):
    with pytest.raises(ValueError):
        codes.format_code(uscc, waste_code, DAY, sequence)


# -- concurrency ----------------------------------------------------------------------------


def _build(url: str) -> Flask:
    from flask_migrate import upgrade

    from hazwaste.catalog.services import load_reference_data
    from hazwaste.demo.services import seed_demo

    app = create_app(config_for(url))
    with app.app_context():
        upgrade()
        load_reference_data(db.session)
        seed_demo(db.session, NOW)
        db.session.commit()
        db.session.remove()
    return app


def _row() -> dict[str, Any]:
    return {
        "waste_code": "900-249-08",
        "waste_name": "废矿物油",
        "physical_form": "liquid",
        "hazards": ["T", "I"],
        "packaging_type": "drum",
        "net_weight_kg": Decimal("180.5"),
        "generation_date": DAY,
        "source_process": "检修",
    }


def _race(app: Flask, threads: int = 4, per_thread: int = 3) -> dict[int, list[str]]:
    """Start ``threads`` registrations together; each holds its transaction open a moment
    so that the others run into its reservation."""
    barrier = threading.Barrier(threads)
    results: dict[int, Any] = {}

    def work(index: int) -> None:
        try:
            with app.app_context():
                user_id = db.session.scalar(
                    select(User.id).where(User.email == "producer@demo.test")
                )
                db.session.commit()  # no transaction (no SQLite write lock) held at the barrier
                barrier.wait(timeout=30)
                user = db.session.get(User, user_id)
                made = services.register_containers(
                    db.session, NOW, user, [_row()] * per_thread, NOW.date()
                )
                results[index] = [c.code for c in made]
                time.sleep(0.2)
                db.session.commit()
                db.session.remove()
        except Exception as exc:  # reported by the main thread
            results[index] = exc

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    for value in results.values():
        if isinstance(value, Exception):
            raise value
    return results


def _check(
    app: Flask, results: dict[int, list[str]], threads: int = 4, per_thread: int = 3
) -> None:
    assert len(results) == threads
    all_codes = [code for batch in results.values() for code in batch]
    assert len(set(all_codes)) == threads * per_thread
    sequences = sorted(int(code[-3:]) for code in all_codes)
    assert sequences == list(range(1, threads * per_thread + 1))
    for batch in results.values():  # each registration got a consecutive block
        numbers = [int(code[-3:]) for code in batch]
        assert numbers == list(range(numbers[0], numbers[0] + per_thread))
    with app.app_context():
        stored = db.session.scalars(select(Container.code)).all()
        db.session.remove()
    assert sorted(stored) == sorted(all_codes)


def test_concurrent_registration_sqlite(tmp_path):
    app = _build(f"sqlite:///{tmp_path / 'concurrency.db'}")
    try:
        _check(app, _race(app))
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture()
def postgres_scratch() -> Iterator[str]:
    base = make_url(
        os.environ["TEST_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    )
    name = f"{base.database}_ledgerconc"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_concurrent_registration_postgres(postgres_scratch):
    app = _build(postgres_scratch)
    try:
        _check(app, _race(app))
    finally:
        with app.app_context():
            db.engine.dispose()
