"""The API application factory."""

from __future__ import annotations

import time
import uuid

import structlog
from flask import Flask, Response, g, request
from werkzeug.exceptions import MethodNotAllowed

from services.api.bodies import reject_nul_characters
from services.api.errors import register_error_handlers
from services.api.identity import register_identity
from services.api.routes import image_data, images, imports, locations, members, schemas, tasks, versions
from services.api.runtime import make_runtime
from shared.config.settings import Settings
from shared.services import Services

log = structlog.get_logger("glint.api")


def create_app(settings: Settings, services: Services | None = None) -> Flask:
    """Build the Flask app; ``services`` defaults to the concrete ones built from ``settings``."""
    if services is None:
        from shared.bootstrap import bootstrap

        services = bootstrap(settings)
    app = Flask("glint.api")
    app.extensions["glint"] = make_runtime(services)

    @app.before_request
    def _start() -> None:
        g.request_id = f"req-{uuid.uuid4()}"
        g.started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)

    @app.before_request
    def _head_and_options() -> Response | None:
        """Glance answers HEAD with 405 and OPTIONS with an empty 200; Flask would serve both for every route."""
        if request.method == "OPTIONS":
            response = Response(status=200)
            del response.headers["Content-Type"]
            return response
        if request.method == "HEAD":
            allowed = app.url_map.bind_to_environ(request.environ).allowed_methods()
            raise MethodNotAllowed(valid_methods=[m for m in allowed if m not in ("HEAD", "OPTIONS")])
        return None

    register_identity(app, settings)
    app.before_request(reject_nul_characters)
    register_error_handlers(app)

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["x-openstack-request-id"] = g.get("request_id", f"req-{uuid.uuid4()}")
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        log.info("request", method=request.method, path=request.path, status=response.status_code,
                 ms=round(elapsed, 2))  # fmt: skip
        return response

    for module in (versions, schemas, images, image_data, members, imports, locations, tasks):
        app.register_blueprint(module.bp)
    return app
