"""Audit log: one hash chain per audited subject, and a signed Merkle tree over all entries.

``audit_entries`` rows are written by :func:`hazwaste.audit.services.record` inside the
caller's transaction; ``seq`` stays NULL until the checkpoint job gives the entry its place in
the global log, adds its leaf to ``audit_tree_nodes`` and signs a new ``audit_checkpoints`` row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hazwaste.db import Base

#: ``prev_hash`` of the first entry of every subject's chain.
GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    """One audited event, the ``chain_seq``-th of its subject (``object_type``, ``object_id``).

    ``hash`` = SHA-256 over the predecessor's hash, the chain position, a random ``salt`` and
    the row's content (:func:`hazwaste.audit.services.entry_hash`). The unique index on
    (subject, ``chain_seq``) lets one entry only follow a given predecessor: a second,
    concurrent append to the same subject fails with an IntegrityError instead of forking.
    ``prev_id`` is deliberately no foreign key: checking one would take a key-share lock on
    the predecessor, which the checkpoint's update of ``seq`` (a unique column) would wait on.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_chain", "object_type", "object_id", "chain_seq", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime]
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(60))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON (sorted keys, no spaces)
    #: Position in the subject's chain, from 1.
    chain_seq: Mapped[int] = mapped_column(Integer)
    #: The subject's previous entry (NULL for the first), and its hash (GENESIS_HASH then).
    prev_id: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    #: 16 random bytes (hex) in the hash: the published hash reveals nothing guessable.
    salt: Mapped[str] = mapped_column(String(32))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Index in the global log (= leaf index of the Merkle tree), set by the checkpoint job.
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)


class AuditTreeNode(Base):
    """A node of a *perfect* subtree of the Merkle tree: ``level`` 0 holds the leaf hashes
    (``idx`` = ``seq``), level k the hash of leaves [idx·2^k, (idx+1)·2^k). Any tree head and
    any proof is computed from O(log n) of these rows."""

    __tablename__ = "audit_tree_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(Base):
    """A signed tree head: the first ``tree_size`` entries of the log have Merkle root
    ``root_hash``, signed with Ed25519 at ``issued_at`` (whole milliseconds)."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, unique=True)
    root_hash: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime]
    #: Base64 Ed25519 signature over :func:`hazwaste.audit.transparency.signed_bytes`.
    signature: Mapped[str] = mapped_column(String(100))
    #: SHA-256 (hex) of the raw public key that signed it (keys can be rotated).
    key_id: Mapped[str] = mapped_column(String(64))
