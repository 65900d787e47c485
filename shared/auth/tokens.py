"""Signed tokens for deployments without Keystone.

A token is ``<payload>.<signature>``: the payload is URL-safe base64 of a
JSON object (user, project, roles, issued and expiry times), the signature
an HMAC-SHA256 of the payload under the deployment's secret. Any API node
holding the secret validates a token without a lookup; a changed secret
revokes every token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = "glint-"


class InvalidToken(Exception):
    """The token is malformed, forged or expired; the message says which."""


@dataclass(frozen=True)
class Claims:
    user_id: str
    project_id: str
    roles: tuple[str, ...]
    expires_at: int


class TokenSigner:
    """Issues and verifies tokens with one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the token secret must be at least 16 bytes")
        self._secret = secret

    def issue(self, user_id: str, project_id: str, roles: list[str], ttl: int, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        body = {"u": user_id, "p": project_id, "r": [r.strip() for r in roles if r.strip()], "iat": issued,
                "exp": issued + ttl}  # fmt: skip
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{PREFIX}{payload}.{self._sign(payload)}"

    def verify(self, token: str, now: float | None = None) -> Claims:
        """The token's claims; raises InvalidToken when it is malformed, forged or expired."""
        if not token.startswith(PREFIX) or token.count(".") != 1:
            raise InvalidToken("not a glint token")
        payload, signature = token[len(PREFIX) :].split(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidToken("bad signature")
        try:
            body = json.loads(_unb64(payload))
            claims = Claims(str(body["u"]), str(body["p"]), tuple(body["r"]), int(body["exp"]))
        except (ValueError, KeyError, TypeError):
            raise InvalidToken("malformed token") from None
        if claims.expires_at <= (now if now is not None else time.time()):
            raise InvalidToken("token expired")
        return claims

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())


def load_or_create_secret(configured: str, path: Path) -> bytes:
    """The configured secret, else the one stored at ``path`` (created once, readable by its owner only)."""
    if configured:
        return configured.encode()
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_urlsafe(48).encode())
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temp, path)  # atomic: when two processes race, one secret wins and both use it
    except FileExistsError:
        pass
    finally:
        temp.unlink()
    return path.read_bytes().strip()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
