"""Image members in SQL."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from shared.domain.members import Member, MemberStatus
from shared.persistence.tables import image_members


class MemberRepository:
    """Membership rows inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def list(self, image_id: str, member_id: str | None = None) -> list[Member]:
        """The image's members, or only ``member_id``'s row when given."""
        stmt = select(image_members).where(image_members.c.image_id == image_id).order_by(image_members.c.id)
        if member_id is not None:
            stmt = stmt.where(image_members.c.member == member_id)
        return [_member(row) for row in self.conn.execute(stmt).mappings()]

    def get(self, image_id: str, member_id: str) -> Member | None:
        found = self.list(image_id, member_id)
        return found[0] if found else None

    def count(self, image_id: str) -> int:
        stmt = select(func.count()).select_from(image_members).where(image_members.c.image_id == image_id)
        return self.conn.execute(stmt).scalar_one()

    def add(self, member: Member) -> None:
        result = self.conn.execute(
            insert(image_members).values(
                image_id=member.image_id,
                member=member.member_id,
                status=member.status.value,
                created_at=member.created_at,
                updated_at=member.updated_at,
            )
        )
        member.id = result.inserted_primary_key[0]

    def save(self, member: Member) -> None:
        self.conn.execute(
            update(image_members)
            .where(image_members.c.id == member.id)
            .values(status=member.status.value, updated_at=member.updated_at)
        )

    def remove(self, member: Member) -> None:
        self.conn.execute(delete(image_members).where(image_members.c.id == member.id))


def _member(row: RowMapping) -> Member:
    return Member(
        image_id=row["image_id"],
        member_id=row["member"],
        status=MemberStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        id=row["id"],
    )
