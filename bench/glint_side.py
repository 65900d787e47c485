"""A glint started for the benchmark (``glint up`` in a scratch folder) and the workloads run against it."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters

from bench.limits import LoopbackFile, disk_write_rate, hash_limit

HEADERS = {"X-Identity-Status": "Confirmed", "X-User-Id": "bench", "X-Project-Id": "bench",
           "X-Roles": "admin,member,reader", "Accept": "application/json"}  # fmt: skip
MEMBER = {**HEADERS, "X-Roles": "member,reader"}  # a user of the project that owns the images, not an admin
MiB = 1024 * 1024
CHECKOUT = Path(__file__).resolve().parent.parent
SERVICES = (b"api", b"worker", b"notifier", b"scrubber")  # as named on their command lines
SETTLED = 0.05  # of one core: glint's processes together, idle once started


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Glint:
    """``glint up`` on the embedded default, or on the database and broker URLs given; for the scaling curve,
    ``api_processes`` server processes and ``worker_processes`` worker processes running one job each."""

    def __init__(
        self,
        database: str | None = None,
        broker: str | None = None,
        *,
        api_processes: int | None = None,
        worker_processes: int | None = None,
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="glint-bench-"))
        self.port = _free_port()
        self.extra_workers = (worker_processes or 1) - 1
        lines = [f"bind_port = {self.port}", f'data_dir = "{self.root / "data"}"']
        if broker:
            lines.append(f'transport_url = "{broker}"')
        if api_processes:
            lines.append(f"workers = {api_processes}")
        if worker_processes:
            lines += ["[worker]", "concurrency = 1"]
        lines += [
            "[import_filtering_opts]",
            "allowed_ports = []",
            'allowed_networks = ["127.0.0.0/8"]',
        ]  # web-download from the bench's own web server
        if database:
            lines += ["[database]", f'connection = "{database}"']
        (self.root / "glint.toml").write_text("\n".join(lines) + "\n")
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Glint:
        log = open(self.root / "up.log", "wb")
        command = [sys.executable, "-m", "services.cli", "--config", "glint.toml"]
        # glint from this checkout, whatever checkout the Python environment was installed from
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen([*command, "up"], cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)  # fmt: skip
        self.workers = [subprocess.Popen([*command, "worker"], cwd=self.root, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
                        for _ in range(self.extra_workers)]  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/versions", timeout=1).ok:
                    self.settle()
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"glint did not start: see {self.root / 'up.log'}")

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        """Stop every process, then remove the scratch folder: its image data always (a run at 1 GiB leaves
        gigabytes), its logs only when the workloads did not fail."""
        assert self.process is not None
        for process in [self.process, *self.workers]:
            os.killpg(process.pid, signal.SIGTERM)
        for process in [self.process, *self.workers]:
            process.wait(60)
        shutil.rmtree(self.root if exc_type is None else self.root / "data", ignore_errors=True)

    def rss_mib(self) -> dict[str, float]:
        """Resident memory of each service (its process and children), by the name in its command line."""
        found: dict[str, float] = {}
        for pid, name in self._processes():
            try:
                rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MiB
            except OSError:
                continue
            found[name] = found.get(name, 0.0) + rss
        return found

    def cpu_seconds(self) -> float:
        """CPU time (user and system) used so far by every process of this glint."""
        total = 0
        for pid, _ in self._processes():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def _processes(self) -> list[tuple[int, str]]:
        """Every process of this glint with the service it runs (``up`` for the supervisor)."""
        found = []
        todo = [process.pid for process in [self.process, *self.workers] if process is not None]
        while todo:
            pid = todo.pop()
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                todo += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
            except OSError:
                continue
            found.append((pid, next((w.decode() for w in cmd if w in SERVICES), "up")))
        return found

    def settle(self, timeout: float = 60) -> None:
        """Wait until glint is idle: all of its processes together busy under ``SETTLED`` of one core for half
        a second. After a start, the API answers while the worker, notifier and scrubber are still importing
        (about a second of CPU each here), and a workload started then shared the two cores with them (the
        first create took 97 ms, not 2); after a burst of writes, the notifier relays their events."""
        deadline = time.monotonic() + timeout
        used = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            used, before = self.cpu_seconds(), used
            if used - before < 0.5 * SETTLED:
                return


class _Body:
    """``size`` bytes (a random MiB over and over) as a file with a length: sent with Content-Length, as
    uWSGI-served Glance needs (it fails chunked uploads of this size)."""

    def __init__(self, size: int) -> None:
        self.block, self.remaining = os.urandom(MiB), size

    def __len__(self) -> int:
        return self.remaining

    def read(self, size: int = -1) -> bytes:
        size = min(self.remaining, MiB if size < 0 else size)
        self.remaining -= size
        return self.block[:size] if size < MiB else self.block


class _LargeBlocks(requests.adapters.HTTPAdapter):
    """Request bodies sent 1 MiB per write (urllib3 sends a file-like body 16 KiB at a time, which costs the
    client as much CPU as the server's hashing saves, on the two cores both share)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, blocksize=MiB, **kwargs)


def _session() -> requests.Session:
    session = requests.Session()
    session.headers.update(HEADERS)
    session.mount("http://", _LargeBlocks())
    return session


class Calls:
    """Metadata calls over one kept-alive ``http.client`` connection (reopened after a server closes it).

    The timings are the server's, not a client library's: on the two cores the bench shares with the
    servers, requests spent about 1.6 ms of its own per call (show through requests: 3.9 ms for glint and
    9.9 ms for Glance; through this: 2.3 and 8.4 ms)."""

    IDLE_S = 1.0  # a connection idle longer than this is reopened: servers close idle ones (gunicorn after 5 s)

    def __init__(self, url: str, headers: dict[str, str] = HEADERS) -> None:
        parts = urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
        self._used = time.monotonic()
        self._headers = headers

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        if time.monotonic() - self._used > self.IDLE_S:
            self._conn.close()  # the next request connects again (never in a timed loop of calls)
        headers = dict(self._headers)
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        self._conn.request(method, path, body=data, headers=headers)
        response = self._conn.getresponse()
        data = response.read()
        self._used = time.monotonic()
        return response.status, data

    def create(self) -> tuple[str | None, int]:
        status, data = self.call("POST", "/v2/images", {"disk_format": "raw", "container_format": "bare"})
        return (json.loads(data)["id"] if status == 201 else None), status


def metadata_workloads(glint: Glint | Remote, creates: int, images: int) -> dict[str, Any]:
    """Creates (sequential and 8 clients), show, list at 25 and 1000 with ``images`` in the database (as an admin,
    then as a member of the project that owns them), deletes."""
    calls = Calls(glint.url)
    started = time.perf_counter()
    ids = [calls.create()[0] for _ in range(creates)]
    sequential = creates / (time.perf_counter() - started)

    def client(count: int) -> list[int]:
        own = Calls(glint.url)
        return [own.create()[1] for _ in range(count)]

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        codes = [code for chunk in pool.map(client, [creates // 8 * 2] * 8) for code in chunk]
    concurrent = len(codes) / (time.perf_counter() - started)
    errors = sum(code != 201 for code in codes)
    remaining = images - len(ids) - len(codes)
    if remaining > 0:  # fill the database for the list timings (not timed)
        with ThreadPoolExecutor(8) as pool:
            codes += [code for chunk in pool.map(client, [remaining // 8 + 1] * 8) for code in chunk]
    glint.settle()  # reads timed apart from the relay of the fill's events, which Glance sends within its requests

    def median_ms(path: str, times: int, client: Calls = calls) -> float:
        samples = []
        for _ in range(times):
            begun = time.perf_counter()
            assert client.call("GET", path)[0] == 200
            samples.append((time.perf_counter() - begun) * 1000)
        return statistics.median(samples)

    show = median_ms(f"/v2/images/{ids[0]}", 200)
    list25 = median_ms("/v2/images?limit=25", 100)
    list1000 = median_ms("/v2/images?limit=1000", 20)
    member = Calls(glint.url, MEMBER)  # sees the same images through the visibility rules an admin skips
    member25 = median_ms("/v2/images?limit=25", 100, member)
    member1000 = median_ms("/v2/images?limit=1000", 20, member)
    started = time.perf_counter()
    for image_id in ids:
        assert calls.call("DELETE", f"/v2/images/{image_id}")[0] == 204
    deletes = len(ids) / (time.perf_counter() - started)
    return {"create_sequential_per_s": sequential, "create_8_clients_per_s": concurrent,
            "create_8_clients_errors": errors, "show_ms": show, "list_25_ms": list25, "list_1000_ms": list1000,
            "list_25_member_ms": member25, "list_1000_member_ms": member1000,
            "images_in_database": len(ids) + len(codes), "delete_sequential_per_s": deletes}  # fmt: skip


# Downloads timed against loopback, each after a plain transfer. A GiB over loopback takes a fraction of a
# second and single transfers move by half within a minute here (ten alternating ones: glint's 3103-6255 MiB/s,
# plain 3003-4136), so the median of three could rest on one slow phase (a run's three of glint's 3015-3610
# MiB/s against plain 3486-4207; ten of each minutes later, medians 4106 and 3305).
DOWNLOADS = 5
BESIDE_MIB = 256  # hashed (md5, sha512) and written with fsync before each upload: these rates move by the minute


def data_workloads(glint: Glint | Remote, size: int) -> dict[str, Any]:
    """Upload ``size`` bytes to three new images (PUT start → active, the median; memory sampled meanwhile),
    each after measuring the hash and disk limits again, then download the last one: once on its own (glint
    writes an upload past the page cache, so this one reads the disk; Glance's from its page cache), then
    ``DOWNLOADS`` times (the median), each after a plain loopback transfer of as many bytes."""
    session, calls, url = _session(), Calls(glint.url), glint.url
    peak: dict[str, float] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for name, mib in glint.rss_mib().items():
                peak[name] = max(peak.get(name, 0.0), mib)
            done.wait(0.2)

    before = {name: round(mib) for name, mib in glint.rss_mib().items()}  # flat: the peak stays near this
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    uploads, beside, disk = [], [], []
    scratch = Path(tempfile.mkdtemp(prefix="glint-bench-disk-"))
    for _ in range(3):  # the median of three new images: one upload of 1 GiB moved by 10% between runs
        beside.append(hash_limit(min(size, BESIDE_MIB * MiB)))
        disk.append(disk_write_rate(scratch, min(size, BESIDE_MIB * MiB), tries=2))
        image_id, _ = calls.create()
        started = time.perf_counter()
        response = session.put(f"{url}/v2/images/{image_id}/file", data=_Body(size),
                               headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        assert response.status_code == 204, response.text
        while session.get(f"{url}/v2/images/{image_id}").json()["status"] != "active":
            time.sleep(0.05)
        uploads.append(size / MiB / (time.perf_counter() - started))
    done.set()
    sampler.join()
    rates, loopback, file_url = [], [], f"{url}/v2/images/{image_id}/file"
    first = _download_rate(session, file_url, size)  # from the disk: timed apart
    with LoopbackFile(scratch, size) as plain:
        for _ in range(DOWNLOADS):
            loopback.append(plain.transfer_rate())  # loopback's rate moves by the minute here, as hashing does
            rates.append(_download_rate(session, file_url, size))
    scratch.rmdir()
    download = statistics.median(rates)
    return {"upload_mib_s": statistics.median(uploads), "upload_runs_mib_s": [round(rate, 1) for rate in uploads],
            "upload_hash_limits_mib_s": [round(limit, 1) for limit in beside],
            "upload_disk_limits_mib_s": [round(limit, 1) for limit in disk],
            "download_mib_s": download, "download_runs_mib_s": [round(rate, 1) for rate in rates],
            "download_first_mib_s": round(first, 1),
            "download_loopback_limits_mib_s": [round(limit, 1) for limit in loopback],
            "rss_before_mib": before, "peak_rss_mib": {k: round(v) for k, v in peak.items()}}  # fmt: skip


def _download_rate(session: requests.Session, image_url: str, size: int) -> float:
    """MiB/s of one download of the image's ``size`` bytes."""
    started = time.perf_counter()
    with session.get(image_url, stream=True) as got:
        received = sum(len(chunk) for chunk in got.iter_content(MiB))
    assert received == size
    return size / MiB / (time.perf_counter() - started)


class Remote:
    """A service already running at ``url`` (the reference Glance): measured the same way, memory not read."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def settle(self) -> None:
        """Nothing to wait for: Glance sends its notifications within the requests that cause them."""

    def rss_mib(self) -> dict[str, float]:
        return {}


def _until_active(session: requests.Session, url: str, image_id: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while (image := session.get(f"{url}/v2/images/{image_id}").json())["status"] != "active":
        if image.get("os_glance_failed_import") or time.monotonic() > deadline:
            raise RuntimeError(f"import of {image_id} did not end active: {image}")
        time.sleep(0.01)


def import_workloads(target: Glint | Remote, size: int, web_url: str, repeats: int = 3) -> dict[str, Any]:
    """Seconds from ``POST /import`` to ``active``, the median of ``repeats`` imports each: glance-direct of
    ``size`` staged bytes, and web-download of ``web_url`` (a file of ``size`` bytes on a local web server)."""
    session, calls, url = _session(), Calls(target.url), target.url

    def direct() -> float:
        image_id, _ = calls.create()
        staged = session.put(f"{url}/v2/images/{image_id}/stage", data=_Body(size),
                             headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        assert staged.status_code == 204, staged.text
        started = time.perf_counter()
        assert session.post(f"{url}/v2/images/{image_id}/import", json={"method": {"name": "glance-direct"}}).ok
        _until_active(session, url, image_id)
        return time.perf_counter() - started

    def web() -> float:
        image_id, _ = calls.create()
        started = time.perf_counter()
        body = {"method": {"name": "web-download", "uri": web_url}}
        assert session.post(f"{url}/v2/images/{image_id}/import", json=body).ok
        _until_active(session, url, image_id)
        return time.perf_counter() - started

    failures: list[str] = []

    def timed(attempt: Callable[[], float]) -> float:
        """One import's seconds; an import the server failed (the reference Glance answers 500 when its
        SQLite is locked) is counted and done again with a new image, three times at most."""
        for _ in range(3):
            try:
                return attempt()
            except (AssertionError, RuntimeError) as exc:
                failures.append(str(exc)[:200])
        raise RuntimeError(f"three imports in a row failed: {failures[-3:]}")

    return {
        "glance_direct_s": statistics.median(timed(direct) for _ in range(repeats)),
        "web_download_s": statistics.median(timed(web) for _ in range(repeats)),
        "import_failures": len(failures),
    }
