"""SQLite's writers queue on glint's gate: across threads and processes, one write transaction at a time."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from shared.persistence.database import Database, WriterGate

CHILD = """
import sys
from pathlib import Path
from shared.persistence.database import WriterGate
gate, out = WriterGate(sys.argv[1]), Path(sys.argv[2])
out.write_text("waiting")
with gate.held():
    out.write_text("inside")
"""


def test_a_process_waits_for_the_gate_another_process_holds(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'glint.db'}")
    assert db.writer_gate is not None and db.writer_gate.path == f"{tmp_path / 'glint.db'}.writers"
    out = tmp_path / "child"
    with db.writer_gate.held():
        child = subprocess.Popen([sys.executable, "-c", CHILD, db.writer_gate.path, str(out)])
        deadline = time.monotonic() + 30
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # time enough for the child to get in, were the gate open
        assert out.read_text() == "waiting"
    assert child.wait(timeout=30) == 0
    assert out.read_text() == "inside"


def test_threads_take_turns_and_a_holder_may_nest(tmp_path: Path) -> None:
    gate = WriterGate(str(tmp_path / "gate"))
    inside, most, errors = [0], [0], []
    lock = threading.Lock()

    def write() -> None:
        try:
            for _ in range(50):
                with gate.held():
                    with gate.held():  # a write transaction opened inside another: passes straight through
                        with lock:
                            inside[0] += 1
                            most[0] = max(most[0], inside[0])
                        time.sleep(0.0005)
                        with lock:
                            inside[0] -= 1
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and most[0] == 1


def test_a_database_in_memory_has_a_gate_without_a_file(tmp_path: Path) -> None:
    assert Database("sqlite://").writer_gate.path is None
    with Database("sqlite://").writer_gate.held():
        pass


def test_server_databases_have_no_gate(postgres_db: Database) -> None:
    assert postgres_db.writer_gate is None


def test_a_gate_file_that_cannot_be_made_leaves_the_locking_to_sqlite(tmp_path: Path) -> None:
    gate = WriterGate(str(tmp_path / "missing-folder" / "glint.db.writers"))
    with gate.held():
        pass  # no error of its own: the write that follows fails, or not, on SQLite's terms
