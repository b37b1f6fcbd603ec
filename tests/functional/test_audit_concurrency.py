"""On PostgreSQL, audit appends take no shared lock: with one transaction holding a fresh
entry of subject A open, an append to subject B — and a checkpoint — commit at once; a second
append to A waits for the first and extends A's chain instead of forking it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.orm import Session

from hazwaste.audit import services as audit
from hazwaste.extensions import db

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
WAIT_S = 5.0


def _append(engine, subject: str, done: dict, key: str) -> None:
    with Session(bind=engine) as session:
        started = time.monotonic()
        done[f"{key}_id"] = audit.record(
            session,
            NOW,
            actor_user_id=None,
            action="test.append",
            object_type="race",
            object_id=subject,
        )
        session.commit()
        done[key] = time.monotonic() - started


def _checkpoint(engine, done: dict) -> None:
    with Session(bind=engine) as session:
        started = time.monotonic()
        audit.checkpoint(session, NOW, key=Ed25519PrivateKey.generate())
        session.commit()
        done["checkpoint"] = time.monotonic() - started


def test_appends_to_other_subjects_never_wait(app):
    with app.app_context():
        engine = db.engine
        holder = Session(bind=engine)
        done: dict = {}
        try:
            first = audit.record(
                holder,
                NOW,
                actor_user_id=None,
                action="test.append",
                object_type="race",
                object_id="A",
            )
            holder.flush()  # A's entry is written, its transaction stays open

            other = threading.Thread(target=_append, args=(engine, "B", done, "b"))
            other.start()
            other.join(WAIT_S)
            assert not other.is_alive(), "an append to B waited on A's open transaction"
            assert done["b"] < 2.0

            job = threading.Thread(target=_checkpoint, args=(engine, done))
            job.start()
            job.join(WAIT_S)
            assert not job.is_alive(), "the checkpoint waited on A's open transaction"

            same = threading.Thread(target=_append, args=(engine, "A", done, "a2"))
            same.start()
            time.sleep(0.5)
            assert same.is_alive(), "a second append to A must wait for the first"
            holder.commit()
            same.join(WAIT_S)
            assert not same.is_alive()

            with Session(bind=engine) as check:
                rows = check.execute(
                    text(
                        "SELECT id, chain_seq, prev_id FROM audit_entries"
                        " WHERE object_type = 'race' AND object_id = 'A' ORDER BY chain_seq"
                    )
                ).all()
                assert [(r.id, r.chain_seq, r.prev_id) for r in rows] == [
                    (first, 1, None),
                    (done["a2_id"], 2, first),
                ], "the chain extends, it does not fork"
                seqs = check.execute(
                    text("SELECT seq FROM audit_entries WHERE id = :id"), {"id": done["b_id"]}
                ).scalar()
                assert seqs == 0, "the checkpoint sequenced B's committed entry only"
        finally:
            holder.rollback()
            holder.close()
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM audit_entries WHERE object_type = 'race'"))
                conn.execute(text("DELETE FROM audit_tree_nodes"))
                conn.execute(text("DELETE FROM audit_checkpoints"))
