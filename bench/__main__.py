"""``python -m bench``: glint's workloads on the embedded default (and on PostgreSQL + Redis when given),
with the machine's limits measured in the same run; writes bench/results/<time>.json and .md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.glint_side import Glint, MiB, Remote, data_workloads, import_workloads, metadata_workloads
from bench.limits import StolenTime, disk_write_rate, hash_rate, loopback_http_rate, serve_file
from bench.scaling import curve_table, scaling_curve

RESULTS = Path(__file__).with_name("results")


def machine_limits(size: int) -> dict[str, float]:
    scratch = Path(tempfile.mkdtemp(prefix="glint-bench-limits-"))
    with StolenTime() as stolen:
        limits = {"md5_mib_s": hash_rate("md5", size), "sha512_mib_s": hash_rate("sha512", size),
                  "disk_write_fsync_mib_s": disk_write_rate(scratch, size),
                  "loopback_http_mib_s": loopback_http_rate(scratch, size)}  # fmt: skip
    limits["cpu_stolen"] = stolen.share
    scratch.rmdir()
    return limits


def fresh_database(server_url: str) -> tuple[str, Any]:
    name = f"glint_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(make_url(server_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return make_url(server_url).set(database=name).render_as_string(hide_password=False), drop


def run(args: argparse.Namespace) -> dict[str, Any]:
    size = args.size_mib * MiB
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                          "platform": platform.platform()},
                              "options": vars(args), "limits": machine_limits(size), "runs": {}}  # fmt: skip
    setups: list[tuple[str, str | None, str | None]] = [("embedded", None, None)]
    if args.postgres and args.redis:
        setups.append(("postgres+redis", args.postgres, args.redis))
    if args.glance:
        setups.append(("glance", args.glance, None))
    with serve_file(args.import_mib * MiB) as web_url:
        for name, database, broker in setups:
            drop = None
            if database and name != "glance":
                database, drop = fresh_database(database)
            try:
                with Remote(args.glance) if name == "glance" else Glint(database, broker) as target:
                    report["runs"][name] = workloads(name, target, args, web_url)
            finally:
                if drop:
                    drop()
    return report


def workloads(name: str, target: Glint | Remote, args: argparse.Namespace, web_url: str) -> dict[str, Any]:
    print(f"[{name}] metadata workloads...", flush=True)
    with StolenTime() as metadata:
        results = metadata_workloads(target, args.creates, args.images)
    print(f"[{name}] {args.size_mib} MiB upload and download...", flush=True)
    with StolenTime() as data:
        results.update(data_workloads(target, args.size_mib * MiB))
    print(f"[{name}] {args.import_mib} MiB glance-direct and web-download imports...", flush=True)
    with StolenTime() as imports:
        results.update(import_workloads(target, args.import_mib * MiB, web_url))
    results["cpu_stolen"] = {"metadata": metadata.share, "data": data.share, "imports": imports.share}
    return results


def table(report: dict[str, Any]) -> str:
    limits = report["limits"]
    upload_limit = min(limits["md5_mib_s"], limits["sha512_mib_s"], limits["disk_write_fsync_mib_s"])
    rows = [
        ("upload, PUT → active", "upload_mib_s", "MiB/s", upload_limit, "≥ 75% of min(md5, sha512, disk+fsync)"),
        ("download", "download_mib_s", "MiB/s", limits["loopback_http_mib_s"], "≥ 90% of loopback HTTP"),
        ("create, sequential", "create_sequential_per_s", "/s", None, "≥ 200/s"),
        ("create, 8 clients", "create_8_clients_per_s", "/s", None, "≥ 400/s, zero errors"),
        ("list ?limit=25", "list_25_ms", "ms", None, "≤ 5 ms"),
        ("list ?limit=1000", "list_1000_ms", "ms", None, "≤ 60 ms"),
        ("list ?limit=25, as a member", "list_25_member_ms", "ms", None, "≤ 5 ms"),
        ("list ?limit=1000, as a member", "list_1000_member_ms", "ms", None, "≤ 60 ms"),
        ("show", "show_ms", "ms", None, "≤ 2 ms"),
        ("delete, sequential", "delete_sequential_per_s", "/s", None, "≥ 300/s"),
        ("glance-direct import → active", "glance_direct_s", "s", None, "≤ 0.2 s (64 MiB)"),
        ("web-download import → active", "web_download_s", "s", None, "≤ 0.5 s (64 MiB)"),
    ]
    names = list(report["runs"])
    lines = ["| workload | " + " | ".join(names) + " | limit (same run) | target |",
             "| --- | " + " | ".join("---" for _ in names) + " | --- | --- |"]  # fmt: skip
    for label, key, unit, limit, target in rows:
        if not all(key in run for run in report["runs"].values()):
            continue  # a report from before the bench measured it
        cells = []
        for name in names:
            value = report["runs"][name][key]
            cell = f"{value:.2f} {unit}" if unit == "s" else f"{value:.1f} {unit}"
            if limit:
                cell += f" ({value / limit:.0%})"
            if key == "create_8_clients_per_s":
                cell += f", {report['runs'][name]['create_8_clients_errors']} errors"
            if key == "glance_direct_s" and report["runs"][name].get("import_failures"):
                cell += f" ({report['runs'][name]['import_failures']} failed imports done again)"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {f'{limit:.0f} MiB/s' if limit else ''} | {target} |")
        if key == "upload_mib_s":
            cells = [beside_ratios(report["runs"][name], limits["disk_write_fsync_mib_s"]) for name in names]
            lines.append("| upload ÷ the limit measured just before it | " + " | ".join(cells)
                         + " | md5, sha512, disk+fsync again before each upload | ≥ 75% |")  # fmt: skip
        if key == "download_mib_s" and all("download_loopback_limits_mib_s" in run for run in report["runs"].values()):
            cells = [download_beside_ratios(report["runs"][name]) for name in names]
            lines.append("| download ÷ loopback transfers between the downloads | " + " | ".join(cells)
                         + " | loopback HTTP again before each download (median) | ≥ 90% |")  # fmt: skip
        if key == "download_mib_s" and all("download_first_mib_s" in run for run in report["runs"].values()):
            cells = [f"{report['runs'][name]['download_first_mib_s']:.1f} MiB/s" for name in names]
            lines.append("| download, the first after its upload (timed apart) | " + " | ".join(cells)
                         + " | | none: glint's reads the disk |")  # fmt: skip
    rss = "; ".join(f"{name}: " + ", ".join(f"{service} {_rss(run, service, peak)} MiB"
                                            for service, peak in sorted(run["peak_rss_mib"].items()))
                    for name, run in report["runs"].items() if run["peak_rss_mib"])  # fmt: skip
    lines.append("")
    lines.append(f"Resident memory of each service, before the uploads → its peak during them: {rss}. "
                 "Images in the database for the list timings: "
                 + ", ".join(f"{n}: {r['images_in_database']}" for n, r in report["runs"].items()) + ".")  # fmt: skip
    lines.append(f"Limits: md5 {limits['md5_mib_s']:.0f} MiB/s, sha512 {limits['sha512_mib_s']:.0f} MiB/s, "
                 f"disk write+fsync {limits['disk_write_fsync_mib_s']:.0f} MiB/s, loopback HTTP "
                 f"{limits['loopback_http_mib_s']:.0f} MiB/s.")  # fmt: skip
    lines.append(stolen_line(report))
    return "\n".join(lines) + "\n"


def _rss(run: dict[str, Any], service: str, peak: int) -> str:
    """``before → peak`` for one service (the peak alone in reports from before the baseline was taken)."""
    before = run.get("rss_before_mib", {}).get(service)
    return f"{peak}" if before is None else f"{before} → {peak}"


def stolen_line(report: dict[str, Any]) -> str:
    """How much CPU the hypervisor took while each part ran: figures shrink with it, Glance's and glint's."""

    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0%}"

    parts = [f"limits {share(report['limits'].get('cpu_stolen'))}"]
    for name, run in report["runs"].items():
        stolen = run.get("cpu_stolen", {})
        parts.append(f"{name}: " + ", ".join(f"{part} {share(stolen.get(part))}"
                                              for part in ("metadata", "data", "imports")))  # fmt: skip
    return "CPU time stolen by the hypervisor meanwhile (steal in /proc/stat): " + "; ".join(parts) + "."


def beside_ratios(run: dict[str, Any], disk_limit: float) -> str:
    """The median upload's ratio to the limit measured just before it, and the range over the uploads: on a
    machine whose hash and disk rates move by the minute, a ratio to a limit taken minutes earlier moves with
    them. (Reports written before the disk was measured beside each upload: the run's disk rate.)"""
    disks = run.get("upload_disk_limits_mib_s") or [disk_limit] * len(run["upload_runs_mib_s"])
    triples = zip(run["upload_runs_mib_s"], run["upload_hash_limits_mib_s"], disks, strict=True)
    ratios = [rate / min(hashes, disk) for rate, hashes, disk in triples]
    return f"{statistics.median(ratios):.0%} ({min(ratios):.0%}–{max(ratios):.0%})"


def download_beside_ratios(run: dict[str, Any]) -> str:
    """The median download over the median of the plain loopback transfers made between the downloads, with
    their range. Medians, not a ratio per pair: one transfer of a GiB is over in a fraction of a second, and
    single loopback transfers here moved threefold within seconds (2675, 2789, 7590 MiB/s). These downloads read
    the image from memory; the first after the upload, from the disk (an upload leaves nothing in the page
    cache), is timed apart (reports from before that have it as the first of these)."""
    loopback = run["download_loopback_limits_mib_s"]
    ratio = statistics.median(run["download_runs_mib_s"]) / statistics.median(loopback)
    return f"{ratio:.0%} (loopback {min(loopback):.0f}–{max(loopback):.0f} MiB/s)"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size-mib", type=int, default=256, help="image size for upload and download (256)")
    parser.add_argument("--creates", type=int, default=200, help="sequential creates; 8 clients make twice as many")
    parser.add_argument("--images", type=int, default=2000, help="images in the database for the list timings")
    parser.add_argument("--import-mib", type=int, default=64, help="image size for the import timings (64)")
    parser.add_argument("--scaling", action="store_true", help="also the 1/2/4-process scaling curve (16 MiB)")
    parser.add_argument("--glance", metavar="URL", help="a running Glance to measure the same way (its reference "
                        "setup: ../shared/tools/glance-reference, http://127.0.0.1:9191)")  # fmt: skip
    parser.add_argument(
        "--postgres",
        default=os.environ.get("GLINT_TEST_POSTGRES_URL"),
        help="PostgreSQL server URL for the second run (default $GLINT_TEST_POSTGRES_URL)",
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("GLINT_TEST_REDIS_URL"),
        help="Redis URL for the second run's broker (default $GLINT_TEST_REDIS_URL)",
    )
    args = parser.parse_args()
    report = run(args)
    if args.scaling:
        report["scaling"] = scaling_curve()
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(report, indent=2))
    markdown = table(report)
    if args.scaling:
        markdown += "\nScaling on the embedded default (processes; where it stops, see docs/performance.md):\n\n"
        markdown += curve_table(report["scaling"], 16)
    (RESULTS / f"{stamp}.md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
