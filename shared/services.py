"""The adapters a process uses, built in one place (``bootstrap``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from shared.config.settings import Settings
from shared.domain.clock import utcnow
from shared.domain.policy import Policy
from shared.messaging.dispatch import JobDispatcher
from shared.persistence.database import Database
from shared.schemas import Schemas
from shared.stores.registry import StoreRegistry


@dataclass
class Services:
    """Everything a handler may need: settings, database, stores, job dispatch, policy."""

    settings: Settings
    db: Database
    stores: StoreRegistry
    dispatcher: JobDispatcher
    policy: Policy
    schemas: Schemas
    clock: Callable[[], datetime] = field(default=utcnow)
