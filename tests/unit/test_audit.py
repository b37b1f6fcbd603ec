"""Hash-chained audit log: appending, verifying, and finding every kind of tampering."""

from __future__ import annotations

import enum
import itertools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from hazwaste.audit import services as audit
from hazwaste.audit.models import GENESIS_HASH, AuditEntry, AuditHead
from tests import factories


class Colour(enum.Enum):
    RED = "red"


def record_some(session, now, n: int = 4) -> list[AuditEntry]:
    entries = [
        audit.record(
            session,
            now + timedelta(seconds=i),
            actor_user_id=None,
            action="test.event",
            object_type="thing",
            object_id=i,
            payload={"i": i, "kg": Decimal("1.500"), "at": now, "name": "废矿物油"},
        )
        for i in range(n)
    ]
    session.commit()
    return entries


def test_entries_form_a_chain(session, now):
    entries = record_some(session, now)
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
        assert after.id > before.id
    head = session.get(AuditHead, audit.HEAD_ID)
    assert (head.last_entry_id, head.last_hash) == (entries[-1].id, entries[-1].hash)
    result = audit.verify(session)
    assert result.ok and result.checked == 4
    assert result.head_hash == entries[-1].hash


def test_payload_is_canonical_json(session, now):
    entry = audit.record(
        session,
        now,
        actor_user_id=None,
        action="a",
        object_type="t",
        object_id="x",
        payload={"b": Decimal("0.1"), "a": Colour.RED, "d": now.date(), "z": "中"},
    )
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
    base = (GENESIS_HASH, now, 7, "a", "t", "1", "{}")
    digest = audit.entry_hash(*base)
    assert len(digest) == 64
    for i, other in enumerate(
        ("1" * 64, now + timedelta(microseconds=1), 8, "b", "u", "2", '{"x":1}')
    ):
        changed = list(base)
        changed[i] = other
        assert audit.entry_hash(*changed) != digest, f"field {i} is not covered"
    # No field can borrow characters from its neighbour.
    assert audit.entry_hash(GENESIS_HASH, now, None, "ab", "c", "1", "{}") != audit.entry_hash(
        GENESIS_HASH, now, None, "a", "bc", "1", "{}"
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
    assert result.checked == 2
    assert result.reason == "content does not match its hash"


@pytest.mark.parametrize(
    "column, value",
    [
        ("action", "test.other"),
        ("object_id", "99"),
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


def test_rehashed_row_breaks_the_next_link(session, now):
    """Rewriting a row *and* its hash is found at the following row."""
    entries = record_some(session, now)
    target = entries[1]
    forged = audit.entry_hash(
        target.prev_hash,
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
    assert (result.ok, result.first_broken_id) == (False, entries[2].id)
    assert result.reason == "link to the previous entry is broken"


def test_deleted_middle_row_is_found(session, now):
    entries = record_some(session, now)
    session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": entries[1].id})
    result = audit.verify(session)
    assert (result.ok, result.first_broken_id) == (False, entries[2].id)


def test_deleted_last_row_is_found(session, now):
    entries = record_some(session, now)
    session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": entries[-1].id})
    result = audit.verify(session)
    assert not result.ok
    assert result.first_broken_id == entries[-1].id
    assert result.reason == "the last entries were removed"
    assert result.checked == 3


def test_deleted_head_is_found(session, now):
    record_some(session, now)
    session.execute(text("DELETE FROM audit_head"))
    result = audit.verify(session)
    assert not result.ok and result.reason == "the chain's head record is missing"


def test_verify_leaves_the_callers_objects_alone(session, now):
    org, admin = factories.organization(session, now)
    session.commit()
    assert audit.verify(session).ok
    # Nothing was detached from the caller's session: lazy loads still work.
    assert admin in session and org in session
    assert [u.id for u in org.users] == [admin.id]


def test_verify_walks_in_batches(session, now, monkeypatch):
    monkeypatch.setattr(audit, "VERIFY_BATCH", 3)
    entries = record_some(session, now, 7)
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
    assert result.output.startswith("OK: 4 audit entries verified; head hash ")
    assert entries[-1].hash in result.output

    session.execute(
        text("UPDATE audit_entries SET payload = '{}' WHERE id = :id"), {"id": entries[0].id}
    )
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"BROKEN at audit entry {entries[0].id}: content does not match its hash" in (
        result.output
    )


def test_cli_finds_truncation(app, session, now):
    entries = record_some(session, now)
    session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": entries[-1].id})
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"BROKEN at audit entry {entries[-1].id}: the last entries were removed" in (
        result.output
    )


def test_services_audit_with_real_times(session):
    now = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    factories.organization(session, now, approved_by=factories.platform_admin(session, now))
    session.commit()
    session.expire_all()
    assert audit.verify(session).ok, "microseconds and time zones survive the round trip"
