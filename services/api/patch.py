"""Reading a PATCH body in either of Glance's two JSON-patch media types."""

from __future__ import annotations

import json
from typing import Any

from services.api.errors import ApiError
from shared.handlers.image_updates import Change

V20 = "application/openstack-images-v2.0-json-patch"
V21 = "application/openstack-images-v2.1-json-patch"
MEDIA_TYPES = (V20, V21)
OPS = ("add", "remove", "replace")


def parse_patch(mimetype: str, content_type: str, raw: bytes) -> list[Change]:
    """The changes of a PATCH request, in order. Raises ApiError 415 or 400 with Glance's messages."""
    if mimetype not in MEDIA_TYPES:
        raise ApiError(
            415,
            f"The request media type {content_type} is not supported by this server.",
            f"Image PATCH expects Content-Type one of: {', '.join(MEDIA_TYPES)}",
            headers={"Accept-Patch": ", ".join(MEDIA_TYPES)},
        )
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise ApiError(400, "Malformed JSON in request body.") from None
    if not isinstance(body, list | dict):
        raise ApiError(400, "Unexpected body type. Expected list/dict.")
    if not isinstance(body, list):
        raise ApiError(400, "Request body must be a JSON array of operation objects.")
    return [_change(item, legacy=mimetype == V20) for item in body]


def _change(item: Any, *, legacy: bool) -> Change:
    if not isinstance(item, dict):
        raise ApiError(400, "Operations must be JSON objects.")
    if legacy:
        ops = [op for op in OPS if op in item]
        if len(ops) != 1:
            many = "only" if ops else "exactly"
            raise ApiError(
                400, f'Operation objects must contain {many} one member named "add", "remove", or "replace".'
            )
        op, path = ops[0], item[ops[0]]
    else:
        if "op" not in item:
            raise ApiError(
                400, "Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace."
            )
        op, path = item["op"], item.get("path")
        if op not in OPS:
            raise ApiError(400, f"Invalid operation: `{op}`. It must be one of the following: add, remove, replace.")
        if path is None:
            raise ApiError(400, "Unable to find 'path' in JSON Schema change")
    if op != "remove" and "value" not in item:
        raise ApiError(400, f'Operation "{op}" requires a member named "value".')
    pointer = _decode_pointer(path)
    if pointer == ("tags", "-") or (len(pointer) != 1 and pointer[0] != "locations"):
        raise ApiError(400, f"Invalid JSON pointer for this resource: '{path}'")
    return Change(op=op, path=pointer, value=item.get("value"), add_replaces=not legacy)


def _decode_pointer(path: Any) -> tuple[str, ...]:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ApiError(400, f'Pointer `{path}` does not start with "/".')
    if path.endswith("/"):
        raise ApiError(400, f'Pointer `{path}` end with "/".')
    parts = []
    for raw in path[1:].split("/"):
        if raw == "":
            raise ApiError(400, f'Pointer `{path}` contains adjacent "/".')
        if "~" in raw.replace("~0", "").replace("~1", ""):
            raise ApiError(400, f'Pointer `{path}` contains "~" not part of a recognized escape sequence.')
        parts.append(raw.replace("~1", "/").replace("~0", "~"))
    return tuple(parts)
