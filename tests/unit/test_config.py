"""Settings: defaults, the TOML file, environment overrides, validation messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from shared.config import ConfigError, load_settings
from shared.config.stores import FileStoreSettings, HttpStoreSettings, S3StoreSettings


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, {})
    assert settings.api_url == "http://127.0.0.1:9292"
    assert settings.data_dir == tmp_path / "glint-data"
    assert settings.database_url == f"sqlite:///{tmp_path / 'glint-data' / 'glint.db'}"
    assert list(settings.enabled_backends) == ["fast", "cheap"]
    assert settings.glance_store.default_backend == "fast"
    assert settings.store_dir("cheap") == tmp_path / "glint-data" / "stores" / "cheap"
    assert settings.staging_dir == tmp_path / "glint-data" / "staging"
    assert (settings.delayed_delete, settings.scrub_time, settings.wakeup_time) == (False, 0, 300)
    assert settings.image_size_cap == 1099511627776
    assert settings.events_url == settings.transport_url == ""


def test_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "glint.toml"
    config.write_text(
        """
        data_dir = "/srv/glint"
        delayed_delete = true
        scrub_time = 60
        bind_port = 9393
        [database]
        connection = "postgresql://db/glint"
        [enabled_backends.fast]
        filesystem_store_datadir = "/mnt/fast"
        [enabled_backends.slow]
        type = "file"
        [glance_store]
        default_backend = "fast"
        """
    )
    settings = load_settings(config, {"GLINT_SCRUB_TIME": "120", "GLINT_DATABASE__CONNECTION": "sqlite:///x.db"})
    assert settings.delayed_delete is True
    assert settings.scrub_time == 120
    assert settings.bind_port == 9393
    assert settings.database_url == "sqlite:///x.db"
    assert settings.store_dir("fast") == Path("/mnt/fast")
    assert settings.store_dir("slow") == Path("/srv/glint/stores/slow")


def test_glance_style_backends_and_lists() -> None:
    settings = load_settings(
        None,
        {
            "GLINT_ENABLED_BACKENDS": "a:file, b:file",
            "GLINT_GLANCE_STORE__DEFAULT_BACKEND": "b",
            "GLINT_DISABLED_NOTIFICATIONS": "image.send, task",
            "GLINT_DATA_DIR": "/tmp/x",
        },
    )
    assert list(settings.enabled_backends) == ["a", "b"]
    assert settings.disabled_notifications == ["image.send", "task"]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"GLINT_GLANCE_STORE__DEFAULT_BACKEND": "nope"}, "'nope' is not one of enabled_backends"),
        ({"GLINT_BIND_PORT": "http"}, "bind_port"),
        ({"GLINT_DELAYED_DELAY": "true"}, "delayed_delay"),
        ({"GLINT_WORKER__QUEUES": "uploads,exports"}, "unknown queue(s) exports"),
        ({"GLINT_JOBS__STALE_AFTER": "1"}, "stale_after must be at least twice heartbeat_interval"),
    ],
)
def test_invalid_settings_say_where(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ)
    assert message in str(caught.value)


def test_bad_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", {})
    broken = tmp_path / "broken.toml"
    broken.write_text("delayed_delete = = true")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, {})


ROOT = Path(__file__).resolve().parents[2]


def _flatten(model, prefix=""):
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def test_example_config_is_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    example = load_settings(ROOT / "deploy" / "glint.example.toml", {})
    defaults = load_settings(None, {})
    assert example.model_dump(exclude={"enabled_backends"}) == defaults.model_dump(exclude={"enabled_backends"})
    assert list(example.enabled_backends) == list(defaults.enabled_backends)
    production = load_settings(ROOT / "deploy" / "glint.production.toml", {})
    assert production.database_url.startswith("postgresql://") and production.delayed_delete


def test_readme_documents_every_option() -> None:
    readme = (ROOT / "README.md").read_text()
    settings = load_settings(None, {"GLINT_DATA_DIR": "/tmp/x"})
    stores = ("enabled_backends", "os_glance_staging_store")  # documented per store type, below
    missing = [name for name in _flatten(settings) if not name.startswith(stores) and f"`{name}`" not in readme]
    assert missing == []
    store_options = {name for model in (FileStoreSettings, S3StoreSettings, HttpStoreSettings)
                     for name in model.model_fields}  # fmt: skip
    assert sorted(name for name in store_options if f"`{name}`" not in readme) == []
