"""The body of ``POST /v2/images/{id}/locations``, validated as Glance does (JSON Schema 2020-12)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

HASH_ALGORITHMS = ["sha1", "sha256", "sha512", "md5"]


def location_schema() -> dict[str, Any]:
    """``{"add_location": body}``: a ``url`` and optional ``validation_data`` (algorithm and hash together)."""
    validation_data = {
        "type": "object",
        "writeOnly": True,
        "additionalProperties": False,
        "properties": {
            "os_hash_algo": {"type": "string", "maxLength": 64, "enum": HASH_ALGORITHMS},
            "os_hash_value": {"type": "string", "maxLength": 128},
        },
        "dependentRequired": {"os_hash_value": ["os_hash_algo"], "os_hash_algo": ["os_hash_value"]},
    }
    body = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "readOnly": True, "description": "The URL of the image's data"},
            "validation_data": validation_data,
        },
        "required": ["url"],
    }
    return {"name": "location", "properties": {"add_location": body}, "additionalProperties": {"type": "string"}}


VALIDATOR_CLASS = Draft202012Validator
