"""The JSON shapes of images as Glance renders them."""

from __future__ import annotations

from typing import Any

from shared.config.settings import Settings
from shared.domain.clock import isotime
from shared.domain.image import Image
from shared.domain.status import ImageStatus

HIDDEN_PROPERTIES = frozenset({"os_glance_stage_host", "os_glance_hash_op_host"})


def image_view(image: Image, settings: Settings, *, is_admin: bool = False) -> dict[str, Any]:
    """``GET /v2/images/{id}``: custom properties at the top level, then the base attributes.

    A deactivated image shows its stores only to admins, as Glance hides its locations.
    """
    body: dict[str, Any] = {name: value for name, value in image.properties.items() if name not in HIDDEN_PROPERTIES}
    body.update(
        name=image.name,
        disk_format=image.disk_format,
        container_format=image.container_format,
        visibility=image.visibility,
        size=image.size,
        virtual_size=image.virtual_size,
        status=image.status.value,
        checksum=image.checksum,
        protected=image.protected,
        min_ram=image.min_ram,
        min_disk=image.min_disk,
        owner=image.owner,
        os_hidden=image.os_hidden,
        os_hash_algo=image.os_hash_algo,
        os_hash_value=image.os_hash_value,
        id=image.id,
        created_at=isotime(image.created_at),
        updated_at=isotime(image.updated_at),
        tags=list(image.tags),
        self=f"/v2/images/{image.id}",
        file=f"/v2/images/{image.id}/file",
        schema="/v2/schemas/image",
    )
    locations = [] if image.status is ImageStatus.DEACTIVATED and not is_admin else image.active_locations
    if locations:
        body["stores"] = ",".join(dict.fromkeys(location.store for location in locations))
        if settings.show_image_direct_url:
            body["direct_url"] = locations[0].url
    if settings.show_multiple_locations:
        body["locations"] = [{"url": loc.url, "metadata": loc.metadata} for loc in locations]
    return body
