"""The pieces the OpenAPI document's paths and components are built from."""

from __future__ import annotations

from typing import Any

# The JSON-patch media types of PATCH /v2/images/{image_id}.
V21 = "application/openstack-images-v2.1-json-patch"
V20 = "application/openstack-images-v2.0-json-patch"
# What each error status means, in the responses of every operation that can answer it.
ERRORS = {
    400: "Malformed request or invalid value",
    401: "No valid identity",
    403: "Forbidden by policy or by a rule of the image",
    404: "No such image, or not visible to the caller",
    405: "Method not allowed on this resource (see Allow)",
    409: "The image is not in a state that allows this, or another import holds it",
    410: "The image was deleted while its data was uploaded",
    413: "A size cap or quota is exceeded",
    415: "Unsupported media type, or image content that does not match disk_format",
    416: "Range not satisfiable",
    503: "A store or the database is unavailable",
}


def ref(name: str) -> dict[str, str]:
    """A reference to the schema NAME of the document's components."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A response with a JSON body of SCHEMA."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*codes: int) -> dict[str, Any]:
    """The error responses of CODES, each in JSON, HTML or plain text."""
    error = {"schema": ref("Error")}
    return {
        str(code): {
            "description": ERRORS[code],
            "content": {
                "application/json": error,
                "text/html": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        }  # fmt: skip
        for code in codes
    }


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A required JSON request body of this schema."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def no_content(description: str) -> dict[str, Any]:
    """A 204 response."""
    return {"204": {"description": description}}


def schema_body(document: dict[str, Any]) -> dict[str, Any]:
    """A served schema document as an OpenAPI schema (without its hypermedia keys)."""
    return {key: value for key, value in document.items() if key not in ("name", "links")}


def path_param(name: str, description: str) -> dict[str, Any]:
    """A string parameter of the path."""
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """An optional parameter of the query string (a string unless SCHEMA says otherwise)."""
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}  # fmt: skip


# The {image_id} parameter of every path under /v2/images/{image_id}.
IMAGE_ID = path_param("image_id", "The image's id (a UUID)")
