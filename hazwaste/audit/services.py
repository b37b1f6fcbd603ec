"""Append to, checkpoint, prove and verify the audit log.

**Chains per subject.** Every audited object (``object_type``, ``object_id``: a manifest, a
container, a flag, an organization, a user, a licence…) has its own hash chain. An entry
stores its position ``chain_seq``, its predecessor's id and hash, and ``hash`` = SHA-256 over
those, a random salt and its own canonical content (:func:`entry_hash`). :func:`record` writes
it inside the caller's transaction and touches no shared row: appends to different subjects
never wait on each other.

Two transactions appending to the *same* subject at once cannot fork its chain: the unique
index on (subject, ``chain_seq``) admits one entry per position. The insert is
``ON CONFLICT DO NOTHING``, so on PostgreSQL the second one waits on that index entry until the
first commits, finds its position taken, re-reads the tip and appends after it: same-subject
appends queue like a row lock on the subject, without failing. (Callers mostly serialise on
the subject's own row before auditing anyway — the manifest's conditional UPDATE, the flag's
state change — so the queue is rarely used.) SQLite's single writer serialises everything.

**Global log and Merkle tree.** :func:`checkpoint` (a background job: the CLI, ``seed-demo``,
later a queue every few seconds; one at a time by an advisory lock) gives new entries their
global ``seq`` in id order, appends ``SHA-256(0x00 || entry hash)`` as leaves of an RFC 6962
Merkle tree, stores the new perfect-subtree nodes and a tree head signed with Ed25519. Anyone
holding tree heads can check inclusion proofs (:func:`inclusion_proof`) and consistency proofs
(:func:`consistency_proof`) with the published public key, and so detect a rewritten history.

**Verification.** :func:`verify` recomputes every chain, every leaf, every stored node, every
checkpoint's root and signature, and names the first entry or checkpoint that does not hold.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask_babel import gettext as _
from sqlalchemy import and_, func, insert, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hazwaste.audit import merkle
from hazwaste.audit.models import GENESIS_HASH, AuditCheckpoint, AuditEntry, AuditTreeNode
from hazwaste.audit.signing import key_id, signed_bytes, signing_key, timestamp_ms
from hazwaste.errors import Conflict, Invalid, NotFound

VERIFY_BATCH = 5000
#: PostgreSQL advisory lock key held by a running checkpoint ("hzaudit" in ASCII).
CHECKPOINT_LOCK_KEY = 0x687A6175646974
#: Appends to one subject retried this often when concurrent appends keep taking the tip.
RECORD_ATTEMPTS = 20
#: Format tag at the start of every entry's hashed content.
ENTRY_HASH_VERSION = "hazwaste-audit-entry-v2"


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
    chain_seq: int,
    salt: str,
    occurred_at: datetime,
    actor_user_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    payload: str,
) -> str:
    """SHA-256 (hex) of the UTF-8 fields joined by U+001F, after :data:`ENTRY_HASH_VERSION`:
    prev_hash, chain_seq, salt, occurred_at (ISO 8601, UTC), actor id ("" for none), action,
    object_type, object_id, payload (canonical JSON, where U+001F can only appear escaped)."""
    content = "\x1f".join(
        [
            ENTRY_HASH_VERSION,
            prev_hash,
            str(chain_seq),
            salt,
            occurred_at.astimezone(UTC).isoformat(),
            "" if actor_user_id is None else str(actor_user_id),
            action,
            object_type,
            object_id,
            payload,
        ]
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def record(
    session: Session,
    now: datetime,
    *,
    actor_user_id: int | None,
    action: str,
    object_type: str,
    object_id: object,
    payload: dict[str, Any] | None = None,
) -> int:
    """Append one entry to the subject's chain inside the caller's transaction (no commit);
    return its id. Two statements: read the subject's tip, insert after it.

    A concurrent append to the same subject that took the position first is waited for and
    appended after (see the module docstring); ``RuntimeError`` if that keeps happening
    :data:`RECORD_ATTEMPTS` times. ``TypeError`` if ``payload`` holds a value that has no
    canonical JSON form.
    """
    body = canonical_json(payload or {})
    subject_id = str(object_id)
    occurred = now.astimezone(UTC)
    salt = secrets.token_hex(16)
    builder = _insert(session)
    for _attempt in range(RECORD_ATTEMPTS):
        tip = session.execute(
            select(AuditEntry.id, AuditEntry.hash, AuditEntry.chain_seq)
            .where(AuditEntry.object_type == object_type, AuditEntry.object_id == subject_id)
            .order_by(AuditEntry.chain_seq.desc())
            .limit(1)
        ).first()
        prev_id, prev_hash, chain_seq = (
            (tip.id, tip.hash, tip.chain_seq + 1) if tip else (None, GENESIS_HASH, 1)
        )
        digest = entry_hash(
            prev_hash,
            chain_seq,
            salt,
            occurred,
            actor_user_id,
            action,
            object_type,
            subject_id,
            body,
        )
        statement = (
            builder(AuditEntry)
            .values(
                occurred_at=occurred,
                actor_user_id=actor_user_id,
                action=action,
                object_type=object_type,
                object_id=subject_id,
                payload=body,
                chain_seq=chain_seq,
                prev_id=prev_id,
                prev_hash=prev_hash,
                salt=salt,
                hash=digest,
            )
            .on_conflict_do_nothing(
                index_elements=[AuditEntry.object_type, AuditEntry.object_id, AuditEntry.chain_seq]
            )
            .returning(AuditEntry.id)
        )
        new_id = session.execute(statement).scalar()
        if new_id is not None:
            return int(new_id)
    raise RuntimeError(f"audit chain of {object_type} {subject_id}: no free position")


# -- checkpoints ---------------------------------------------------------------------------------


def _lock_checkpoints(session: Session) -> None:
    """One checkpoint at a time: a transaction-scoped advisory lock on PostgreSQL; on SQLite
    the transaction already holds the single writer lock (``BEGIN IMMEDIATE``)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHECKPOINT_LOCK_KEY})


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalar(
        select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1)
    )


def _fetch_nodes(session: Session, coords: set[merkle.Coord]) -> dict[merkle.Coord, bytes]:
    if not coords:
        return {}
    rows = session.execute(
        select(AuditTreeNode.level, AuditTreeNode.idx, AuditTreeNode.hash).where(
            or_(*(and_(AuditTreeNode.level == lv, AuditTreeNode.idx == ix) for lv, ix in coords))
        )
    )
    return {(row.level, row.idx): bytes(row.hash) for row in rows}


def checkpoint(
    session: Session,
    now: datetime,
    key: Ed25519PrivateKey | None = None,
    limit: int | None = None,
) -> AuditCheckpoint | None:
    """Sequence the entries not yet in the log (id order, at most ``limit``), add their leaves
    to the tree and store a signed tree head; None when there was nothing new. The caller
    commits. ``key`` defaults to the application's signing key.

    Takes the checkpoint lock for the rest of the transaction; appends (:func:`record`) never
    wait on it or on anything it writes.
    """
    _lock_checkpoints(session)
    latest = latest_checkpoint(session)
    size = latest.tree_size if latest is not None else 0
    query = (
        select(AuditEntry.id, AuditEntry.hash)
        .where(AuditEntry.seq.is_(None))
        .order_by(AuditEntry.id)
    )
    if limit is not None:
        query = query.limit(limit)
    new = session.execute(query).all()
    if not new:
        return None
    edge = merkle.perfect_parts(0, size)
    stored = _fetch_nodes(session, set(edge))
    if len(stored) != len(edge):
        raise RuntimeError("the stored Merkle tree lacks nodes: run flask audit verify")
    frontier = merkle.Frontier(size, [stored[coord] for coord in edge])
    nodes: list[dict[str, Any]] = []
    sequence: list[dict[str, Any]] = []
    for row in new:
        sequence.append({"id": row.id, "seq": frontier.size})
        for level, idx, digest in frontier.append(merkle.leaf_hash(bytes.fromhex(row.hash))):
            nodes.append({"level": level, "idx": idx, "hash": digest})
    for start in range(0, len(sequence), VERIFY_BATCH):
        session.execute(update(AuditEntry), sequence[start : start + VERIFY_BATCH])
    for start in range(0, len(nodes), VERIFY_BATCH):
        session.execute(insert(AuditTreeNode), nodes[start : start + VERIFY_BATCH])
    key = key or signing_key()
    issued = now.astimezone(UTC).replace(microsecond=now.microsecond // 1000 * 1000)
    if latest is not None and issued < latest.issued_at:
        issued = latest.issued_at  # tree heads never go back in time
    root = frontier.root()
    signature = key.sign(signed_bytes(frontier.size, timestamp_ms(issued), root))
    head = AuditCheckpoint(
        tree_size=frontier.size,
        root_hash=root.hex(),
        issued_at=issued,
        signature=base64.b64encode(signature).decode(),
        key_id=key_id(key.public_key()),
    )
    session.add(head)
    session.flush()
    return head


#: Entries one periodic checkpoint sequences at most (a backlog is taken over several ticks,
#: each transaction short).
CHECKPOINT_JOB_BATCH = 20_000


def checkpoint_job(session: Session, now: datetime) -> AuditCheckpoint | None:
    """The job workers' periodic checkpoint: :func:`checkpoint` of a batch, committed."""
    try:
        head = checkpoint(session, now, limit=CHECKPOINT_JOB_BATCH)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return head


# -- proofs --------------------------------------------------------------------------------------


def _checkpoint_of_size(session: Session, tree_size: int | None) -> AuditCheckpoint:
    if tree_size is None:
        head = latest_checkpoint(session)
        if head is None:
            raise NotFound(_("No checkpoint has been signed yet."))
        return head
    found = session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.tree_size == tree_size))
    if found is None:
        raise NotFound(_("No checkpoint has this tree size."))
    return found


def _hash_ranges(session: Session, ranges: list[merkle.Range]) -> list[bytes]:
    try:
        return merkle.hash_ranges(ranges, lambda coords: _fetch_nodes(session, coords))
    except KeyError as exc:  # a deleted node: answer clearly, never a 500
        raise Conflict(
            _("The stored audit tree is damaged; the operator must run flask audit verify.")
        ) from exc


@dataclass
class InclusionProof:
    entry: AuditEntry
    leaf_index: int
    checkpoint: AuditCheckpoint
    path: list[bytes] = field(default_factory=list)


def inclusion_proof(
    session: Session, entry_id: int, tree_size: int | None = None
) -> InclusionProof:
    """The audit path of entry ``entry_id`` in the tree of the checkpoint of ``tree_size``
    (the latest by default). ``NotFound`` for an unknown entry or size; ``Conflict`` if the
    entry is not in that tree yet (not checkpointed, or after ``tree_size``)."""
    entry = session.get(AuditEntry, entry_id)
    if entry is None:
        raise NotFound()
    head = _checkpoint_of_size(session, tree_size)
    if entry.seq is None or entry.seq >= head.tree_size:
        raise Conflict(
            _("This entry is not in that tree head yet: it joins at the next checkpoint.")
        )
    ranges = merkle.inclusion_ranges(entry.seq, head.tree_size)
    path = _hash_ranges(session, ranges)
    return InclusionProof(entry, entry.seq, head, path)


@dataclass
class ConsistencyProof:
    first: AuditCheckpoint
    second: AuditCheckpoint
    path: list[bytes] = field(default_factory=list)


def consistency_proof(session: Session, first: int, second: int) -> ConsistencyProof:
    """RFC 6962 consistency proof that the tree of size ``first`` is a prefix of the tree of
    size ``second`` (both sizes of signed checkpoints). ``Invalid`` unless 0 < first ≤ second;
    ``NotFound`` for a size no checkpoint has."""
    if not 0 < first <= second:
        msg = _("Give two tree sizes with 0 < first ≤ second.")
        raise Invalid(msg, {"first": [msg]})
    older = _checkpoint_of_size(session, first)
    newer = _checkpoint_of_size(session, second)
    ranges = merkle.consistency_ranges(first, second) if first < second else []
    path = _hash_ranges(session, ranges)
    return ConsistencyProof(older, newer, path)


# -- verification --------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""
    #: The checkpoint (id) that does not hold, when the break is in the tree or a signature.
    checkpoint_id: int | None = None
    chains: int = 0
    checkpoints: int = 0
    tree_size: int = 0
    #: Root of the latest checkpoint: a copy kept outside the database (a log, another
    #: organization's records) proves later that history up to it was not rewritten.
    root_hash: str = ""
    unsequenced: int = 0


def _chain_rows(session: Session) -> Iterator[Any]:
    """Every entry in chain order (subject, position), as plain rows in batches.

    Rows, not ORM objects: objects already in the caller's session would come back from the
    identity map with the values they had when loaded, hiding a change made in the database
    since; and the caller's other objects stay untouched.
    """
    columns = (
        AuditEntry.id,
        AuditEntry.object_type,
        AuditEntry.object_id,
        AuditEntry.chain_seq,
        AuditEntry.prev_id,
        AuditEntry.prev_hash,
        AuditEntry.salt,
        AuditEntry.hash,
        AuditEntry.occurred_at,
        AuditEntry.actor_user_id,
        AuditEntry.action,
        AuditEntry.payload,
        AuditEntry.seq,
    )
    order = (AuditEntry.object_type, AuditEntry.object_id, AuditEntry.chain_seq)
    query = select(*columns).order_by(*order).limit(VERIFY_BATCH)
    batch = session.execute(query).all()
    while batch:
        yield from batch
        last = batch[-1]
        batch = session.execute(
            query.where(tuple_(*order) > tuple_(last.object_type, last.object_id, last.chain_seq))
        ).all()


def _verify_chains(session: Session) -> VerifyResult:
    subject: tuple[str, str] | None = None
    expected_seq, expected_prev_id, expected_prev_hash, prev_log_seq = 1, None, GENESIS_HASH, None
    checked = chains = 0
    for row in _chain_rows(session):
        if (row.object_type, row.object_id) != subject:
            subject = (row.object_type, row.object_id)
            expected_seq, expected_prev_id, expected_prev_hash, prev_log_seq = (
                1,
                None,
                GENESIS_HASH,
                None,
            )
            chains += 1
        if row.chain_seq != expected_seq:
            reason = (
                "an entry before it in its chain is missing (deleted)"
                if row.chain_seq > expected_seq
                else "a second entry at the same position of its chain (inserted)"
            )
            return VerifyResult(False, checked, row.id, reason)
        if row.prev_id != expected_prev_id or row.prev_hash != expected_prev_hash:
            return VerifyResult(
                False, checked, row.id, "link to the previous entry of its chain is broken"
            )
        digest = entry_hash(
            row.prev_hash,
            row.chain_seq,
            row.salt,
            row.occurred_at,
            row.actor_user_id,
            row.action,
            row.object_type,
            row.object_id,
            row.payload,
        )
        if digest != row.hash:
            return VerifyResult(False, checked, row.id, "content does not match its hash")
        # The predecessor committed first, so the checkpoint sequenced it no later.
        if (
            row.seq is not None
            and row.chain_seq > 1
            and (prev_log_seq is None or row.seq < prev_log_seq)
        ):
            return VerifyResult(
                False, checked, row.id, "its log position is before its predecessor's (reordered)"
            )
        prev_log_seq = row.seq
        expected_seq += 1
        expected_prev_id, expected_prev_hash = row.id, row.hash
        checked += 1
    return VerifyResult(True, checked, chains=chains)


def _log_rows(session: Session) -> Iterator[Any]:
    """Sequenced entries in log order, each with the leaf the tree stores at its position."""
    query = (
        select(AuditEntry.id, AuditEntry.seq, AuditEntry.hash, AuditTreeNode.hash.label("leaf"))
        .outerjoin(
            AuditTreeNode,
            and_(AuditTreeNode.level == 0, AuditTreeNode.idx == AuditEntry.seq),
        )
        .where(AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq)
        .limit(VERIFY_BATCH)
    )
    batch = session.execute(query).all()
    while batch:
        yield from batch
        batch = session.execute(query.where(AuditEntry.seq > batch[-1].seq)).all()


def _verify_signatures(
    heads: list[Any], public: Ed25519PublicKey, checked: int
) -> VerifyResult | None:
    own_key = key_id(public)
    previous = None
    for head in heads:
        if head.key_id != own_key:
            return VerifyResult(
                False, checked, None, "signed by another key than this log's", head.id
            )
        try:
            public.verify(
                base64.b64decode(head.signature),
                signed_bytes(
                    head.tree_size, timestamp_ms(head.issued_at), bytes.fromhex(head.root_hash)
                ),
            )
        except (InvalidSignature, ValueError):
            return VerifyResult(False, checked, None, "its signature does not verify", head.id)
        if previous is not None and head.issued_at < previous.issued_at:
            return VerifyResult(
                False, checked, None, "issued before the smaller tree head before it", head.id
            )
        previous = head
    return None


def _verify_tree(session: Session, heads: list[Any], checked: int) -> VerifyResult | None:
    frontier = merkle.Frontier()
    pending = iter(heads)
    head = next(pending, None)
    prev_id: int | None = None
    for row in _log_rows(session):
        if row.seq != frontier.size:
            return VerifyResult(
                False,
                checked,
                row.id,
                f"the entry at log position {frontier.size} before it is missing (deleted)",
            )
        if head is None:
            return VerifyResult(
                False, checked, row.id, "it has a log position no checkpoint covers"
            )
        leaf = merkle.leaf_hash(bytes.fromhex(row.hash))
        if row.leaf is None:
            return VerifyResult(
                False, checked, row.id, f"the tree has no leaf at its position {row.seq}", head.id
            )
        if bytes(row.leaf) != leaf:
            return VerifyResult(
                False,
                checked,
                row.id,
                f"it is not the entry the tree recorded at log position {row.seq} "
                "(altered or reordered)",
                head.id,
            )
        frontier.append(leaf)
        prev_id = row.id
        while head is not None and head.tree_size == frontier.size:
            if frontier.root().hex() != head.root_hash:
                return VerifyResult(
                    False,
                    checked,
                    row.id,
                    f"the root of checkpoint {head.id} (tree size {head.tree_size}) is not the "
                    "root of the entries it covers",
                    head.id,
                )
            head = next(pending, None)
    if head is not None:
        return VerifyResult(
            False,
            checked,
            prev_id,
            f"checkpoint {head.id} covers {head.tree_size} entries but the log holds "
            f"{frontier.size} (entries deleted)",
            head.id,
        )
    return None


def _verify_nodes(session: Session, size: int, checked: int) -> VerifyResult | None:
    """Every stored node above the leaves is the hash of its two children, and each level
    holds exactly the perfect subtrees a tree of ``size`` leaves has (proofs are built from
    them; the leaves themselves were compared with the entries already)."""
    counts = dict(
        session.execute(
            select(AuditTreeNode.level, func.count()).group_by(AuditTreeNode.level)
        ).all()
    )
    level = 0
    while (size >> level) or counts.get(level):
        if counts.get(level, 0) != size >> level:
            return VerifyResult(
                False,
                checked,
                None,
                f"the tree stores {counts.get(level, 0)} nodes at level "
                f"{level} instead of {size >> level}",
            )
        level += 1
    left = AuditTreeNode.__table__.alias("left_child")
    right = AuditTreeNode.__table__.alias("right_child")
    node = AuditTreeNode.__table__
    for lv in range(1, level):
        last = -1
        while True:
            rows = session.execute(
                select(node.c.idx, node.c.hash, left.c.hash.label("l"), right.c.hash.label("r"))
                .outerjoin(left, and_(left.c.level == lv - 1, left.c.idx == node.c.idx * 2))
                .outerjoin(right, and_(right.c.level == lv - 1, right.c.idx == node.c.idx * 2 + 1))
                .where(node.c.level == lv, node.c.idx > last)
                .order_by(node.c.idx)
                .limit(VERIFY_BATCH)
            ).all()
            if not rows:
                break
            for row in rows:
                if (
                    row.l is None
                    or row.r is None
                    or bytes(row.hash) != merkle.node_hash(bytes(row.l), bytes(row.r))
                ):
                    return VerifyResult(
                        False,
                        checked,
                        None,
                        f"stored tree node (level {lv}, index {row.idx}) "
                        "is not the hash of its children",
                    )
            last = rows[-1].idx
    return None


def verify(session: Session, public: Ed25519PublicKey | None = None) -> VerifyResult:
    """Check every chain, then every checkpoint's signature (``public`` defaults to the
    application's key), then the tree: the log positions, each leaf against its entry, every
    checkpoint's root recomputed from the entries, and the stored nodes. The first problem
    found is reported with the entry (``first_broken_id``) and/or checkpoint it concerns."""
    chains = _verify_chains(session)
    if not chains.ok:
        return chains
    heads = list(
        session.execute(
            select(
                AuditCheckpoint.id,
                AuditCheckpoint.tree_size,
                AuditCheckpoint.root_hash,
                AuditCheckpoint.issued_at,
                AuditCheckpoint.signature,
                AuditCheckpoint.key_id,
            ).order_by(AuditCheckpoint.tree_size)
        ).all()
    )
    if heads:
        public = public or signing_key().public_key()
        broken = _verify_signatures(heads, public, chains.checked)
        if broken is not None:
            return broken
    broken = _verify_tree(session, heads, chains.checked)
    if broken is not None:
        return broken
    size = heads[-1].tree_size if heads else 0
    broken = _verify_nodes(session, size, chains.checked)
    if broken is not None:
        return broken
    unsequenced = session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.seq.is_(None))
    )
    return VerifyResult(
        True,
        chains.checked,
        chains=chains.chains,
        checkpoints=len(heads),
        tree_size=size,
        root_hash=heads[-1].root_hash if heads else "",
        unsequenced=int(unsequenced or 0),
    )
