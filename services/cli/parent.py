"""A service started by ``glint up`` stops when that supervisor dies, however it dies.

The supervisor starts each service in a session of its own (Ctrl-C in a terminal reaches the supervisor
alone, which then stops the services in order). A supervisor killed outright (SIGKILL, the OOM killer)
would leave them running as orphans, still holding the API's port. So each service asks the kernel
(Linux's ``PR_SET_PDEATHSIG``) to send it SIGTERM, its usual way to stop, when its parent dies.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

SUPERVISOR_PID = "SUPERVISED_BY_GLINT_UP"  # its pid, set for its children (not GLINT_*: those are settings)
PR_SET_PDEATHSIG = 1


def stop_with_supervisor(environ: dict[str, str] | None = None) -> bool:
    """When started by ``glint up``, have SIGTERM sent to this process when its supervisor dies; SIGTERM at
    once when it has died already. True when the link is made (Linux; elsewhere a no-op, False)."""
    supervisor = (os.environ if environ is None else environ).get(SUPERVISOR_PID, "")
    if not supervisor.isdigit() or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != int(supervisor):  # it died before the link was made: nobody would send the signal
        os.kill(os.getpid(), signal.SIGTERM)
    return True
