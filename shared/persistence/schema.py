"""Schema migrations: ``glint db upgrade`` and the check every service makes at start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaOutdated(Exception):
    """The database schema is not the one this version of glint needs."""


def _config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Migrate the database to ``revision``; returns (before, after)."""
    before = current_revision(engine)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return before, current_revision(engine) or ""


def ensure_current(engine: Engine) -> None:
    """Raise SchemaOutdated, with what to run, unless the schema is at head."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        found = f"at revision {current}" if current else "empty (no glint schema)"
        raise SchemaOutdated(
            f"the database at {engine.url.render_as_string(hide_password=True)} is {found}; "
            f"this glint needs revision {head}. Run: glint db upgrade"
        )
