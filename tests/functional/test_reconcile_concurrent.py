"""A full run with rules evaluated side by side on separate connections finds exactly what a
one-by-one run finds, and a failing rule fails the run without leaving workers behind.

The workers read committed data through their own connections, which the per-test
transaction of the other tests hides from them: these tests use a scratch database of their
own — a SQLite file, and on the PostgreSQL server of ``TEST_DATABASE_URL`` when there is one
(a scratch database created and dropped there).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, func, select, text

from hazwaste import create_app
from hazwaste.extensions import db
from hazwaste.reconciliation import concurrent, services
from hazwaste.reconciliation.models import Flag, Severity
from hazwaste.reconciliation.rules import REGISTRY
from hazwaste.reconciliation.rules.base import Context, Finding, Rule

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _pg_server() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not url.startswith("postgresql"):
        return None
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch(request: pytest.FixtureRequest, tmp_path) -> Iterator[object]:
    """An app on a scratch database holding the committed demo world."""
    from flask_migrate import upgrade

    from hazwaste.catalog.services import load_reference_data
    from hazwaste.demo.services import seed_demo
    from tests.conftest import test_config

    cleanup = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'concurrent.db'}"
    else:
        server = _pg_server()
        if server is None:
            pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL (.ci/run starts one)")
        name = f"hw_concurrent_{uuid.uuid4().hex[:12]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = server.rsplit("/", 1)[0] + f"/{name}"

        def cleanup() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    app = create_app(test_config(url))
    try:
        with app.app_context():
            upgrade()
            load_reference_data(db.session)
            seed_demo(db.session, NOW, history=True)
            db.session.commit()
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        if cleanup is not None:
            cleanup()


def full_run(workers: int) -> tuple[dict[str, dict[str, int]], list[tuple[object, ...]]]:
    record = services.start(db.session, NOW, NOW)
    db.session.commit()
    services.execute(db.session, record, NOW, workers=workers)
    db.session.commit()
    counts = {
        code: {"found": n["found"], "resolved": n["resolved"]}
        for code, n in json.loads(record.counts).items()
    }
    flags = sorted(
        (f.rule, f.subject_type, f.subject_id, f.period, f.status.value, f.evidence)
        for f in db.session.scalars(select(Flag).where(Flag.last_run_id == record.id))
    )
    return counts, flags


def test_side_by_side_finds_what_one_by_one_finds(scratch):
    one_by_one = full_run(workers=1)
    side_by_side = full_run(workers=2)
    assert side_by_side == one_by_one
    counts, flags = side_by_side
    assert set(counts) == set(REGISTRY)
    assert sum(n["found"] for n in counts.values()) >= 5  # the demo world's anomalies
    assert len(flags) >= 5


def test_a_failing_rule_fails_the_run_and_stops_the_workers(scratch, monkeypatch):
    def broken(self, session, ctx):
        raise RuntimeError("rule broke")

    monkeypatch.setattr(REGISTRY["NEVER_PICKED_UP"], "query", broken)
    before = threading.active_count()
    record = services.start(db.session, NOW, NOW)
    db.session.commit()
    with pytest.raises(RuntimeError, match="rule broke"):
        services.execute(db.session, record, NOW, workers=2)
    db.session.rollback()
    assert threading.active_count() == before


class _SettingProbe(Rule):
    """Reports, as a finding, a server setting as the worker's transaction sees it."""

    code = "PROBE"
    subject_type = "probe"

    def query(self, session, ctx):
        return select(func.current_setting("jit").label("jit"), func.current_setting("work_mem"))

    def to_finding(self, row, ctx):
        return Finding("probe", 0, "", Severity.LOW, None, f"{row[0]} {row[1]}")


@pytest.mark.parametrize("scratch", ["postgresql"], indirect=True)
def test_workers_run_with_the_runs_settings(scratch):
    """On PostgreSQL each worker's transaction carries the run's SET LOCAL settings (JIT off
    alone is worth seconds per rule at national scale). SQLite has no such settings."""
    record = services.start(db.session, NOW, NOW)
    db.session.commit()
    statements = services._run_settings(db.session, record)
    assert "SET LOCAL jit = off" in statements
    ctx = Context(as_of=NOW, settings=scratch.config["RECONCILIATION"])
    seen = [
        finding.summary
        for _rule, batch in concurrent.evaluate(
            db.session, [_SettingProbe()] * 2, ctx, 2, statements
        )
        for finding in (batch or [])
    ]
    db.session.rollback()
    assert seen == ["off 256MB", "off 256MB"]
