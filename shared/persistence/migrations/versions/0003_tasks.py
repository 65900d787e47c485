"""Tasks: the records of imports (api_image_import) and legacy import tasks.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("owner", sa.String(255)),
        sa.Column("input", sa.JSON()),
        sa.Column("result", sa.JSON()),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("image_id", sa.String(36)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("user_id", sa.String(255)),
        sa.Column("expires_at", sa.DateTime()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sa.DateTime()),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger()),
        sa.Column("current_store", sa.String(255)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index("ix_tasks_owner", "tasks", ["owner"])
    op.create_index("ix_tasks_image_id", "tasks", ["image_id"])
    op.create_index("ix_tasks_created_at_id", "tasks", ["created_at", "id"])


def downgrade() -> None:
    op.drop_table("tasks")
