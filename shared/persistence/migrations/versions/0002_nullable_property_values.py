"""Property values may be null: Glance's typed optional properties (kernel_id, ramdisk_id) accept null.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("image_properties") as batch:
        batch.alter_column("value", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM image_properties WHERE value IS NULL")
    with op.batch_alter_table("image_properties") as batch:
        batch.alter_column("value", existing_type=sa.Text(), nullable=False)
