"""outbox jobs (after-commit work drained by the job queue)

Revision ID: e4b1c7a2f9d3
Revises: d07866ec2123
Create Date: 2026-12-02 16:50:00.000000

"""

from alembic import op
import sqlalchemy as sa

import hazwaste.db


# revision identifiers, used by Alembic.
revision = "e4b1c7a2f9d3"
down_revision = "d07866ec2123"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "outbox_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "done",
                "dead",
                name="outbox_job_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", hazwaste.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", hazwaste.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("swept_at", hazwaste.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", hazwaste.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_jobs")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_jobs_dedupe_key")),
    )
    with op.batch_alter_table("outbox_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_jobs_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("outbox_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_jobs_status_next_attempt_at")
    op.drop_table("outbox_jobs")
