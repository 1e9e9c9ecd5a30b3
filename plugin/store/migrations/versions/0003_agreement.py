"""batch agreement: batches, samples, figures

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 16:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreement_batches",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("task_count", sa.Integer(), nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("sample_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("service_user_id", sa.BigInteger(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("figures", sa.JSON(), nullable=True),
        sa.Column("alerted", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("agreement_batches", schema=None) as batch_op:
        batch_op.create_index("ix_agreement_batches_project_status", ["project_id", "status"], unique=False)

    op.create_table(
        "agreement_tasks",
        sa.Column("project_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("task_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("sampled", sa.Boolean(), nullable=False),
        sa.Column("overlap", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("project_id", "task_id"),
    )
    with op.batch_alter_table("agreement_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agreement_tasks_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_agreement_tasks_task_id"), ["task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("agreement_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_tasks_task_id"))
        batch_op.drop_index(batch_op.f("ix_agreement_tasks_batch_id"))
    op.drop_table("agreement_tasks")
    with op.batch_alter_table("agreement_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_agreement_batches_project_status")
    op.drop_table("agreement_batches")
