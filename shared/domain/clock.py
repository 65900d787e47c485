"""Time as the domain sees it: naive UTC datetimes, rendered the way Glance renders them."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo (the database stores naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def isotime(value: datetime | None) -> str | None:
    """Glance's API and payload form: ``YYYY-MM-DDThh:mm:ssZ``."""
    return None if value is None else value.isoformat(timespec="seconds")[:19] + "Z"  # strftime's result, faster


def oslo_timestamp(value: datetime) -> str:
    """oslo.messaging's ``str(datetime.utcnow())``: a space, no zone, no fraction when it is zero."""
    return str(value.replace(tzinfo=None))
