"""Glance-style error responses, and the mapping from domain errors to status codes.

Glance's errors are webob's: HTML unless the client prefers JSON
(``{"message", "code", "title"}``) or plain text, with the explanation
followed by ``<br /><br />`` and the detail.
"""

from __future__ import annotations

import html
import json

import structlog
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from services.api.runtime import no_content
from shared.domain import errors as domain

log = structlog.get_logger(__name__)

TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 410: "Gone", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
    416: "Request Range Not Satisfiable", 500: "Internal Server Error", 503: "Service Unavailable",
}  # fmt: skip
# webob's explanations, shown when an error carries only a detail.
DEFAULT_EXPLANATIONS = {
    400: "The server could not comply with the request since it is either malformed or otherwise incorrect.",
    403: "Access was denied to this resource.",
    409: "There was a conflict when trying to complete your request.",
    413: "The request is larger than the server is willing or able to process.",
    401: "This server could not verify that you are authorized to access the document you requested. "
    "Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand "
    "how to supply the credentials required.",
    404: "The resource could not be found.",
    500: "The server has either erred or is incapable of performing the requested operation.",
    503: "The server is currently unavailable. Please try again at a later time.",
}

# Glance's routes list their methods in this order in the Allow header.
METHOD_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE")

STATUS_OF: list[tuple[type[domain.DomainError], int]] = [
    (domain.NotFound, 404),
    (domain.Forbidden, 403),
    (domain.Duplicate, 409),
    (domain.Conflict, 409),
    (domain.TooLarge, 413),
    (domain.Gone, 410),
    (domain.UnsupportedMediaType, 415),
    (domain.RangeNotSatisfiable, 416),
    (domain.Unavailable, 503),
    (domain.InvalidTransition, 409),
    (domain.Invalid, 400),
]


class ApiError(Exception):
    """An HTTP error raised by the API layer itself (bad header, bad query...)."""

    def __init__(
        self,
        status: int,
        explanation: str = "",
        detail: str = "",
        headers: dict[str, str] | None = None,
        *,
        verbatim: bool = False,
    ):
        super().__init__(explanation)
        self.verbatim = verbatim  # the message as is, without webob's markup (Glance's own JSON faults)
        self.status = status
        self.explanation = explanation or DEFAULT_EXPLANATIONS.get(status, "")
        self.detail = detail
        self.headers = headers or {}


def status_of(error: domain.DomainError) -> int:
    for kind, status in STATUS_OF:
        if isinstance(error, kind):
            return status
    return 500


def error_response(
    status: int, explanation: str, detail: str = "", headers: dict[str, str] | None = None, *, verbatim: bool = False
) -> Response:
    """Render an error the way Glance (webob) does, in the format the client accepts."""
    title = TITLES.get(status, "Error")
    code = f"{status} {title}"
    if verbatim:
        message = explanation
    elif status == 415:
        message = f"{explanation}\n<br /><br />\n{detail}"
    elif status == 405:
        message = f"{explanation} <br /><br />\n"
    else:
        message = f"{explanation}<br /><br />\n{detail}\n\n" if detail else f"{explanation}<br /><br />\n\n\n"
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "text/plain"]) or "text/html"
    if best == "application/json":
        body, mimetype = json.dumps({"message": message, "code": code, "title": title}), "application/json"
    elif best == "text/plain":
        body, mimetype = f"{code}\n\n{explanation}\n{detail}\n\n   ", "text/plain"
    else:
        text = f"{html.escape(explanation, quote=False)}<br /><br />\n{html.escape(detail, quote=False)}\n\n\n"
        body = (
            f"<html>\n <head>\n  <title>{code}</title>\n </head>\n <body>\n  <h1>{code}</h1>\n  {text}\n"
            " </body>\n</html>"
        )
        mimetype = "text/html"
    response = Response(body, status=status, mimetype=mimetype)
    if mimetype != "application/json":
        response.headers["Content-Type"] = f"{mimetype}; charset=UTF-8"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register_error_handlers(app: Flask) -> None:
    """Every error leaves as a Glance-style body: domain errors, HTTP errors, and the unexpected (500)."""

    @app.errorhandler(domain.DomainError)
    def _domain(error: domain.DomainError) -> Response:
        status = status_of(error)
        if isinstance(error, domain.NoData):
            return no_content(content_type=False)  # an image without data
        if status >= 500:
            log.warning("service_unavailable", error=error.message or error.detail)
        return error_response(status, error.message or DEFAULT_EXPLANATIONS.get(status, ""), error.detail)

    @app.errorhandler(ApiError)
    def _api(error: ApiError) -> Response:
        return error_response(error.status, error.explanation, error.detail, error.headers, verbatim=error.verbatim)

    @app.errorhandler(MethodNotAllowed)
    def _method(error: MethodNotAllowed) -> Response:
        allowed = [m for m in METHOD_ORDER if m in (error.valid_methods or [])]
        return error_response(
            405, f"The method {request.method} is not allowed for this resource.", headers={"Allow": ", ".join(allowed)}
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        return error_response(status, DEFAULT_EXPLANATIONS.get(status, error.description or ""))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled_error")
        return error_response(500, DEFAULT_EXPLANATIONS[500])
