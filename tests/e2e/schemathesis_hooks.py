"""Loaded by schemathesis (SCHEMATHESIS_HOOKS): how to send Glance's two JSON-patch media types."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.serializer("application/openstack-images-v2.1-json-patch", "application/openstack-images-v2.0-json-patch")
def json_patch(ctx: Any, value: Any) -> dict[str, Any]:
    return {"data": json.dumps(value).encode()}
