"""Who is calling: the identity the API authenticated."""

from __future__ import annotations

from dataclasses import dataclass, field

# Keystone's default implied roles: admin implies member, member implies reader.
IMPLIED_ROLES = {"admin": ("member", "reader"), "member": ("reader",)}


@dataclass(frozen=True)
class RequestContext:
    """The caller of one request (or the system, for background work)."""

    user_id: str | None
    project_id: str | None
    roles: frozenset[str] = field(default_factory=frozenset)
    request_id: str | None = None

    @classmethod
    def from_roles(
        cls, user_id: str | None, project_id: str | None, roles: list[str], request_id: str | None = None
    ) -> RequestContext:
        """Build a context, expanding Keystone's implied roles."""
        expanded = {role.strip().lower() for role in roles if role.strip()}
        for role in list(expanded):
            expanded.update(IMPLIED_ROLES.get(role, ()))
        return cls(user_id=user_id, project_id=project_id, roles=frozenset(expanded), request_id=request_id)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles
