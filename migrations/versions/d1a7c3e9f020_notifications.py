"""notifications, notification preferences; users' language, verified address, digest

Existing users keep receiving e-mail: their address counts as verified from now (they were
created by an administrator or the demo before addresses were checked).

Revision ID: d1a7c3e9f020
Revises: c4d8e2a7f913
Create Date: 2026-12-03 16:00:00.000000

"""

import sqlalchemy as sa

import hazwaste.db
from alembic import op

revision = "d1a7c3e9f020"
down_revision = "c4d8e2a7f913"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("locale", sa.String(length=10), nullable=False, server_default="zh_CN")
        )
        batch.add_column(sa.Column("email_verified_at", hazwaste.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("notify_digest", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("digest_sent_on", sa.Date(), nullable=True))
    op.execute(sa.text("UPDATE users SET email_verified_at = created_at"))
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("subject_kind", sa.String(length=30), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("data_json", sa.Text(), nullable=False),
        sa.Column("occurred_at", hazwaste.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", hazwaste.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("inbox", sa.Boolean(), nullable=False),
        sa.Column("read_at", hazwaste.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("email_pending", sa.Boolean(), nullable=False),
        sa.Column("emailed_at", hazwaste.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("user_id", "event_id", name=op.f("uq_notifications_user_id_event_id")),
    )
    op.create_index(
        "ix_notifications_user_unread", "notifications", ["user_id", "inbox", "read_at"]
    )
    op.create_index("ix_notifications_user_created", "notifications", ["user_id", "created_at"])
    op.create_table(
        "notification_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("inbox", sa.Boolean(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_preferences")),
        sa.UniqueConstraint(
            "user_id", "event_type", name=op.f("uq_notification_preferences_user_id_event_type")
        ),
    )
    op.create_index(
        op.f("ix_notification_preferences_user_id"), "notification_preferences", ["user_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_notification_preferences_user_id"), table_name="notification_preferences")
    op.drop_table("notification_preferences")
    op.drop_index("ix_notifications_user_created", table_name="notifications")
    op.drop_index("ix_notifications_user_unread", table_name="notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("digest_sent_on")
        batch.drop_column("notify_digest")
        batch.drop_column("email_verified_at")
        batch.drop_column("locale")
