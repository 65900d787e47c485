"""Policy: Glance's default rules, in oslo.policy's rule language, and their evaluator.

A rule is a string such as ``role:admin or (role:member and project_id:%(project_id)s)``.
Supported checks: ``role:<name>``, ``rule:<name>``, ``<credential>:%(<target attr>)s``,
``'<literal>':%(<target attr>)s``, ``@`` (always), ``!`` (never) and the empty
rule (always); combined with ``and``, ``or``, ``not`` and parentheses.

The target of an image rule (Glance's ``ImageTarget``): ``project_id`` and
``owner`` are the image's owner, ``visibility`` its visibility, and
``member_id`` the caller's project when the image is ``shared`` and the
caller is not its owner.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.domain.context import RequestContext
from shared.domain.errors import Forbidden

_PM = "role:admin or (role:member and project_id:%(project_id)s)"
_PR = "role:admin or (role:reader and project_id:%(project_id)s)"
_SEES = (
    "project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s "
    "or 'public':%(visibility)s or 'shared':%(visibility)s"
)

DEFAULT_RULES: Mapping[str, str] = {
    "context_is_admin": "role:admin",
    "default": "",
    "service_api": "role:service or role:admin",
    "get_images": _PR,
    "get_image": f"role:admin or (role:reader and ({_SEES}))",
    "add_image": "role:admin or (role:member and project_id:%(project_id)s and project_id:%(owner)s)",
    "modify_image": _PM,
    "delete_image": _PM,
    "upload_image": _PM,
    "deactivate": _PM,
    "reactivate": _PM,
    "communitize_image": _PM,
    "publicize_image": "role:admin",
    "download_image": f"role:admin or (role:member and ({_SEES}))",
    "get_image_location": _PR,
    "delete_image_location": "role:admin",
    "set_image_location": _PM,
    "add_image_location": "rule:service_api or (role:member and project_id:%(project_id)s and project_id:%(owner)s)",
    "fetch_image_location": "rule:service_api",
    "add_member": _PM,
    "delete_member": _PM,
    "get_member": "role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))",
    "get_members": "role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))",
    "modify_member": "role:admin or (role:member and project_id:%(member_id)s)",
    "copy_image": "role:admin",
    "tasks_api_access": "role:admin",
    "stores_info_detail": "role:admin or role:service",
}

_Check = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]


class PolicyError(ValueError):
    """A rule cannot be parsed, or names a rule that does not exist."""


@dataclass(frozen=True)
class Policy:
    """A set of named rules, compiled once."""

    rules: Mapping[str, str]

    def __post_init__(self) -> None:
        compiled = {name: _Parser(text).parse() for name, text in self.rules.items()}
        object.__setattr__(self, "_compiled", compiled)
        for text in self.rules.values():
            for ref in re.findall(r"rule:([\w.-]+)", text):
                if ref not in compiled:
                    raise PolicyError(f"rule '{ref}' is referenced but not defined")

    @classmethod
    def default(cls, overrides: Mapping[str, str] | None = None) -> Policy:
        return cls({**DEFAULT_RULES, **(overrides or {})})

    def allows(self, rule: str, context: RequestContext, target: Mapping[str, Any]) -> bool:
        """True when ``rule`` passes for this caller and target. An unknown rule uses ``default``."""
        compiled: dict[str, _Check] = self._compiled  # type: ignore[attr-defined]
        check = compiled.get(rule, compiled["default"])
        creds = {
            "roles": context.roles,
            "project_id": context.project_id,
            "user_id": context.user_id,
            "_rules": compiled,
        }
        return check(creds, target)

    def enforce(self, rule: str, context: RequestContext, target: Mapping[str, Any]) -> None:
        """Raise Forbidden unless ``rule`` passes."""
        if not self.allows(rule, context, target):
            raise Forbidden(f"You are not authorized to complete {rule} action.")


def image_target(context: RequestContext, owner: str | None, visibility: str) -> dict[str, Any]:
    """Glance's ImageTarget for one image."""
    member_id = context.project_id if visibility == "shared" and owner != context.project_id else None
    return {"project_id": owner, "owner": owner, "visibility": visibility, "member_id": member_id}


class _Parser:
    """Recursive descent over ``or`` / ``and`` / ``not`` / parentheses / checks."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def parse(self) -> _Check:
        if not self.tokens:
            return lambda creds, target: True
        check = self._or()
        if self.pos != len(self.tokens):
            raise PolicyError(f"unexpected '{self.tokens[self.pos]}' in rule")
        return check

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _or(self) -> _Check:
        parts = [self._and()]
        while self._peek() == "or":
            self.pos += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda c, t: any(p(c, t) for p in parts))

    def _and(self) -> _Check:
        parts = [self._not()]
        while self._peek() == "and":
            self.pos += 1
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else (lambda c, t: all(p(c, t) for p in parts))

    def _not(self) -> _Check:
        if self._peek() == "not":
            self.pos += 1
            inner = self._not()
            return lambda c, t: not inner(c, t)
        return self._atom()

    def _atom(self) -> _Check:
        token = self._peek()
        if token is None:
            raise PolicyError("rule ends too early")
        self.pos += 1
        if token == "(":
            inner = self._or()
            if self._peek() != ")":
                raise PolicyError("missing ')' in rule")
            self.pos += 1
            return inner
        return _check(token)


def _tokenize(text: str) -> list[str]:
    """Split on whitespace, then peel parentheses off each end (``%(attr)s`` keeps its own)."""
    tokens: list[str] = []
    for chunk in text.split():
        opening = len(chunk) - len(chunk.lstrip("("))
        chunk = chunk[opening:]
        closing = len(chunk) - len(chunk.rstrip(")"))
        chunk = chunk[: len(chunk) - closing] if closing else chunk
        tokens.extend(["("] * opening + ([chunk] if chunk else []) + [")"] * closing)
    return tokens


def _check(token: str) -> _Check:
    if token == "@":
        return lambda c, t: True
    if token == "!":
        return lambda c, t: False
    kind, sep, match = token.partition(":")
    if not sep:
        raise PolicyError(f"'{token}' is not a check")
    if kind == "role":
        role = match.lower()
        return lambda c, t: role in c["roles"]
    if kind == "rule":
        return lambda c, t: c["_rules"][match](c, t)

    def resolve(target: Mapping[str, Any]) -> Any:
        found = re.fullmatch(r"%\((\w+)\)s", match)
        return target.get(found.group(1)) if found else match

    if kind.startswith("'") and kind.endswith("'"):
        literal = kind[1:-1]
        return lambda c, t: resolve(t) is not None and str(resolve(t)) == literal

    def generic(creds: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
        value = resolve(target)
        have = creds.get(kind)
        return value is not None and have is not None and str(have) == str(value)

    return generic
