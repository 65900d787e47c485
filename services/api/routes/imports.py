"""Import routes: PUT /stage, POST /import, and the discovery documents under /v2/info."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from services.api import socket_body
from services.api.bodies import json_body
from services.api.runtime import caller, json_response, no_content, runtime, services
from shared.config.stores import FileStoreSettings, HttpStoreSettings, S3StoreSettings
from shared.handlers import imports, staging

bp = Blueprint("imports", __name__)


@bp.put("/v2/images/<image_id>/stage")
def stage(image_id: str) -> Response:
    """PUT /v2/images/{id}/stage: the data of a glance-direct import; 204."""
    data = socket_body.image_data()
    rt = runtime()
    staging.stage_image_data(rt.services, caller(), image_id, data, declared_size=request.content_length,
                             heartbeat=rt.heartbeat)  # fmt: skip
    return no_content()


@bp.post("/v2/images/<image_id>/import")
def start_import(image_id: str) -> Response:
    """POST /v2/images/{id}/import: 202 with an empty body; follow the task (GET /v2/images/{id}/tasks)."""
    body = json_body()
    svc = services()
    parsed = imports.parse_import(svc, body, request.headers.get("X-Image-Meta-Store"))
    imports.start_import(svc, caller(), image_id, parsed)
    response = no_content()
    response.status_code = 202
    return response


@bp.get("/v2/info/import")
def import_info() -> Response:
    """The enabled import methods."""
    methods = services().settings.enabled_import_methods
    return json_response(
        {"import-methods": {"description": "Import methods available.", "type": "array", "value": methods}}
    )


@bp.get("/v2/info/stores")
def stores_info() -> Response:
    """The stores, the default one flagged."""
    return json_response({"stores": [_store_view(name, detail=False) for name in services().settings.enabled_backends]})


@bp.get("/v2/info/stores/detail")
def stores_detail() -> Response:
    """The stores with their type and properties (policy stores_info_detail: admin or service)."""
    svc = services()
    svc.policy.enforce("stores_info_detail", caller(), {"project_id": caller().project_id})
    return json_response({"stores": [_store_view(name, detail=True) for name in svc.settings.enabled_backends]})


@bp.get("/v2/info/usage")
def usage_info() -> Response:
    """Quota usage: empty, as Glance without Keystone unified limits."""
    return json_response({"usage": {}})


def _store_view(name: str, *, detail: bool) -> dict[str, Any]:
    settings = services().settings
    options = settings.enabled_backends[name]
    view: dict[str, Any] = {"id": name}
    if options.store_description:
        view["description"] = options.store_description
    if name == settings.glance_store.default_backend:
        view["default"] = "true"
    if isinstance(options, HttpStoreSettings):
        view["read-only"] = "true"
    if detail:
        view["type"] = options.type
        view["properties"] = _properties(name, options)
        view["weight"] = options.weight
    return view


def _properties(name: str, options: Any) -> dict[str, Any]:
    if isinstance(options, FileStoreSettings):
        return {"data_dir": str(services().settings.store_dir(name)), "chunk_size": options.filesystem_store_chunk_size,
                "thin_provisioning": options.filesystem_thin_provisioning}  # fmt: skip
    if isinstance(options, S3StoreSettings):
        return {"s3_store_large_object_size": options.s3_store_large_object_size,
                "s3_store_large_object_chunk_size": options.s3_store_large_object_chunk_size,
                "s3_store_thread_pools": options.s3_store_thread_pools}  # fmt: skip
    return {}
