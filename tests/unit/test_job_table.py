"""The job state table."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from shared.domain.jobs import TERMINAL, InvalidJobTransition, Job, JobKind
from shared.domain.jobs import JobStatus as J

ALLOWED = {
    ("receiving", "queued"), ("receiving", "succeeded"), ("receiving", "failed"), ("receiving", "cancelled"),
    ("queued", "running"), ("queued", "failed"), ("queued", "cancelled"),
    ("running", "succeeded"), ("running", "failed"), ("running", "cancelled"), ("running", "queued"),
}  # fmt: skip


@pytest.mark.parametrize(("current", "target"), list(itertools.product(J, J)), ids=lambda s: s.value)
def test_every_pair(current: J, target: J) -> None:
    job = Job(kind=JobKind.UPLOAD, image_id="i", status=current, created_at=datetime(2026, 1, 1))
    if (current.value, target.value) in ALLOWED:
        job.set_status(target, datetime(2026, 1, 2))
        assert job.status is target
    else:
        with pytest.raises(InvalidJobTransition):
            job.set_status(target, datetime(2026, 1, 2))


def test_terminal_statuses() -> None:
    assert TERMINAL == {J.SUCCEEDED, J.FAILED, J.CANCELLED}
