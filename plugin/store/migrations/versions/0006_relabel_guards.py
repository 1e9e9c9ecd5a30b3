"""relabel: index relabel items by source task (write-backs are recognized per annotation row)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 18:05:00
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_relabel_items_source_task", "relabel_items", ["source_task_id", "corrected_by"])


def downgrade() -> None:
    op.drop_index("ix_relabel_items_source_task", table_name="relabel_items")
