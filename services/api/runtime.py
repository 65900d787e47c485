"""What the API's routes reach for: the services, the caller and this process's heartbeat."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, g

from shared.domain.context import RequestContext
from shared.handlers.heartbeat import Heartbeat
from shared.services import Services


@dataclass
class ApiRuntime:
    services: Services
    heartbeat: Heartbeat


def make_runtime(services: Services) -> ApiRuntime:
    owner = f"api:{socket.gethostname()}:{os.getpid()}"
    heartbeat = Heartbeat(services.db, owner, services.settings.jobs.heartbeat_interval)
    return ApiRuntime(services=services, heartbeat=heartbeat)


def runtime() -> ApiRuntime:
    return current_app.extensions["glint"]


def services() -> Services:
    return runtime().services


def caller() -> RequestContext:
    """The authenticated caller of this request (set by the identity hook)."""
    return g.context


def no_content(*, content_type: bool = True) -> Response:
    """204 as Glance sends it: most carry webob's Content-Type; some (member delete, no data) none."""
    response = Response(status=204)
    if content_type:
        response.headers["Content-Type"] = "text/html; charset=UTF-8"
    else:
        del response.headers["Content-Type"]
    return response


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
