"""Append to and verify the hash-chained audit log.

Each entry stores ``prev_hash`` (the hash of the entry before it) and ``hash`` =
SHA-256 over ``prev_hash`` and its own canonical content. Appends lock the single
``audit_head`` row, so concurrent transactions extend the chain one after the other and the
chain never forks (``prev_hash`` is also unique). Altering, deleting or reordering any row is
found by :func:`verify`, except removing the newest entries *and* rewriting the head
record to match: comparing :attr:`VerifyResult.head_hash` with a copy kept elsewhere (the
CLI prints it) catches that too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hazwaste.audit.models import GENESIS_HASH, AuditEntry, AuditHead

HEAD_ID = 1
VERIFY_BATCH = 5000


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"not JSON-serialisable in an audit payload: {type(value).__name__}")


def canonical_json(payload: dict[str, Any]) -> str:
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def entry_hash(
    prev_hash: str,
    occurred_at: datetime,
    actor_user_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    payload: str,
) -> str:
    content = "\x1f".join(
        [
            prev_hash,
            occurred_at.isoformat(),
            "" if actor_user_id is None else str(actor_user_id),
            action,
            object_type,
            object_id,
            payload,
        ]
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _lock_head(session: Session) -> AuditHead:
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=HEAD_ID, last_entry_id=None, last_hash=GENESIS_HASH)
        session.add(head)
        session.flush()
    return head


def record(
    session: Session,
    now: datetime,
    *,
    actor_user_id: int | None,
    action: str,
    object_type: str,
    object_id: object,
    payload: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain inside the caller's transaction (no commit here).

    Raises ``TypeError`` if ``payload`` holds a value that has no canonical JSON form.
    """
    body = canonical_json(payload or {})
    head = _lock_head(session)
    occurred = now.astimezone(UTC)
    digest = entry_hash(
        head.last_hash, occurred, actor_user_id, action, object_type, str(object_id), body
    )
    entry = AuditEntry(
        occurred_at=occurred,
        actor_user_id=actor_user_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        payload=body,
        prev_hash=head.last_hash,
        hash=digest,
    )
    session.add(entry)
    session.flush()
    head.last_entry_id = entry.id
    head.last_hash = digest
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""
    #: Hash of the last entry: kept outside the database (a log, a print-out) it also
    #: reveals the one change the chain alone cannot, dropping the newest entries together
    #: with rewriting the head record.
    head_hash: str = ""


def _entries(session: Session) -> Iterator[Any]:
    """Every entry in id order, read as plain rows in batches.

    Rows, not ORM objects: objects already in the caller's session (entries it recorded)
    would come back from the identity map with the values they had when written, hiding a
    change made in the database since; and the caller's other objects stay untouched.
    """
    columns = (
        AuditEntry.id,
        AuditEntry.prev_hash,
        AuditEntry.hash,
        AuditEntry.occurred_at,
        AuditEntry.actor_user_id,
        AuditEntry.action,
        AuditEntry.object_type,
        AuditEntry.object_id,
        AuditEntry.payload,
    )
    last_id = 0
    while True:
        batch = session.execute(
            select(*columns)
            .where(AuditEntry.id > last_id)
            .order_by(AuditEntry.id)
            .limit(VERIFY_BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id


def verify(session: Session) -> VerifyResult:
    """Walk the chain in id order; report the first row whose link or hash does not hold."""
    expected_prev = GENESIS_HASH
    checked = 0
    for entry in _entries(session):
        if entry.prev_hash != expected_prev:
            return VerifyResult(False, checked, entry.id, "link to the previous entry is broken")
        digest = entry_hash(
            entry.prev_hash,
            entry.occurred_at,
            entry.actor_user_id,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.payload,
        )
        if digest != entry.hash:
            return VerifyResult(False, checked, entry.id, "content does not match its hash")
        expected_prev = entry.hash
        checked += 1
    head = session.execute(
        select(AuditHead.last_entry_id, AuditHead.last_hash).where(AuditHead.id == HEAD_ID)
    ).first()
    if head is None and checked:
        return VerifyResult(False, checked, None, "the chain's head record is missing")
    if head is not None and head.last_hash != expected_prev:
        return VerifyResult(False, checked, head.last_entry_id, "the last entries were removed")
    return VerifyResult(True, checked, head_hash=expected_prev)
