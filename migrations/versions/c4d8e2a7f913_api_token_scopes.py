"""api token name, scopes and how it was made

Existing tokens get every scope (they could do everything their user's role allows).
The scope list is written out here so the migration keeps meaning what it meant.

Revision ID: c4d8e2a7f913
Revises: c4d8e2a7b915
Create Date: 2026-12-02 21:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "c4d8e2a7f913"
down_revision = "c4d8e2a7b915"
branch_labels = None
depends_on = None

ALL_SCOPES = (
    "manifests:read manifests:write handoffs ledger permits oversight:read cases:write "
    "reconciliation audit:read notifications webhooks tokens"
)


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("name", sa.String(length=100), nullable=False, server_default=""))
        batch.add_column(sa.Column("scopes", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("created_via", sa.String(length=20), nullable=False, server_default="login")
        )
    op.execute(sa.text("UPDATE api_tokens SET scopes = :s").bindparams(s=ALL_SCOPES))
    # The defaults only filled the existing rows; new rows always name their values.
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("name", server_default=None)
        batch.alter_column("scopes", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("created_via")
        batch.drop_column("scopes")
        batch.drop_column("name")
