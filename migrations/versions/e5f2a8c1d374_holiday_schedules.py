"""holiday schedules: official days off and make-up working days per year

Revision ID: e5f2a8c1d374
Revises: d1a7c3e9f020
Create Date: 2026-12-04 02:10:00.000000

"""

import sqlalchemy as sa

import hazwaste.db
from alembic import op

revision = "e5f2a8c1d374"
down_revision = "d1a7c3e9f020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holiday_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("loaded_at", hazwaste.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("loaded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["loaded_by_id"], ["users.id"], name=op.f("fk_holiday_years_loaded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_holiday_years")),
    )
    op.create_table(
        "holiday_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "holiday",
                "workday",
                name="holiday_day_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["year"],
            ["holiday_years.year"],
            name=op.f("fk_holiday_days_year_holiday_years"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_holiday_days")),
    )
    op.create_index(op.f("ix_holiday_days_year"), "holiday_days", ["year"])


def downgrade() -> None:
    op.drop_index(op.f("ix_holiday_days_year"), table_name="holiday_days")
    op.drop_table("holiday_days")
    op.drop_table("holiday_years")
