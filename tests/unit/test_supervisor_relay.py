"""``glint up``'s relay of a child's output: whole lines, in order, gathered rather than one wake-up each."""

from __future__ import annotations

import subprocess
import sys

from services.cli.supervisor import Child, Supervisor
from shared.config.settings import Settings

CHILD = """
import sys, time
sys.stdout.write("one\\ntw"); sys.stdout.flush()
time.sleep(0.05)
sys.stdout.write("o\\n" + "x" * 100000 + "\\nthree"); sys.stdout.flush()
"""


def test_lines_are_relayed_whole_and_in_order_the_last_one_at_the_child_s_exit(tmp_path, capsys) -> None:
    supervisor = Supervisor(Settings(data_dir=tmp_path), None)
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE)
    supervisor._relay_output(Child("api"), child)
    assert child.wait(10) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["api     | one", "api     | two", "api     | " + "x" * 100000, "api     | three"]
