"""Image list indexes: one per sort key, ``(key, created_at, id)``, and one per filter that had none.

With 10,000 images (in process), ``name=`` took 6.0 ms on PostgreSQL and 3.6 ms on SQLite reading the table;
a page sorted by ``updated_at`` 3.8 ms on PostgreSQL sorting every visible image. ``ix_images_status`` gives
way to ``(status, created_at, id)``, which answers the same filters.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# key -> whether it can be NULL (lists order NULLs first, which a PostgreSQL index must be told)
SORTED = {"name": True, "status": False, "container_format": True, "disk_format": True, "size": True,
          "updated_at": False}  # fmt: skip
FILTERED = ("virtual_size", "checksum", "os_hash_value")


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_images_status", table_name="images")
    for key, nullable in SORTED.items():
        first = sa.text(f"{key} NULLS FIRST") if nullable and postgresql else key
        op.create_index(f"ix_images_{key}_created_at_id", "images", [first, "created_at", "id"])
    for key in FILTERED:
        op.create_index(f"ix_images_{key}", "images", [key])


def downgrade() -> None:
    for key in FILTERED:
        op.drop_index(f"ix_images_{key}", table_name="images")
    for key in SORTED:
        op.drop_index(f"ix_images_{key}_created_at_id", table_name="images")
    op.create_index("ix_images_status", "images", ["status"])
