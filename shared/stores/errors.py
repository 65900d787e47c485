"""One exception hierarchy for every store driver."""

from __future__ import annotations


class StoreError(Exception):
    """A store operation failed and retrying will not help."""


class TransientStoreError(StoreError):
    """A store operation failed in a way that may pass (timeouts, connection resets). The only one retried."""


class DataNotFound(StoreError):
    """There is no data at that location."""


class StorageFull(StoreError):
    """The store has no room for the data."""


class StorageWriteDenied(StoreError):
    """The store refuses writes (permissions, read-only store)."""


class UnknownLocation(StoreError):
    """No configured store handles that location URL."""
