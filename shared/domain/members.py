"""Image members: the projects a ``shared`` image is shared with, and their answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class MemberStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(eq=False)
class Member:
    """One project's membership of one image. A new member is always ``pending``."""

    image_id: str
    member_id: str
    status: MemberStatus
    created_at: datetime
    updated_at: datetime
    id: int | None = None
