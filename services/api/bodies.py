"""Reading request bodies as Glance does, and the one input rule of glint's own: no NUL characters."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from services.api.errors import ApiError


def json_body() -> Any:
    """The request's JSON body (``None`` when empty); Glance's 400 when it is not JSON."""
    try:
        return json.loads(request.get_data() or b"null")
    except ValueError:
        raise ApiError(400, "Malformed JSON in request body.") from None


BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
NUL_MESSAGE = "NUL characters are not allowed in the request's URL, query or JSON body."


def reject_nul_characters() -> None:
    """400 when the path, the query or a JSON body holds a NUL character.

    No identifier, name, property or filter can contain one (PostgreSQL cannot store it), so
    every such request is refused up front instead of failing in the database.
    """
    environ = request.environ
    query = environ.get("QUERY_STRING", "")
    if "\x00" in environ.get("PATH_INFO", ""):
        raise ApiError(400, NUL_MESSAGE)
    if ("%00" in query or "\x00" in query) and any(
        "\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)
    ):
        raise ApiError(400, NUL_MESSAGE)
    if request.method not in BODY_METHODS:
        return  # no handler reads the body of a GET or DELETE
    if request.method == "PUT" and request.path.rstrip("/").endswith(("/file", "/stage")):
        return  # image data, streamed by its handler, never read here
    raw = request.get_data()
    if b"\\u0000" not in raw and b"\x00" not in raw:
        return
    try:
        if _holds_nul(json.loads(raw)):
            raise ApiError(400, NUL_MESSAGE)
    except ValueError:
        return  # malformed: the handler answers Glance's 400


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False
