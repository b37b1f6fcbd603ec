"""Audit chains per subject: appending, verifying, and finding every kind of tampering."""

from __future__ import annotations

import enum
import itertools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from hazwaste.audit import services as audit
from hazwaste.audit.models import GENESIS_HASH, AuditEntry
from tests import factories


class Colour(enum.Enum):
    RED = "red"


def record_some(session, now, n: int = 4, subjects: int = 2) -> list[AuditEntry]:
    """``n`` entries spread round-robin over ``subjects`` things, committed."""
    ids = [
        audit.record(
            session,
            now + timedelta(seconds=i),
            actor_user_id=None,
            action="test.event",
            object_type="thing",
            object_id=i % subjects,
            payload={"i": i, "kg": Decimal("1.500"), "at": now, "name": "废矿物油"},
        )
        for i in range(n)
    ]
    session.commit()
    return [session.get(AuditEntry, i) for i in ids]


def test_each_subject_has_its_own_chain(session, now):
    entries = record_some(session, now, 6, subjects=2)
    for subject in ("0", "1"):
        chain = [e for e in entries if e.object_id == subject]
        assert [e.chain_seq for e in chain] == [1, 2, 3]
        assert chain[0].prev_hash == GENESIS_HASH and chain[0].prev_id is None
        for before, after in itertools.pairwise(chain):
            assert (after.prev_id, after.prev_hash) == (before.id, before.hash)
    assert all(e.seq is None for e in entries), "only the checkpoint gives log positions"
    assert len({e.salt for e in entries}) == 6
    result = audit.verify(session)
    assert result.ok and result.checked == 6 and result.chains == 2
    assert result.unsequenced == 6 and result.checkpoints == 0


def test_payload_is_canonical_json(session, now):
    entry_id = audit.record(
        session,
        now,
        actor_user_id=None,
        action="a",
        object_type="t",
        object_id="x",
        payload={"b": Decimal("0.1"), "a": Colour.RED, "d": now.date(), "z": "中"},
    )
    entry = session.get(AuditEntry, entry_id)
    assert entry.payload == '{"a":"red","b":"0.1","d":"2026-11-20","z":"中"}'
    assert json.loads(entry.payload)["b"] == "0.1"
    assert entry.occurred_at == now.astimezone(UTC)
    with pytest.raises(TypeError):
        audit.record(
            session,
            now,
            actor_user_id=None,
            action="a",
            object_type="t",
            object_id="x",
            payload={"bad": object()},
        )


def test_hash_covers_every_field(now):
    base = (GENESIS_HASH, 1, "ab" * 16, now, 7, "a", "t", "1", "{}")
    digest = audit.entry_hash(*base)
    assert len(digest) == 64
    others = ("1" * 64, 2, "cd" * 16, now + timedelta(microseconds=1), 8, "b", "u", "2", '{"x":1}')
    for i, other in enumerate(others):
        changed = list(base)
        changed[i] = other
        assert audit.entry_hash(*changed) != digest, f"field {i} is not covered"
    # No field can borrow characters from its neighbour.
    salt = "ab" * 16
    assert audit.entry_hash(GENESIS_HASH, 1, salt, now, None, "ab", "c", "1", "{}") != (
        audit.entry_hash(GENESIS_HASH, 1, salt, now, None, "a", "bc", "1", "{}")
    )


def test_altered_payload_is_found(session, now):
    entries = record_some(session, now)
    target = entries[2]
    session.execute(
        text("UPDATE audit_entries SET payload = :p WHERE id = :id"),
        {"p": '{"i":2,"kg":"0.500"}', "id": target.id},
    )
    result = audit.verify(session)
    assert not result.ok
    assert result.first_broken_id == target.id
    assert result.reason == "content does not match its hash"


@pytest.mark.parametrize(
    "column, value",
    [
        ("action", "test.other"),
        ("salt", "00" * 16),
        ("actor_user_id", None),
        ("occurred_at", "shift"),
    ],
)
def test_any_altered_column_is_found(session, now, column, value):
    entries = record_some(session, now)
    target = entries[1]
    if column == "occurred_at":
        session.execute(
            text("UPDATE audit_entries SET occurred_at = :v WHERE id = :id"),
            {"v": now + timedelta(days=1), "id": target.id},
        )
    elif column == "actor_user_id":
        user = factories.platform_admin(session, now)
        session.execute(
            text("UPDATE audit_entries SET actor_user_id = :v WHERE id = :id"),
            {"v": user.id, "id": target.id},
        )
    else:
        session.execute(
            text(f"UPDATE audit_entries SET {column} = :v WHERE id = :id"),
            {"v": value, "id": target.id},
        )
    result = audit.verify(session)
    assert (result.ok, result.first_broken_id) == (False, target.id)


def test_entry_moved_to_another_subject_is_found(session, now):
    entries = record_some(session, now, 4, subjects=1)
    session.execute(
        text("UPDATE audit_entries SET object_id = '99', chain_seq = 1 WHERE id = :id"),
        {"id": entries[3].id},
    )
    result = audit.verify(session)
    assert (result.ok, result.first_broken_id) == (False, entries[3].id)


def test_rehashed_row_breaks_the_next_link(session, now):
    """Rewriting a row *and* its hash is found at the following row of its chain."""
    entries = record_some(session, now, 6, subjects=2)
    target = entries[2]  # subject 0, position 2; its successor is entries[4]
    forged = audit.entry_hash(
        target.prev_hash,
        target.chain_seq,
        target.salt,
        target.occurred_at,
        None,
        target.action,
        target.object_type,
        target.object_id,
        '{"forged":true}',
    )
    session.execute(
        text("UPDATE audit_entries SET payload = :p, hash = :h WHERE id = :id"),
        {"p": '{"forged":true}', "h": forged, "id": target.id},
    )
    result = audit.verify(session)
    assert (result.ok, result.first_broken_id) == (False, entries[4].id)
    assert result.reason == "link to the previous entry of its chain is broken"


def test_deleted_middle_row_is_found(session, now):
    entries = record_some(session, now, 6, subjects=2)
    session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": entries[2].id})
    result = audit.verify(session)
    assert (result.ok, result.first_broken_id) == (False, entries[4].id)
    assert result.reason == "an entry before it in its chain is missing (deleted)"


def test_forged_entry_inserted_into_a_chain_is_found(session, now):
    """A forger renumbers the rest of the chain and slips in a correctly hashed entry after
    position 1: the real position-2 entry no longer links to its predecessor."""
    entries = record_some(session, now, 3, subjects=1)
    first = entries[0]
    session.execute(text("UPDATE audit_entries SET chain_seq = chain_seq + 10 WHERE chain_seq > 1"))
    session.execute(text("UPDATE audit_entries SET chain_seq = chain_seq - 9 WHERE chain_seq > 10"))
    salt = "11" * 16
    digest = audit.entry_hash(first.hash, 2, salt, now, None, "test.forged", "thing", "0", "{}")
    session.execute(
        text(
            "INSERT INTO audit_entries (occurred_at, actor_user_id, action, object_type,"
            " object_id, payload, chain_seq, prev_id, prev_hash, salt, hash)"
            " VALUES (:at, NULL, 'test.forged', 'thing', '0', '{}', 2, :pid, :ph, :salt, :h)"
        ),
        {"at": now, "pid": first.id, "ph": first.hash, "salt": salt, "h": digest},
    )
    result = audit.verify(session)
    assert (result.ok, result.first_broken_id) == (False, entries[1].id)
    assert result.reason == "link to the previous entry of its chain is broken"


def test_same_subject_appends_in_one_transaction_extend_the_chain(session, now):
    ids = [
        audit.record(session, now, actor_user_id=None, action="a", object_type="t", object_id=1)
        for _ in range(3)
    ]
    assert [session.get(AuditEntry, i).chain_seq for i in ids] == [1, 2, 3]


def test_verify_leaves_the_callers_objects_alone(session, now):
    org, admin = factories.organization(session, now)
    session.commit()
    assert audit.verify(session).ok
    # Nothing was detached from the caller's session: lazy loads still work.
    assert admin in session and org in session
    assert [u.id for u in org.users] == [admin.id]


def test_verify_walks_in_batches(session, now, monkeypatch):
    monkeypatch.setattr(audit, "VERIFY_BATCH", 3)
    entries = record_some(session, now, 7, subjects=2)
    assert audit.verify(session).checked == 7
    session.execute(
        text("UPDATE audit_entries SET action = 'x' WHERE id = :id"), {"id": entries[5].id}
    )
    assert audit.verify(session).first_broken_id == entries[5].id


def test_empty_log_verifies(session):
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
    result = audit.verify(session)
    assert result.ok and result.checked == 0


def test_cli_exit_codes(app, session, now):
    entries = record_some(session, now)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 4 audit entries in 2 chains verified; 0 checkpoints")

    session.execute(
        text("UPDATE audit_entries SET payload = '{}' WHERE id = :id"), {"id": entries[0].id}
    )
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"BROKEN at audit entry {entries[0].id}: content does not match its hash" in (
        result.output
    )


def test_services_audit_with_real_times(session):
    now = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    factories.organization(session, now, approved_by=factories.platform_admin(session, now))
    session.commit()
    session.expire_all()
    assert audit.verify(session).ok, "microseconds and time zones survive the round trip"
