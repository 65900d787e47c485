"""Named places where a process can be made to die, for the fault tests.

``GLINT_TEST_CRASH_AT=import.staged`` (several names: comma-separated) makes the
process that reaches ``crash_point("import.staged")`` SIGKILL its whole
process group there: a worker dies with its pool, as when a node is lost,
at a chosen step instead of a moment picked by timing. Unset, a crash point
costs one set lookup. Like every ``GLINT_TEST_*`` variable, it is
not a setting; the names are listed in tests/faults/README.md.
"""

from __future__ import annotations

import os
import signal

import structlog

log = structlog.get_logger(__name__)
_ARMED = frozenset(name.strip() for name in os.environ.get("GLINT_TEST_CRASH_AT", "").split(",") if name.strip())


def crash_point(name: str) -> None:
    """Die here, with every process of this group, when ``name`` is armed."""
    if name in _ARMED:
        log.warning("crash_point_reached", point=name)
        os.killpg(os.getpgid(0), signal.SIGKILL)
