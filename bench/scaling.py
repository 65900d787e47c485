"""The scaling curve: the API with 1, 2 and 4 server processes (8 clients creating images), and 16 MiB uploads
and glance-direct imports with 1, 2 and 4 worker processes (one job each at a time), on the embedded default."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.glint_side import Calls, Glint, MiB, _Body, _session

PROCESSES = (1, 2, 4)
CLIENTS = 8


def _creates_per_s(glint: Glint, count: int) -> float:
    def client(n: int) -> None:
        calls = Calls(glint.url)
        for _ in range(n):
            assert calls.create()[1] == 201

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, [count // CLIENTS] * CLIENTS))
    return count // CLIENTS * CLIENTS / (time.perf_counter() - started)


def _jobs_per_s(glint: Glint, size: int, count: int, method: str) -> float:
    """``count`` images of ``size`` bytes from 8 clients at once: PUT /file each, or stage them all (not timed)
    and then POST /import for each; images per second until the last is active."""
    session, calls, url = _session(), Calls(glint.url), glint.url
    ids = [calls.create()[0] for _ in range(count)]
    if method == "glance-direct":
        for image_id in ids:
            assert session.put(f"{url}/v2/images/{image_id}/stage", data=_Body(size),
                               headers={"Content-Type": "application/octet-stream"}).status_code == 204  # fmt: skip

    def one(image_id: str) -> None:
        own = _session()
        if method == "upload":
            response = own.put(f"{url}/v2/images/{image_id}/file", data=_Body(size),
                               headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        else:
            response = own.post(f"{url}/v2/images/{image_id}/import", json={"method": {"name": "glance-direct"}})
        assert response.ok, response.text

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one, ids))
    while any(session.get(f"{url}/v2/images/{i}").json()["status"] != "active" for i in ids):
        time.sleep(0.02)
    return count / (time.perf_counter() - started)


def scaling_curve(size_mib: int = 16, count: int = 32, creates: int = 400) -> dict[str, Any]:
    curve: dict[str, Any] = {"api_creates_per_s": {}, "uploads_per_s": {}, "imports_per_s": {}}
    for n in PROCESSES:
        print(f"[scaling] {n} API process(es)...", flush=True)
        with Glint(api_processes=n) as glint:
            curve["api_creates_per_s"][n] = _creates_per_s(glint, creates)
    for n in PROCESSES:
        print(f"[scaling] {n} worker process(es)...", flush=True)
        with Glint(worker_processes=n) as glint:
            curve["uploads_per_s"][n] = _jobs_per_s(glint, size_mib * MiB, count, "upload")
            curve["imports_per_s"][n] = _jobs_per_s(glint, size_mib * MiB, count, "glance-direct")
    return curve


def curve_table(curve: dict[str, Any], size_mib: int) -> str:
    rows = [("API: creates/s, 8 clients", "api_creates_per_s"),
            (f"workers: {size_mib} MiB uploads/s, 8 clients", "uploads_per_s"),
            (f"workers: {size_mib} MiB glance-direct imports/s, 8 clients", "imports_per_s")]  # fmt: skip
    lines = ["| processes | " + " | ".join(str(n) for n in PROCESSES) + " |",
             "| --- | " + " | ".join("---" for _ in PROCESSES) + " |"]  # fmt: skip
    for label, key in rows:
        lines.append(f"| {label} | " + " | ".join(f"{curve[key][n]:.1f}" for n in PROCESSES) + " |")
    return "\n".join(lines) + "\n"
