"""audit: hash chains per subject, Merkle tree nodes, signed checkpoints; audit_head dropped

The legacy global chain is verified first (its own formula, its head row): if any entry was
altered, deleted or reordered the upgrade stops and names it, so a tampered history is never
rehashed into valid-looking chains. Then every entry is rehashed into its subject's chain in
id order, with a fresh random salt, and one entry ``audit.log_migrated`` (subject
``audit_log``/``legacy``) records the legacy chain's length and head hash, so the old head
stays anchored in the new log. The entries are sequenced by the first ``flask audit
checkpoint``.

The hashing code is copied here on purpose: a migration must not change when the
application's code does.

Revision ID: e3b1c7a9d2f4
Revises: e4b1c7a2f9d3
Create Date: 2026-12-02 16:45:00.000000

"""

import hashlib
import json
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import hazwaste.db

# revision identifiers, used by Alembic.
revision = "e3b1c7a9d2f4"
down_revision = "e4b1c7a2f9d3"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
VERSION = "hazwaste-audit-entry-v2"


def _legacy_hash(row, prev_hash):
    content = "\x1f".join(
        [
            prev_hash,
            row.occurred_at.isoformat(),
            "" if row.actor_user_id is None else str(row.actor_user_id),
            row.action,
            row.object_type,
            row.object_id,
            row.payload,
        ]
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _v2_hash(prev_hash, chain_seq, salt, occurred_at, actor, action, otype, oid, payload):
    content = "\x1f".join(
        [
            VERSION,
            prev_hash,
            str(chain_seq),
            salt,
            occurred_at.astimezone(UTC).isoformat(),
            "" if actor is None else str(actor),
            action,
            otype,
            oid,
            payload,
        ]
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _entries_table(*extra):
    return sa.table(
        "audit_entries",
        sa.column("id", sa.Integer),
        sa.column("occurred_at", hazwaste.db.UTCDateTime(timezone=True)),
        sa.column("actor_user_id", sa.Integer),
        sa.column("action", sa.String),
        sa.column("object_type", sa.String),
        sa.column("object_id", sa.String),
        sa.column("payload", sa.Text),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
        *extra,
    )


def upgrade():
    bind = op.get_bind()
    legacy = _entries_table()
    rows = bind.execute(sa.select(legacy).order_by(legacy.c.id)).all()
    head = bind.execute(
        sa.text("SELECT last_entry_id, last_hash FROM audit_head WHERE id = 1")
    ).first()
    expected = GENESIS
    for row in rows:
        if row.prev_hash != expected or _legacy_hash(row, row.prev_hash) != row.hash:
            raise RuntimeError(
                f"audit entry {row.id} breaks the legacy hash chain: investigate before "
                "upgrading (flask audit verify on the previous release names it)"
            )
        expected = row.hash
    if rows and (head is None or head.last_hash != expected):
        raise RuntimeError("the legacy audit chain's newest entries were removed")

    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_entries_prev_hash", type_="unique")
        batch_op.drop_index("ix_audit_entries_object")
        batch_op.add_column(sa.Column("chain_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("salt", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))

    entries = _entries_table(
        sa.column("chain_seq", sa.Integer),
        sa.column("prev_id", sa.Integer),
        sa.column("salt", sa.String),
    )
    tips = {}
    for row in rows:
        subject = (row.object_type, row.object_id)
        prev_id, prev_hash, position = tips.get(subject, (None, GENESIS, 0))
        salt = secrets.token_hex(16)
        digest = _v2_hash(
            prev_hash,
            position + 1,
            salt,
            row.occurred_at,
            row.actor_user_id,
            row.action,
            row.object_type,
            row.object_id,
            row.payload,
        )
        bind.execute(
            entries.update()
            .where(entries.c.id == row.id)
            .values(
                chain_seq=position + 1, prev_id=prev_id, prev_hash=prev_hash, salt=salt, hash=digest
            )
        )
        tips[subject] = (row.id, digest, position + 1)
    if rows:
        salt = secrets.token_hex(16)
        now = datetime.now(UTC)
        payload = json.dumps(
            {"legacy_entries": len(rows), "legacy_head_hash": expected},
            sort_keys=True,
            separators=(",", ":"),
        )
        bind.execute(
            entries.insert().values(
                occurred_at=now,
                actor_user_id=None,
                action="audit.log_migrated",
                object_type="audit_log",
                object_id="legacy",
                payload=payload,
                chain_seq=1,
                prev_id=None,
                prev_hash=GENESIS,
                salt=salt,
                hash=_v2_hash(
                    GENESIS,
                    1,
                    salt,
                    now,
                    None,
                    "audit.log_migrated",
                    "audit_log",
                    "legacy",
                    payload,
                ),
            )
        )

    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.alter_column("chain_seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("salt", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_index(
            "ix_audit_entries_chain", ["object_type", "object_id", "chain_seq"], unique=True
        )
        batch_op.create_unique_constraint(batch_op.f("uq_audit_entries_seq"), ["seq"])

    op.create_table(
        "audit_tree_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_audit_tree_nodes")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", hazwaste.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
        sa.UniqueConstraint("tree_size", name=op.f("uq_audit_checkpoints_tree_size")),
    )
    op.drop_table("audit_head")


def downgrade():
    """Back to one global chain in id order (rehashed with the legacy formula); checkpoints
    and tree nodes are dropped: the per-subject structure cannot be kept."""
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_entry_id", sa.Integer(), nullable=True),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_tree_nodes")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_entries_seq"), type_="unique")
        batch_op.drop_index("ix_audit_entries_chain")
        batch_op.drop_column("seq")
        batch_op.drop_column("salt")
        batch_op.drop_column("prev_id")
        batch_op.drop_column("chain_seq")
    bind = op.get_bind()
    entries = _entries_table()
    rows = bind.execute(sa.select(entries).order_by(entries.c.id)).all()
    prev, last_id = GENESIS, None
    for row in rows:
        digest = _legacy_hash(row, prev)
        bind.execute(
            entries.update().where(entries.c.id == row.id).values(prev_hash=prev, hash=digest)
        )
        prev, last_id = digest, row.id
    bind.execute(
        sa.text("INSERT INTO audit_head (id, last_entry_id, last_hash) VALUES (1, :id, :h)"),
        {"id": last_id, "h": prev},
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_audit_entries_prev_hash"), ["prev_hash"])
        batch_op.create_index("ix_audit_entries_object", ["object_type", "object_id"], unique=False)
