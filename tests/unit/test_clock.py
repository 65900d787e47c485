"""The time formats glint renders, as Glance renders them."""

from datetime import datetime

from shared.domain.clock import isotime, oslo_timestamp


def test_isotime_is_seconds_with_a_z_and_no_fraction() -> None:
    assert isotime(datetime(2026, 1, 2, 3, 4, 5, 987654)) == "2026-01-02T03:04:05Z"
    assert isotime(datetime(2026, 12, 31, 23, 59, 59)) == "2026-12-31T23:59:59Z"
    assert isotime(None) is None


def test_oslo_timestamp_drops_a_zero_fraction() -> None:
    assert oslo_timestamp(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02 03:04:05"
    assert oslo_timestamp(datetime(2026, 1, 2, 3, 4, 5, 120)) == "2026-01-02 03:04:05.000120"
