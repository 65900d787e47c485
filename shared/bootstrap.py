"""The only place that builds concrete adapters from the settings."""

from __future__ import annotations

from shared.config.settings import Settings
from shared.domain.policy import Policy
from shared.messaging.celery_app import make_celery
from shared.messaging.dispatch import CeleryDispatcher, JobDispatcher
from shared.persistence.database import Database
from shared.schemas import Schemas
from shared.services import Services
from shared.stores.registry import StoreRegistry, build_stores


def bootstrap(
    settings: Settings,
    *,
    db: Database | None = None,
    stores: StoreRegistry | None = None,
    dispatcher: JobDispatcher | None = None,
) -> Services:
    """Build the services of one process. Call it after any fork: it opens a connection pool."""
    if dispatcher is None:
        dispatcher = CeleryDispatcher(make_celery(settings), settings)
        dispatcher.prepare()  # here, not in the first request that sends a job
    return Services(
        settings=settings,
        db=db or Database(settings.database_url),
        stores=stores or build_stores(settings),
        dispatcher=dispatcher,
        policy=Policy.default(),
        schemas=Schemas(settings.image_format.disk_formats, settings.image_format.container_formats),
    )
