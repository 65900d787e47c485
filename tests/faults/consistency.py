"""The end state every fault test asks for: jobs ended, no image mid-transfer, data exactly where rows say."""

from __future__ import annotations

from urllib.parse import urlparse

from sqlalchemy import select

from shared.config.stores import FileStoreSettings
from shared.persistence.tables import image_locations, images, jobs
from tests.e2e.deployment import Deployment, eventually

IN_TRANSFER = {"saving", "uploading", "importing"}
# a location's status for its image's status: data only behind active (or restorable pending_delete) images
LOCATION_FOR_IMAGE = {("active", "active"), ("pending_delete", "pending_delete"), ("deleted", "deleted")}


def file_stores(deployment: Deployment) -> list[str]:
    backends = deployment.settings.enabled_backends
    return [name for name, store in backends.items() if isinstance(store, FileStoreSettings)]


def unfinished_jobs(deployment: Deployment) -> list[str]:
    with deployment.db.transaction(write=False) as uow:
        query = select(jobs.c.id).where(jobs.c.status.in_(["queued", "running", "receiving"]))
        return list(uow.conn.execute(query).scalars())


def leftovers(deployment: Deployment) -> list[str]:
    """Staged files and partial copies (removed by the scrubber once older than ``staging_grace``)."""
    parts = [str(p) for store in file_stores(deployment) for p in deployment.settings.store_dir(store).iterdir()
             if p.name.endswith(".part")]  # fmt: skip
    return parts + [str(p) for p in deployment.staging_files()]


def assert_consistent(deployment: Deployment, timeout: float = 60) -> dict[str, str]:
    """Wait for every job to end, then check the rows against the stores; returns each image's status."""
    eventually(lambda: unfinished_jobs(deployment) == [], timeout, "every job to end")
    with deployment.db.transaction(write=False) as uow:
        rows = {row.id: row.status for row in uow.conn.execute(select(images.c.id, images.c.status))}
        located = list(uow.conn.execute(select(image_locations.c.image_id, image_locations.c.url,
                                               image_locations.c.status)))  # fmt: skip
    stuck = {image_id: status for image_id, status in rows.items() if status in IN_TRANSFER}
    assert not stuck, f"images left mid-transfer: {stuck}"
    mismatched = [(image_id, rows[image_id], status) for image_id, _, status in located
                  if (rows[image_id], status) not in LOCATION_FOR_IMAGE]  # fmt: skip
    assert not mismatched, f"locations that disagree with their image: {mismatched}"
    live = {urlparse(url).path for _, url, status in located if status in ("active", "pending_delete")}
    stored = {str(path) for store in file_stores(deployment) for path in deployment.store_files(store)}
    assert stored - live == set(), "store objects without a live location"
    assert live - stored == set(), "live locations without data"
    eventually(lambda: leftovers(deployment) == [], timeout, "staged leftovers and partial copies to be removed")
    return rows
