"""Leases: one holder at a time for a named role, taken over when the holder stops renewing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Connection

from shared.persistence.tables import leases


class LeaseRepository:
    """Lease rows inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def hold(self, name: str, holder: str, now: datetime, ttl: float) -> bool:
        """Take or renew lease ``name`` for ``ttl`` seconds; False while another holder's is unexpired.

        One compare-and-set UPDATE: two processes racing for an expired lease
        cannot both win, on SQLite or PostgreSQL.
        """
        result = self.conn.execute(
            update(leases)
            .where(leases.c.name == name, or_(leases.c.holder == holder, leases.c.expires_at <= now))
            .values(holder=holder, expires_at=now + timedelta(seconds=ttl))
        )
        return result.rowcount == 1

    def release(self, name: str, holder: str, now: datetime) -> None:
        """Give the lease up at once (a clean stop), so a standby takes over without waiting."""
        self.conn.execute(
            update(leases).where(leases.c.name == name, leases.c.holder == holder).values(holder=None, expires_at=now)
        )
