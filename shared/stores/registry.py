"""The configured stores by name, the default one, and staging."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from shared.config.settings import Settings
from shared.config.stores import FileStoreSettings, HttpStoreSettings, S3StoreSettings, StoreSettings
from shared.fetch import UriFilter
from shared.stores.base import Store
from shared.stores.errors import UnknownLocation
from shared.stores.filesystem import FileStore

STAGING_STORE = "os_glance_staging_store"


class StoreRegistry:
    """Every store glint writes to or reads from."""

    def __init__(self, stores: Mapping[str, Store], default: str, staging: Store) -> None:
        self.stores = dict(stores)
        self.default_name = default
        self.staging = staging

    def __contains__(self, name: str) -> bool:
        return name in self.stores

    def get(self, name: str) -> Store:
        return self.stores[name]

    @property
    def default(self) -> Store:
        return self.stores[self.default_name]

    def writable(self) -> list[str]:
        """Names of the stores imports can write to (``all_stores``): every store but read-only ones."""
        return [name for name, store in self.stores.items() if not getattr(store, "read_only", False)]

    def owner_of(self, url: str) -> str | None:
        """The name of the configured store ``url`` points into (never staging); None when none does."""
        return next((name for name, store in self.stores.items() if store.handles(url)), None)

    def for_url(self, url: str, hint: str | None = None) -> Store:
        """The store holding ``url``; ``hint`` (a location's store name) is tried first."""
        if hint in self.stores and self.stores[hint].handles(url):
            return self.stores[hint]
        for store in [*self.stores.values(), self.staging]:
            if store.handles(url):
                return store
        raise UnknownLocation(f"no configured store holds {url}")


def uri_filter(settings: Settings) -> UriFilter:
    options = settings.import_filtering_opts
    return UriFilter(
        allowed_schemes=tuple(options.allowed_schemes),
        disallowed_schemes=tuple(options.disallowed_schemes),
        allowed_hosts=tuple(options.allowed_hosts),
        disallowed_hosts=tuple(options.disallowed_hosts),
        allowed_ports=tuple(options.allowed_ports),
        disallowed_ports=tuple(options.disallowed_ports),
        allowed_networks=tuple(options.allowed_networks),
    )


def build_store(name: str, options: StoreSettings, directory: Path, settings: Settings) -> Store:
    """One store of any type."""
    if isinstance(options, FileStoreSettings):
        return FileStore(name, directory, options.filesystem_store_chunk_size,
                         thin_provisioning=options.filesystem_thin_provisioning)  # fmt: skip
    if isinstance(options, S3StoreSettings):
        from shared.stores.s3 import S3Store

        return S3Store(name, options)
    if isinstance(options, HttpStoreSettings):
        from shared.stores.http import HttpStore

        return HttpStore(name, options, uri_filter(settings))
    raise ValueError(f"unknown store type for {name}")


def build_stores(settings: Settings) -> StoreRegistry:
    """Build the stores named in ``enabled_backends`` and the staging store."""
    stores = {
        name: build_store(name, options, settings.store_dir(name), settings)
        for name, options in settings.enabled_backends.items()
    }
    staging = build_store(STAGING_STORE, settings.os_glance_staging_store, settings.staging_dir, settings)
    return StoreRegistry(stores, settings.glance_store.default_backend, staging)
