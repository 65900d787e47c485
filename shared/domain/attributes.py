"""Which image attributes a client may write, and how: Glance's read-only and reserved lists."""

from __future__ import annotations

# Base attributes a client may set on create or change with PATCH.
WRITABLE_BASE = frozenset(
    {"name", "visibility", "protected", "os_hidden", "owner", "min_disk", "min_ram",
     "container_format", "disk_format", "tags"}
)  # fmt: skip
# Every base attribute (never a custom property); PATCH "remove" on one is refused.
BASE = WRITABLE_BASE | frozenset(
    {"id", "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size",
     "created_at", "updated_at", "direct_url", "self", "file", "schema", "stores", "locations"}
)  # fmt: skip

READ_ONLY_ON_CREATE = frozenset(
    {"created_at", "updated_at", "status", "checksum", "size", "virtual_size", "direct_url",
     "self", "file", "schema", "stores"}
)  # fmt: skip
READ_ONLY_ON_PATCH = frozenset(
    {"created_at", "updated_at", "status", "checksum", "size", "virtual_size", "direct_url",
     "self", "file", "schema", "id", "os_hash_algo", "os_hash_value", "stores"}
)  # fmt: skip
RESERVED = frozenset({"location", "deleted", "deleted_at"})
RESERVED_ON_CREATE = RESERVED | {"locations"}
RESERVED_PREFIX = "os_glance"

# disk_format and container_format may only change in these statuses.
FORMAT_CHANGE_STATUSES = frozenset({"queued", "importing"})


def is_reserved(name: str, *, creating: bool = False) -> bool:
    reserved = RESERVED_ON_CREATE if creating else RESERVED
    return name in reserved or name.startswith(RESERVED_PREFIX)
