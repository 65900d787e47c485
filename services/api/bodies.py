"""Reading request bodies as Glance does."""

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
