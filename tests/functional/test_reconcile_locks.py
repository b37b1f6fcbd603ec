"""Incremental (manifest-scoped) runs share the run lock; a full run needs it alone.

The job workers run one incremental reconciliation per receipt; with an exclusive lock every
other one was deferred by 30 s while one ran (found by bench/crash.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from hazwaste.extensions import db
from hazwaste.reconciliation import services

pytestmark = pytest.mark.postgres


def _held(shared: bool):
    """Another connection holding the run lock in an open transaction."""
    # The test session runs on one connection standing in for the engine; use the real one.
    conn = db.engine.engine.connect()
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    conn.execute(text(f"SELECT {function}(:k)"), {"k": services.ADVISORY_LOCK_KEY})
    return conn


def test_incremental_runs_share_the_lock_and_a_full_run_waits_for_them(app, session, now, demo):
    other = _held(shared=True)  # an incremental run in progress elsewhere
    try:
        services.run(session, now, manifest_id=1)  # another incremental run: goes ahead
        session.rollback()
        with pytest.raises(services.RunRefused):
            services.run(session, now)  # a full run: refused while one is running
        session.rollback()
    finally:
        other.rollback()
        other.close()


def test_a_full_run_defers_incremental_runs(app, session, now, demo):
    other = _held(shared=False)  # a full run in progress elsewhere
    try:
        with pytest.raises(services.RunRefused):
            services.run(session, now, manifest_id=1)
        session.rollback()
    finally:
        other.rollback()
        other.close()
