"""``glint``: run the services, all at once (``up``) or one per process, and manage the database."""

from __future__ import annotations

import sys

import click

from services.cli.parent import stop_with_supervisor
from shared.config import ConfigError, Settings, load_settings
from shared.logging import configure_logging
from shared.persistence.database import Database
from shared.persistence.schema import SchemaOutdated, ensure_current, upgrade


@click.group()
@click.option(
    "--config", "config_file", envvar="GLINT_CONFIG", type=click.Path(dir_okay=False),
    help="TOML config file (default: $GLINT_CONFIG, else built-in defaults). GLINT_* variables override it.",
)  # fmt: skip
@click.pass_context
def main(ctx: click.Context, config_file: str | None) -> None:
    """glint: an OpenStack Image API v2 service as four services over a message bus."""
    ctx.obj = config_file


def _settings(ctx: click.Context) -> Settings:
    try:
        return load_settings(ctx.obj)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _start(ctx: click.Context, service: str) -> Settings:
    """Settings and logging, once the database schema is known to be current; a clear exit otherwise."""
    stop_with_supervisor()
    settings = _settings(ctx)
    configure_logging(service, settings.logging.format, settings.logging.level)
    db = Database(settings.database_url)
    try:
        ensure_current(db.engine)
    except SchemaOutdated as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        raise click.ClickException(f"cannot reach the database: {exc}") from None
    db.dispose()
    return settings


@main.command()
@click.pass_context
def up(ctx: click.Context) -> None:
    """Run all four services on this machine, as separate processes, until Ctrl-C."""
    from services.cli.supervisor import Supervisor

    settings = _settings(ctx)
    configure_logging("glint", settings.logging.format, settings.logging.level)
    db = Database(settings.database_url)
    upgrade(db.engine)
    db.dispose()
    sys.exit(Supervisor(settings, ctx.obj).run())


@main.command()
@click.option("--workers", type=int, default=None, help="Server processes (default: the workers option).")
@click.pass_context
def api(ctx: click.Context, workers: int | None) -> None:
    """Serve the Image API (gunicorn)."""
    from services.api.server import ApiServer

    settings = _start(ctx, "api")
    click.echo(f"glint API on {settings.api_url}", err=True)
    ApiServer(settings, workers=workers).run()


@main.command()
@click.option("--queues", default=None, help="Comma-separated: uploads,imports,deletes (default: all).")
@click.option("--concurrency", type=int, default=None, help="Jobs run at once (default: [worker] concurrency).")
@click.pass_context
def worker(ctx: click.Context, queues: str | None, concurrency: int | None) -> None:
    """Run jobs from the uploads, imports and deletes queues."""
    from services.worker.app import run_worker

    settings = _start(ctx, "worker")
    chosen = [name.strip() for name in queues.split(",") if name.strip()] if queues else settings.worker.queues
    unknown = sorted(set(chosen) - {"uploads", "imports", "deletes"})
    if unknown or not chosen:
        raise click.BadParameter(
            f"unknown queue(s) {', '.join(unknown)}; choose from uploads, imports, deletes", param_hint="--queues"
        )
    sys.exit(run_worker(settings, chosen, concurrency or settings.worker.concurrency))


@main.command()
@click.pass_context
def notifier(ctx: click.Context) -> None:
    """Relay image events from the outbox to the bus."""
    from services.notifier.main import run_notifier
    from services.stopping import stop_event
    from shared.bootstrap import bootstrap

    settings = _start(ctx, "notifier")
    run_notifier(bootstrap(settings), stop_event())


@main.command()
@click.option("--once", is_flag=True, help="One pass, then exit (for cron).")
@click.option("--restore", "restore_id", metavar="IMAGE_ID", help="Bring a pending_delete image back to active.")
@click.pass_context
def scrubber(ctx: click.Context, once: bool, restore_id: str | None) -> None:
    """Purge delayed deletes, re-send lost jobs, remove orphaned staging data."""
    from services.scrubber.main import run_scrubber, scrub_once
    from services.stopping import stop_event
    from shared.bootstrap import bootstrap
    from shared.domain.errors import DomainError
    from shared.handlers.deletes import restore_image

    settings = _start(ctx, "scrubber")
    services = bootstrap(settings)
    if restore_id:
        try:
            restore_image(services, restore_id)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"image {restore_id} restored to active")
        return
    if once:
        scrub_once(services)
        return
    run_scrubber(services, stop_event())


@main.group()
def events() -> None:
    """The event stream."""


@events.command("tail")
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="TYPE",
    help="Only these event types: a name (image.update), a group (task) or a glob (image.*). Repeatable.",
)
@click.option("--image", "image_id", metavar="IMAGE_ID", help="Only events about this image.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event instead of a line of text.")
@click.pass_context
def events_tail(ctx: click.Context, types: tuple[str, ...], image_id: str | None, as_json: bool) -> None:
    """Show events as they happen, until Ctrl-C: from the bus, or from the outbox on the embedded bus."""
    from services.cli.events import source, tail
    from services.stopping import stop_event

    settings = _start(ctx, "events")
    where = "the bus (exchange " + settings.control_exchange + ")" if source(settings) == "bus" else "the outbox"

    def ready() -> None:
        click.echo(f"following {where}; Ctrl-C stops", err=True)

    tail(settings, types, image_id, as_json, lambda line: click.echo(line), ready, stop_event())


@main.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Migrate the database schema to this glint's version."""
    settings = _settings(ctx)
    configure_logging("db", settings.logging.format, settings.logging.level)
    database = Database(settings.database_url)
    before, after = upgrade(database.engine)
    click.echo(f"database schema: {before or 'empty'} -> {after}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Show the schema revision of the database, and whether it is current."""
    from shared.persistence.schema import current_revision, head_revision

    settings = _settings(ctx)
    database = Database(settings.database_url)
    current, head = current_revision(database.engine), head_revision()
    click.echo(f"{current or 'empty'} (this glint needs {head}{'' if current == head else ': run glint db upgrade'})")


@main.group()
def token() -> None:
    """Tokens for [auth] mode = "token" (deployments without Keystone)."""


@token.command("create")
@click.option("--user", "user_id", required=True, help="The user id the token stands for.")
@click.option("--project", "project_id", required=True, help="The project the token is scoped to.")
@click.option("--roles", default="member,reader", show_default=True, help="Comma-separated roles.")
@click.option("--ttl", type=int, default=None, help="Lifetime in seconds (default: [auth] token_ttl).")
@click.pass_context
def token_create(ctx: click.Context, user_id: str, project_id: str, roles: str, ttl: int | None) -> None:
    """Print a signed token; clients send it as X-Auth-Token (e.g. --os-auth-token)."""
    from shared.auth.tokens import TokenSigner, load_or_create_secret

    settings = _settings(ctx)
    if settings.auth.mode != "token":
        click.echo('warning: [auth] mode is "headers": the API ignores tokens until it is "token"', err=True)
    signer = TokenSigner(load_or_create_secret(settings.auth.token_secret, settings.token_secret_file))
    click.echo(signer.issue(user_id, project_id, roles.split(","), ttl or settings.auth.token_ttl))


@main.command()
@click.pass_context
def openapi(ctx: click.Context) -> None:
    """Print the OpenAPI 3.1 document of the API (docs/openapi.json is this, for the defaults)."""
    import json

    from services.api.openapi import openapi_document
    from shared.schemas import Schemas

    options = _settings(ctx).image_format
    click.echo(json.dumps(openapi_document(Schemas(options.disk_formats, options.container_formats)), indent=2))
