"""Reading the Range (or legacy Content-Range) header of a download."""

from __future__ import annotations

import re

from services.api.errors import ApiError
from shared.domain.errors import RangeNotSatisfiable
from shared.handlers.downloads import ByteRange

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")


def parse_range(range_header: str | None, content_range: str | None) -> ByteRange | None:
    """The one range asked for, or None for the whole image. Several ranges: 400; unparsable: 416."""
    if range_header:
        if "," in range_header:
            raise ApiError(
                400,
                "Requests with multiple ranges are not supported in Glance. "
                "You may make multiple single-range requests instead.",
            )
        match = _RANGE.match(range_header)
        if not match or (match.group(1) == "" and match.group(2) == ""):
            raise RangeNotSatisfiable("The Range requested is not available.", "Invalid Range header.")
        first, last = match.groups()
        if first == "":
            return ByteRange(suffix=int(last))
        if last != "" and int(last) < int(first):
            raise RangeNotSatisfiable("The Range requested is not available.", "Invalid Range header.")
        return ByteRange(first=int(first), last=int(last) if last else None)
    if content_range:
        match = _CONTENT_RANGE.match(content_range)
        if not match or int(match.group(2)) < int(match.group(1)):
            raise RangeNotSatisfiable("The Range requested is not available.", "Invalid Content-Range header.")
        return ByteRange(first=int(match.group(1)), last=int(match.group(2)))
    return None
