"""licences: modes of operation (经营方式: collect, store, utilise, dispose)

Licences recorded before keep every mode (a 综合经营许可证), so nothing they allowed changes.

Revision ID: f6a3b9d2e815
Revises: e5f2a8c1d374
Create Date: 2026-12-04 02:45:00.000000

"""

import sqlalchemy as sa

from alembic import op

revision = "f6a3b9d2e815"
down_revision = "e5f2a8c1d374"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("licences") as batch:
        batch.add_column(
            sa.Column(
                "modes",
                sa.String(length=40),
                nullable=False,
                server_default="collect,store,utilise,dispose",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("licences") as batch:
        batch.drop_column("modes")
