"""The database schema, as SQLAlchemy Core tables. Alembic migrations create it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# An autoincrementing 64-bit key that SQLite accepts as its rowid alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")

images = Table(
    "images",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255)),
    Column("status", String(30), nullable=False),
    Column("visibility", String(20), nullable=False),
    Column("protected", Boolean, nullable=False),
    Column("os_hidden", Boolean, nullable=False),
    Column("checksum", String(32)),
    Column("os_hash_algo", String(64)),
    Column("os_hash_value", String(128)),
    Column("owner", String(255)),
    Column("size", BigInteger),
    Column("virtual_size", BigInteger),
    Column("min_disk", Integer, nullable=False),
    Column("min_ram", Integer, nullable=False),
    Column("container_format", String(32)),
    Column("disk_format", String(32)),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("deleted_at", DateTime),
    Column("deleted", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_images_created_at_id", "created_at", "id"),
    Index("ix_images_owner", "owner"),
    Index("ix_images_visibility", "visibility"),
    # Filters with no sort key behind them (``virtual_size_min``, ``checksum=``, ``os_hash_value=``). Not
    # ``protected``, ``min_disk``, ``min_ram``: two-valued or nearly (0 on most images), no plan would read one.
    *(Index(f"ix_images_{key}", key) for key in ("virtual_size", "checksum", "os_hash_value")),
)

# Every sort key but created_at and id leads an index ``(key, created_at, id)``: a list sorted by ``key`` is
# ordered by Glance's tie-breakers after it, all in the first key's direction unless the caller gives more, so
# the index is read forwards for asc and backwards for desc, and stops at the page. It serves ``key=`` and
# ranges too. Lists order NULLs as the smallest value (Glance's); SQLite's indexes do so already, PostgreSQL's
# are told to (``NULLS FIRST``) so that ``ASC NULLS FIRST`` and ``DESC NULLS LAST`` are a scan, not a sort.
SORT_INDEXED = ("name", "status", "container_format", "disk_format", "size", "updated_at")


def _index_sorted_by(key: str) -> None:
    column, name = images.c[key], f"ix_images_{key}_created_at_id"
    if not column.nullable:
        Index(name, column, images.c.created_at, images.c.id)
        return
    Index(name, column.asc().nulls_first(), images.c.created_at, images.c.id).ddl_if(dialect="postgresql")
    Index(name, column, images.c.created_at, images.c.id).ddl_if(dialect="sqlite")


for _key in SORT_INDEXED:
    _index_sorted_by(_key)

image_properties = Table(
    "image_properties",
    metadata,
    Column("image_id", String(36), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("value", Text),  # null for typed optional properties set to null (kernel_id: null)
    Index("ix_image_properties_name_value", "name", "value", mysql_length={"value": 255}),
)

image_tags = Table(
    "image_tags",
    metadata,
    Column("image_id", String(36), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    Column("value", String(255), primary_key=True),
    Index("ix_image_tags_value", "value"),
)

image_locations = Table(
    "image_locations",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("image_id", String(36), ForeignKey("images.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("store", String(255), nullable=False),
    Column("meta", JSON, nullable=False),
    Column("status", String(30), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_image_locations_image_id", "image_id"),
)

image_members = Table(
    "image_members",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("image_id", String(36), ForeignKey("images.id", ondelete="CASCADE"), nullable=False),
    Column("member", String(255), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("image_id", "member"),
    Index("ix_image_members_member_status", "member", "status"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("image_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("dispatch_count", Integer, nullable=False),
    Column("owner", String(255)),
    Column("request_id", String(64)),
    Column("error", Text),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("dispatched_at", DateTime),
    Column("heartbeat_at", DateTime),
    Column("bytes_done", BigInteger, nullable=False),
    Column("bytes_total", BigInteger),
    Index("ix_jobs_status_heartbeat_at", "status", "heartbeat_at"),
    Index("ix_jobs_image_id_kind", "image_id", "kind"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False, unique=True),
    Column("event_type", String(64), nullable=False),
    Column("priority", String(8), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("image_id", String(36)),
    Column("request_id", String(64)),
    Column("created_at", DateTime, nullable=False),
    Column("published_at", DateTime),
    Index("ix_outbox_published_at_id", "published_at", "id"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("type", String(30), nullable=False),
    Column("status", String(30), nullable=False),
    Column("owner", String(255)),
    Column("input", JSON),
    Column("result", JSON),
    Column("message", Text, nullable=False),
    Column("image_id", String(36)),
    Column("request_id", String(64)),
    Column("user_id", String(255)),
    Column("expires_at", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("deleted_at", DateTime),
    Column("bytes_done", BigInteger, nullable=False),
    Column("bytes_total", BigInteger),
    Column("current_store", String(255)),
    Index("ix_tasks_owner", "owner"),
    Index("ix_tasks_image_id", "image_id"),
    Index("ix_tasks_created_at_id", "created_at", "id"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),  # what the lease is for: "notifier"
    Column("holder", String(255)),
    Column("expires_at", DateTime, nullable=False),
)
