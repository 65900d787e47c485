"""Reading the settings once at start: a TOML file, then ``GLINT_*`` overrides.

An environment variable ``GLINT_<KEY>`` overrides a top-level option and
``GLINT_<SECTION>__<KEY>`` an option of a section, for example
``GLINT_DATABASE__CONNECTION`` or ``GLINT_ENABLED_BACKENDS__FAST__FILESYSTEM_STORE_DATADIR``.
Nothing else in glint reads the environment but the fault tests' crash
points (``GLINT_TEST_CRASH_AT``, shared/crashpoints.py).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.config.settings import Settings
from shared.config.stores import FileStoreSettings

ENV_PREFIX = "GLINT_"
CONFIG_ENV = "GLINT_CONFIG"


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


def load_settings(config_file: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build the validated settings from ``config_file`` (or ``$GLINT_CONFIG``) and the environment.

    Raises ConfigError with every problem listed, one per line.
    """
    environ = os.environ if environ is None else environ
    path = Path(config_file) if config_file else (Path(environ[CONFIG_ENV]) if environ.get(CONFIG_ENV) else None)
    raw: dict[str, Any] = _read_toml(path) if path else {}
    _merge(raw, _env_overrides(environ))
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        source = f" in {path}" if path else ""
        lines = [f"invalid configuration{source}:"]
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"]) or "(top level)"
            lines.append(f"  {where}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None
    return _absolute_paths(settings)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if not path or path[0].startswith("test_"):
            continue  # GLINT_TEST_* belong to the test suite
        node = overrides
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return overrides


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _absolute_paths(settings: Settings) -> Settings:
    """Resolve relative paths against the working directory, once, so child processes agree."""
    settings = settings.model_copy(update={"data_dir": settings.data_dir.expanduser().resolve()})
    backends = {
        name: store.model_copy(update={"filesystem_store_datadir": settings.store_dir(name).resolve()})
        if isinstance(store, FileStoreSettings)
        else store
        for name, store in settings.enabled_backends.items()
    }
    staging = settings.os_glance_staging_store
    if isinstance(staging, FileStoreSettings):
        staging = staging.model_copy(update={"filesystem_store_datadir": settings.staging_dir.resolve()})
    return settings.model_copy(
        update={
            "enabled_backends": backends,
            "os_glance_staging_store": staging,
        }
    )
