"""DELETE /v2/stores/{store}/{image}: remove one store's copy of an active image."""

from __future__ import annotations

from shared.domain.context import RequestContext
from shared.domain.errors import Conflict, Forbidden, NotFound
from shared.domain.events import image_updated
from shared.domain.image import LocationStatus
from shared.domain.jobs import Job, JobKind, JobStatus
from shared.domain.policy import image_target
from shared.domain.status import ImageStatus
from shared.handlers.access import load_visible
from shared.handlers.dispatching import dispatch_after_commit
from shared.services import Services


def delete_from_store(services: Services, context: RequestContext, store: str, image_id: str) -> None:
    """Drop the image's location in ``store`` now (``image.update``) and purge its data with a delete job.

    Raises Conflict (unknown store, image not active), NotFound (image not
    visible, or not in that store), Forbidden (policy: admin by default;
    the last copy cannot be removed).
    """
    if store not in services.stores:
        raise Conflict(f"The selected store {store} is not available on this node.")
    with services.db.transaction(request_id=context.request_id) as uow:
        image = load_visible(uow, context, services.policy, image_id, for_update=True)
        target = image_target(context, image.owner, image.visibility)
        services.policy.enforce("get_image_location", context, target)
        services.policy.enforce("delete_image_location", context, target)
        if image.status is not ImageStatus.ACTIVE:
            raise Conflict("It's not allowed to remove image data from store if image status is not 'active'")
        if len(image.active_locations) == 1:
            raise Forbidden(
                "Cannot delete image data from the only store containing it. Consider deleting the image instead."
            )
        in_store = [location for location in image.active_locations if location.store == store]
        if not in_store:
            raise NotFound(f"Image {image_id} does not exist in store {store}")
        now = services.clock()
        for location in in_store:
            location.status = LocationStatus.PENDING_DELETE
        image.updated_at = now
        image.record(image_updated(image, now))
        uow.images.save(image)
        job = Job(kind=JobKind.DELETE, image_id=image_id, status=JobStatus.QUEUED, created_at=now,
                  request_id=context.request_id,
                  payload={"location_ids": [location.id for location in in_store]})  # fmt: skip
        dispatch_after_commit(services, uow, job, now)
        uow.jobs.add(job)
