"""agreement: index sampled tasks by project and overlap state (the bounded open set is counted
and refilled on every rating of a sampled task)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 16:30:00
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_agreement_tasks_open_set", "agreement_tasks", ["project_id", "overlap", "batch_id", "task_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_agreement_tasks_open_set", table_name="agreement_tasks")
