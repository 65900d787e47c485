"""Who is calling, in one of two modes (``[auth] mode``).

``headers``: the identity headers Keystone's auth_token middleware (or an
auth proxy) passes downstream are trusted. Only safe behind such a proxy.

``token``: ``X-Auth-Token`` must be a token issued by ``glint token create``
(signed with the deployment's secret); identity headers sent by the client
are ignored.

Either way a request without a valid identity is refused with 401.
"""

from __future__ import annotations

import structlog
from flask import Flask, g, request

from services.api.errors import ApiError
from shared.auth.tokens import InvalidToken, TokenSigner, load_or_create_secret
from shared.config.settings import Settings
from shared.domain.context import RequestContext

UNAUTHENTICATED_PATHS = frozenset({"/", "/versions", "/openapi.json"})

log = structlog.get_logger("glint.api")


def register_identity(app: Flask, settings: Settings) -> None:
    """Authenticate every request but the version documents, in the configured mode."""
    mode = settings.auth.mode
    signer = TokenSigner(load_or_create_secret(settings.auth.token_secret, settings.token_secret_file)) if (
        mode == "token"
    ) else None  # fmt: skip
    if signer is None:
        log.info("auth_mode", mode="headers", note="trusting identity headers: run behind Keystone or an auth proxy")
    else:
        log.info("auth_mode", mode="token", note="X-Auth-Token must be a glint token; identity headers are ignored")

    @app.before_request
    def _authenticate() -> None:
        if request.path in UNAUTHENTICATED_PATHS:
            return
        g.context = _from_token(signer) if signer is not None else _from_headers()


def _from_headers() -> RequestContext:
    headers = request.headers
    if headers.get("X-Identity-Status", "").lower() != "confirmed":
        raise ApiError(401)
    return RequestContext.from_roles(
        user_id=headers.get("X-User-Id") or headers.get("X-User"),
        project_id=headers.get("X-Project-Id") or headers.get("X-Tenant-Id") or headers.get("X-Tenant"),
        roles=headers.get("X-Roles", "").split(","),
        request_id=g.request_id,
    )


def _from_token(signer: TokenSigner) -> RequestContext:
    token = request.headers.get("X-Auth-Token", "")
    if not token:
        raise ApiError(401)
    try:
        claims = signer.verify(token)
    except InvalidToken as exc:
        log.info("token_refused", reason=str(exc))
        raise ApiError(401) from None
    return RequestContext.from_roles(claims.user_id, claims.project_id, list(claims.roles), request_id=g.request_id)
