"""A service started by glint up asks to be stopped when the supervisor dies (services/cli/parent.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from services.cli.parent import stop_with_supervisor

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")


def test_without_a_supervisor_nothing_is_linked() -> None:
    assert stop_with_supervisor({}) is False
    assert stop_with_supervisor({"SUPERVISED_BY_GLINT_UP": "not a pid"}) is False


@linux_only
def test_a_service_whose_supervisor_is_already_gone_stops_at_once() -> None:
    code = (
        "import time\n"
        "from services.cli.parent import stop_with_supervisor\n"
        "stop_with_supervisor({'SUPERVISED_BY_GLINT_UP': '999999999'})\n"  # not this process's parent
        "time.sleep(30)\n"
    )
    child = subprocess.run([sys.executable, "-c", code], timeout=30)
    assert child.returncode == -signal.SIGTERM


@linux_only
def test_a_service_is_sent_sigterm_when_its_supervisor_dies() -> None:
    # the middle process plays glint up: it starts the service, prints its pid and is killed outright
    service = (
        "import os, time\n"
        "from services.cli.parent import stop_with_supervisor\n"
        "assert stop_with_supervisor({'SUPERVISED_BY_GLINT_UP': str(os.getppid())})\n"
        "print('linked', flush=True)\n"
        "time.sleep(60)\n"
    )
    supervisor = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', {service!r}], stdout=sys.stdout)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    middle = subprocess.Popen([sys.executable, "-c", supervisor], stdout=subprocess.PIPE, text=True)
    assert middle.stdout is not None
    pid = int(middle.stdout.readline())
    assert middle.stdout.readline().strip() == "linked"
    middle.kill()
    middle.wait(10)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return  # gone
        if open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z":
            return  # ended; waiting for init to reap it
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    pytest.fail("the service outlived its supervisor")
