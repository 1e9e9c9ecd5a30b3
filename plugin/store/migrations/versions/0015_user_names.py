"""users: first_name and last_name, so the dashboard names people as Label Studio does

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 17:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("first_name", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("last_name", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_name")
        batch.drop_column("first_name")
