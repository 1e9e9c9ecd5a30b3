"""relabeling: relabel projects, queue, corrections

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 16:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "relabel_projects",
        sa.Column("source_project_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("relabel_project_id", sa.BigInteger(), nullable=False),
        sa.Column("created_by_service", sa.Boolean(), nullable=False),
        sa.Column("webhook_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source_project_id"),
    )
    with op.batch_alter_table("relabel_projects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_relabel_projects_relabel_project_id"), ["relabel_project_id"], unique=False
        )
    op.create_table(
        "relabel_items",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("source_task_id", sa.BigInteger(), nullable=False),
        sa.Column("annotation_id", sa.BigInteger(), nullable=True),
        sa.Column("annotator_id", sa.BigInteger(), nullable=True),
        sa.Column("gold_item_id", sa.BigInteger(), nullable=True),
        sa.Column("reason_kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("prefill", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("relabel_project_id", sa.BigInteger(), nullable=True),
        sa.Column("relabel_task_id", sa.BigInteger(), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_annotation_id", sa.BigInteger(), nullable=True),
        sa.Column("corrected_result", sa.JSON(), nullable=True),
        sa.Column("corrected_by", sa.BigInteger(), nullable=True),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("written_annotation_id", sa.BigInteger(), nullable=True),
        sa.Column("gold_verified", sa.Boolean(), nullable=True),
        sa.Column("gold_score", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    with op.batch_alter_table("relabel_items", schema=None) as batch_op:
        batch_op.create_index("ix_relabel_items_project_status", ["project_id", "status"], unique=False)
        batch_op.create_index("ix_relabel_items_relabel_task", ["relabel_task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("relabel_items", schema=None) as batch_op:
        batch_op.drop_index("ix_relabel_items_relabel_task")
        batch_op.drop_index("ix_relabel_items_project_status")
    op.drop_table("relabel_items")
    with op.batch_alter_table("relabel_projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_relabel_projects_relabel_project_id"))
    op.drop_table("relabel_projects")
