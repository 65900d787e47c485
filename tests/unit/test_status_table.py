"""The image state table, pair by pair, through the one method that changes status."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from shared.domain.errors import InvalidTransition, MissingFormats
from shared.domain.image import Image
from shared.domain.status import ImageStatus as S

# Glance's table (glance-facts.md §1.1), written out independently of the code...
GLANCE = {
    ("queued", "saving"), ("queued", "uploading"), ("queued", "importing"), ("queued", "active"),
    ("queued", "deleted"),
    ("saving", "active"), ("saving", "killed"), ("saving", "deleted"), ("saving", "queued"),
    ("uploading", "importing"), ("uploading", "queued"), ("uploading", "deleted"),
    ("importing", "active"), ("importing", "deleted"), ("importing", "queued"),
    ("active", "pending_delete"), ("active", "deleted"), ("active", "deactivated"),
    ("deactivated", "active"), ("deactivated", "deleted"),
    ("killed", "deleted"),
    ("pending_delete", "deleted"), ("pending_delete", "active"),
}  # fmt: skip
# ...plus glint's two additions: images holding data go to pending_delete to be purged asynchronously.
GLINT_ADDITIONS = {("deactivated", "pending_delete"), ("importing", "pending_delete")}
ALLOWED = GLANCE | GLINT_ADDITIONS
NOW = datetime(2026, 1, 1)


def _image(status: S) -> Image:
    return Image(
        id="6f0bd3f1-4f59-4c1b-9d8c-0d8f7f0e0a01", owner="p1", created_at=NOW, updated_at=NOW, status=status,
        disk_format="raw", container_format="bare", size=10, virtual_size=10,
    )  # fmt: skip


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)), ids=lambda s: s.value)
def test_every_pair(current: S, target: S) -> None:
    image = _image(current)
    if (current.value, target.value) in ALLOWED:
        image.set_status(target, NOW)
        assert image.status is target
    else:
        with pytest.raises(InvalidTransition):
            image.set_status(target, NOW)
        assert image.status is current


def test_deleted_is_terminal() -> None:
    image = _image(S.DELETED)
    for target in S:
        with pytest.raises(InvalidTransition):
            image.set_status(target, NOW)


DATA_MOVES = [
    (source, target)
    for source in (S.QUEUED, S.UPLOADING)
    for target in (S.SAVING, S.ACTIVE, S.IMPORTING)
    if (source.value, target.value) in ALLOWED
]


@pytest.mark.parametrize(("source", "target"), DATA_MOVES, ids=lambda s: s.value)
def test_saving_data_needs_both_formats(source: S, target: S) -> None:
    image = _image(source)
    image.container_format = None
    with pytest.raises(MissingFormats):
        image.set_status(target, NOW)
    assert image.status is source


def test_entering_queued_forgets_sizes() -> None:
    image = _image(S.SAVING)
    image.set_status(S.QUEUED, NOW)
    assert (image.size, image.virtual_size) == (None, None)
