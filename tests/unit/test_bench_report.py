"""The bench's markdown table: each figure over its limit, and the ratios to limits measured beside the runs."""

from __future__ import annotations

from typing import Any

from bench.__main__ import table

LIMITS = {"md5_mib_s": 700.0, "sha512_mib_s": 800.0, "disk_write_fsync_mib_s": 1000.0, "loopback_http_mib_s": 2000.0}


def a_run(**extra: Any) -> dict[str, Any]:
    return {
        "upload_mib_s": 525.0, "upload_runs_mib_s": [525.0, 450.0, 600.0],
        "upload_hash_limits_mib_s": [700.0, 600.0, 800.0], "upload_disk_limits_mib_s": [1000.0, 500.0, 1000.0],
        "download_mib_s": 3000.0, "create_sequential_per_s": 400.0, "create_8_clients_per_s": 500.0,
        "create_8_clients_errors": 0, "list_25_ms": 1.5, "list_1000_ms": 25.0, "show_ms": 0.9,
        "delete_sequential_per_s": 700.0, "glance_direct_s": 0.05, "web_download_s": 0.2,
        "peak_rss_mib": {"api": 280}, "images_in_database": 2008, **extra,
    }  # fmt: skip


def rows_of(markdown: str) -> dict[str, list[str]]:
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_each_figure_is_shown_over_its_limit_and_each_upload_over_the_limit_beside_it() -> None:
    markdown = table({"limits": LIMITS, "runs": {"embedded": a_run()}})
    rows = rows_of(markdown)
    assert rows["upload, PUT → active"][:2] == ["525.0 MiB/s (75%)", "700 MiB/s"]  # min(md5, sha512, disk)
    # per upload: 525/700, 450/500 (the disk was the slowest then), 600/800
    assert rows["upload ÷ the limit measured just before it"][0] == "75% (75%–90%)"
    assert rows["download"][:2] == ["3000.0 MiB/s (150%)", "2000 MiB/s"]
    assert rows["create, 8 clients"][0] == "500.0 /s, 0 errors"
    assert rows["show"][0] == "0.9 ms"
    assert "embedded: api 280 MiB." in markdown  # a report from before memory was read ahead of the uploads


def test_downloads_are_shown_over_the_loopback_transfers_made_between_them() -> None:
    run = a_run(download_runs_mib_s=[500.0, 3000.0, 3300.0], download_loopback_limits_mib_s=[2500.0, 7500.0, 3000.0])
    rows = rows_of(table({"limits": LIMITS, "runs": {"embedded": run}}))
    # medians, not pairs: 3000 / 3000, whatever order the transfers came in
    assert rows["download ÷ loopback transfers between the downloads"][0] == "100% (loopback 2500–7500 MiB/s)"


def test_the_first_download_after_the_upload_has_a_row_of_its_own_with_no_target() -> None:
    glint = a_run(download_first_mib_s=480.0, download_runs_mib_s=[4000.0, 3000.0, 3300.0],
                  download_loopback_limits_mib_s=[3000.0, 3300.0, 3600.0])  # fmt: skip
    glance = a_run(download_first_mib_s=2900.5, download_runs_mib_s=[2800.0, 2700.0, 3000.0],
                   download_loopback_limits_mib_s=[3000.0, 3300.0, 3600.0])  # fmt: skip
    rows = rows_of(table({"limits": LIMITS, "runs": {"embedded": glint, "glance": glance}}))
    assert rows["download, the first after its upload (timed apart)"] == [
        "480.0 MiB/s", "2900.5 MiB/s", "", "none: glint's reads the disk"
    ]  # fmt: skip
    # the median of the three downloads after it, over the loopback transfers between them: 3300 / 3300
    assert rows["download ÷ loopback transfers between the downloads"][0] == "100% (loopback 3000–3600 MiB/s)"


def test_a_report_from_before_the_loopback_was_measured_beside_the_downloads_has_no_such_row() -> None:
    markdown = table({"limits": LIMITS, "runs": {"embedded": a_run(), "glance": a_run(upload_mib_s=150.0)}})
    rows = rows_of(markdown)
    assert not [label for label in rows if label.startswith("download ÷") or label.startswith("download, the first")]
    assert rows["upload, PUT → active"][1] == "150.0 MiB/s (21%)"


def test_memory_is_shown_before_the_uploads_and_at_its_peak_for_each_service_that_was_read() -> None:
    glint = a_run(rss_before_mib={"api": 270, "worker": 98}, peak_rss_mib={"api": 282, "worker": 99})
    glance = a_run(peak_rss_mib={})  # a server the bench did not start: its memory is not read
    markdown = table({"limits": LIMITS, "runs": {"embedded": glint, "glance": glance}})
    line = next(line for line in markdown.splitlines() if line.startswith("Resident memory"))
    assert "embedded: api 270 → 282 MiB, worker 98 → 99 MiB. " in line
    assert "glance:" not in line.split("Images in the database")[0]


def test_member_lists_are_shown_when_the_run_measured_them() -> None:
    measured = table({"limits": LIMITS, "runs": {"embedded": a_run(list_25_member_ms=1.6, list_1000_member_ms=30.0)}})
    assert rows_of(measured)["list ?limit=25, as a member"][0] == "1.6 ms"
    assert rows_of(measured)["list ?limit=1000, as a member"][0] == "30.0 ms"
    earlier = table({"limits": LIMITS, "runs": {"embedded": a_run()}})  # a report from before they were
    assert "list ?limit=25, as a member" not in rows_of(earlier)
