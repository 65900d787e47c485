"""The domain's exceptions. The API maps each to a Glance status code."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the handlers raise on purpose.

    ``message`` is the main text; ``detail`` a second line. Glance raises
    some errors with only a detail, under the status's standard text
    ("Access was denied to this resource.", ...): leave ``message`` empty for those.
    """

    def __init__(self, message: str = "", detail: str = "") -> None:
        super().__init__(message or detail)
        self.message = message
        self.detail = detail


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know that it does."""


class Forbidden(DomainError):
    """Policy or a rule of the resource forbids the action."""


class Invalid(DomainError):
    """The request is malformed or violates a rule (400)."""


class Conflict(DomainError):
    """The resource is not in a state that allows the action (409)."""


class Duplicate(Conflict):
    """A resource with that id already exists."""


class TooLarge(DomainError):
    """A size cap or quota would be exceeded (413)."""


class Gone(DomainError):
    """The resource went away while the request was running (410)."""


class UnsupportedMediaType(DomainError):
    """The request's Content-Type is not accepted (415)."""


class RangeNotSatisfiable(DomainError):
    """The requested byte range starts beyond the data (416)."""


class NoData(DomainError):
    """The image has no data to send (the API answers 204)."""


class Unavailable(DomainError):
    """A backing service is down; the client may retry (503)."""


class InvalidTransition(DomainError):
    """A status change the state table does not allow.

    The caller decides the HTTP code: Glance gives 409 for uploads and imports
    and 400 for deletes.
    """

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"Image status transition from {current} to {target} is not allowed")
        self.current = current
        self.target = target


class MissingFormats(Invalid):
    """Data cannot be saved before disk_format and container_format are set."""

    def __init__(self) -> None:
        super().__init__("Properties disk_format, container_format must be set prior to saving data.")


class ConcurrentUpdate(DomainError):
    """Someone else changed the row between our read and our write (compare-and-set lost)."""
