"""Format inspection of uploaded data, with oslo.utils' format inspector (the one Glance uses).

Every inspector is fed while the bytes stream into staging; once the
stream ends, ``FormatCheck.verdict`` applies Glance's rules
(``glance/location.py`` ``set_data``): the detected format must match
``disk_format`` (raw content is allowed for formats that cannot be
inspected, and anything is allowed for ``disk_format=raw``), an ISO with a
GPT in front counts as ISO, any other mix of formats is refused, and the
detected format's safety checks must pass (qcow2 backing or data files,
VMDK extents, ...). Only ``container_format=bare`` is inspected.
"""

from __future__ import annotations

from collections.abc import Iterable

from oslo_utils.imageutils import format_inspector

from shared.domain.errors import UnsupportedMediaType
from shared.stores.base import Readable, holds, read_into

MEDIA_TYPE_REFUSED = "The request media type application/octet-stream is not supported by this server."


class FormatCheck:
    """Wraps a stream and inspects it; ``verdict()`` after the end gives the virtual size or raises."""

    def __init__(
        self,
        source: Readable,
        disk_format: str | None,
        container_format: str | None,
        *,
        require_match: bool = True,
        gpt_nonfatal: Iterable[str] = (),
    ) -> None:
        self.disk_format = disk_format
        self.require_match = require_match
        self.gpt_nonfatal = set(gpt_nonfatal)
        self.inspecting = container_format == "bare"
        self._source = source
        self._feeder = _Feeder(source)
        self._wrapper = format_inspector.InspectWrapper(self._feeder) if self.inspecting else None

    def read(self, size: int = -1, /) -> bytes:
        if self._wrapper is None:
            return self._source.read(size)
        try:
            return self._wrapper.read(size)
        except format_inspector.ImageFormatError as exc:
            raise _refused(str(exc)) from None

    def readinto(self, view: memoryview, /) -> int:
        """Read into ``view`` (see :func:`~shared.stores.base.read_into`); the inspectors see the bytes
        before this returns."""
        count = read_into(self._source, view)
        if count and self._wrapper is not None:
            self._feeder.chunk = view[:count]
            self.read(count)  # the wrapper takes the chunk from the feeder and shows it to each inspector
        return count

    @property
    def holds(self) -> int:
        return holds(self._source)

    def verdict(self) -> int | None:
        """The virtual size to record (None when unknown). Raises UnsupportedMediaType (415) as Glance does."""
        wrapper = self._wrapper
        if wrapper is None:
            return None
        wrapper.close()
        try:
            inspector, virtual_size = self._match(wrapper)
            inspector.safety_check()
        except format_inspector.ImageFormatError as exc:
            if self.require_match:
                raise _refused(str(exc)) from None
            return None
        except format_inspector.SafetyCheckFailed as exc:
            fatal = set(exc.failures) - self.gpt_nonfatal
            if self.disk_format in ("aki", "ari"):
                fatal.discard("mbr")  # kernels and ramdisks may carry an intentionally invalid MBR
            if inspector.NAME != "gpt" or fatal:
                raise _refused("Image failed safety checks") from None
        except Exception:  # an inspector broke on odd content: refuse, as Glance does when matching is required
            if self.require_match:
                raise _refused("Image format inspection failed") from None
            return None
        return virtual_size or None

    def _match(self, wrapper: format_inspector.InspectWrapper) -> tuple[format_inspector.FileInspector, int]:
        matches = {str(found): found for found in wrapper.formats or []}
        inspector = matches["iso"] if matches.keys() == {"iso", "gpt"} else wrapper.format
        if inspector is None:
            raise format_inspector.ImageFormatError("Image format inspection failed")
        detected = str(inspector)
        if detected == self.disk_format:
            return inspector, inspector.virtual_size
        if detected == "raw" and self.disk_format not in format_inspector.ALL_FORMATS:
            return inspector, 0  # ami, aki, ari, ploop...: not inspectable
        if self.disk_format == "raw":
            return inspector, inspector.actual_size  # raw that looks richer: its size in bytes
        raise format_inspector.ImageFormatError(
            f"Image disk_format {self.disk_format} does not match stream data {detected}"
        )


class _Feeder:
    """The inspectors' source: the chunk :meth:`FormatCheck.readinto` already read, else ``source``."""

    def __init__(self, source: Readable) -> None:
        self.source = source
        self.chunk: memoryview | None = None

    def read(self, size: int = -1, /) -> bytes | memoryview:
        chunk, self.chunk = self.chunk, None
        return self.source.read(size) if chunk is None else chunk


def _refused(detail: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(MEDIA_TYPE_REFUSED, detail)
