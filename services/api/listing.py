"""Reading the query string of GET /v2/images into an ImageQuery, and the paging links."""

from __future__ import annotations

import csv
from datetime import datetime
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from services.api.errors import ApiError
from shared.config.settings import Settings
from shared.domain.context import RequestContext
from shared.domain.queries import SORT_KEYS, AttributeFilter, Direction, ImageQuery, with_tiebreakers

IN_FILTERS = ("name", "id", "status", "container_format", "disk_format")
VISIBILITIES = ("public", "private", "shared", "community", "all")
MEMBER_STATUSES = ("pending", "accepted", "rejected", "all")
TIME_OPS = ("gt", "gte", "eq", "neq", "lt", "lte")
PAGING = ("limit", "marker", "sort_key", "sort_dir", "sort")
RANGED = ("size", "virtual_size", "min_disk", "min_ram")  # the integer attributes, filtered by NAME_min/NAME_max


def parse_list_query(args: MultiDict[str, str], context: RequestContext, settings: Settings) -> ImageQuery:
    """Glance's list parameters: paging, both sort syntaxes, and every filter. Raises ApiError 400."""
    filters: list[AttributeFilter] = []
    visibility = None
    member_status = "accepted"
    os_hidden = False
    tags = tuple(args.getlist("tag"))
    for name in args:
        if name in PAGING or name == "tag":
            continue
        value = args.getlist(name)[-1]  # as in Glance, the last of a repeated parameter wins
        if name == "changes-since":
            raise ApiError(400, 'The "changes-since" filter is no longer available on v2.')
        if name == "visibility":
            if value not in VISIBILITIES:
                raise ApiError(400, f"Invalid visibility value: {value}")
            visibility = value
        elif name == "member_status":
            if value not in MEMBER_STATUSES:
                raise ApiError(400, f"Invalid status: {value}")
            member_status = value
        elif name in ("protected", "os_hidden"):
            flag = _boolean(name, value)
            if name == "os_hidden":
                os_hidden = flag
            else:
                filters.append(AttributeFilter("protected", "eq", flag))
        elif name in IN_FILTERS:
            filters.append(_in_or_eq(name, value))
        elif name in ("created_at", "updated_at"):
            filters.append(_time_filter(name, value))
        elif name[-4:] in ("_min", "_max") and name[:-4] in RANGED:
            filters.append(_range_filter(name, value))
        else:
            filters.append(AttributeFilter(name, "eq", value))
    return ImageQuery(
        project_id=context.project_id,
        is_admin=context.is_admin,
        limit=_limit(args.get("limit"), settings),
        marker=args.get("marker"),
        sort=_sort(args),
        visibility=visibility,
        member_status=member_status,
        filters=tuple(filters),
        tags=tags,
        os_hidden=os_hidden,
    )


def page_links(path: str, args: MultiDict[str, str], last_id: str | None) -> dict[str, str]:
    """``first`` (the query without marker) and, when there may be more, ``next`` (with the last id)."""
    items = [(key, value) for key, value in args.items(multi=True) if key != "marker"]
    query = urlencode(items)
    links = {"first": f"{path}?{query}" if query else path}
    if last_id is not None:
        links["next"] = f"{path}?{urlencode([*items, ('marker', last_id)])}"
    return links


def _limit(raw: str | None, settings: Settings) -> int:
    if raw is None:
        return settings.limit_param_default
    try:
        limit = int(raw)
    except ValueError:
        raise ApiError(400, "limit param must be an integer") from None
    if limit < 0:
        raise ApiError(400, "limit param must be positive")
    return min(limit, settings.api_limit_max)


def _sort(args: MultiDict[str, str]) -> tuple[tuple[str, Direction], ...]:
    keys = args.getlist("sort_key")
    dirs = args.getlist("sort_dir")
    new = args.get("sort")
    if new is not None and (keys or dirs):
        raise ApiError(400, "Old and new sorting syntax cannot be combined")
    if new is not None:
        pairs: list[tuple[str, Direction]] = []
        for item in new.split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((_key(key.strip()), _direction(direction.strip() or "desc")))
        return with_tiebreakers(pairs, pairs[0][1] if len(pairs) == 1 else "desc")
    if not keys:
        return with_tiebreakers([("created_at", _direction(dirs[0]))] if dirs else [])
    if dirs and len(dirs) not in (1, len(keys)):
        raise ApiError(400, "Number of sort dirs does not match the number of sort keys")
    directions = [_direction(d) for d in dirs] or ["desc"]
    if len(directions) == 1:
        directions = directions * len(keys)
    return with_tiebreakers(
        [(_key(k), d) for k, d in zip(keys, directions, strict=True)], directions[0] if len(dirs) == 1 else "desc"
    )


def _key(key: str) -> str:
    if key not in SORT_KEYS:
        raise ApiError(400, f"Invalid sort key: {key}. It must be one of the following: {', '.join(SORT_KEYS)}.")
    return key


def _direction(value: str) -> Direction:
    if value not in ("asc", "desc"):
        raise ApiError(400, f"Invalid sort direction: {value}")
    return value  # type: ignore[return-value]


def _boolean(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise ApiError(400, f"Invalid value '{value}' for '{name}' filter. Valid values are 'true' or 'false'.")
    return lowered == "true"


def _in_or_eq(name: str, value: str) -> AttributeFilter:
    op, sep, rest = value.partition(":")
    if not sep:
        return AttributeFilter(name, "eq", value)
    if op == "in":
        return AttributeFilter(name, "in", tuple(next(csv.reader([rest], skipinitialspace=True), [])))
    if op == "eq":
        return AttributeFilter(name, "eq", rest)
    raise ApiError(400, f"Unable to filter by unknown operator '{op}'.")


def _time_filter(name: str, value: str) -> AttributeFilter:
    """``op:time`` or a bare ISO 8601 time (``eq``), read as Glance's ``split_filter_op`` reads it."""
    op, stamp = "eq", value
    if ":" in value and _isotime(value) is None:
        op, _, stamp = value.partition(":")
    if op not in TIME_OPS:
        raise ApiError(400, "Unable to filter on a unknown operator.")
    when = _isotime(stamp)
    if when is None:
        raise ApiError(400, f'Bad "{name}" query filter format. Use ISO 8601 DateTime notation.')
    if when.tzinfo is not None:
        when = (when - when.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]
    return AttributeFilter(name, op, when)  # type: ignore[arg-type]


def _isotime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _range_filter(name: str, value: str) -> AttributeFilter:
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, "Unable to filter on a range with a non-numeric value.") from None
    return AttributeFilter(name[:-4], "gte" if name.endswith("_min") else "lte", number)
