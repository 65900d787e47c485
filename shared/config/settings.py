"""glint's one typed settings object.

Option names follow Glance's where an operator would look for them: the
options of Glance's ``[DEFAULT]`` section sit at the top level of the file
(``delayed_delete``, ``scrub_time``, ``image_size_cap``, ...), and the
sections keep Glance's names (``[database] connection``,
``[glance_store] default_backend``, ``[os_glance_staging_store]``,
``[oslo_messaging_notifications]``). glint's own options live in ``[jobs]``,
``[worker]`` and ``[logging]``. The README's Configuration table is the reference.

Every model forbids unknown keys, so a typo fails at start with its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.config.stores import FileStoreSettings, StoreSettings, with_file_default

DEFAULT_DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
DEFAULT_CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _split_list(value: object) -> object:
    """Accept a comma-separated string (as from an environment variable) for a list option."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class DatabaseSettings(_Section):
    connection: str = Field("", description="SQLAlchemy URL; empty means SQLite at <data_dir>/glint.db")


class GlanceStoreSettings(_Section):
    default_backend: str = "fast"


class NotificationSettings(_Section):
    driver: Literal["messagingv2", "messaging", "log", "noop"] = "messagingv2"
    transport_url: str = Field("", description="Bus for events; empty means the top-level transport_url")
    topics: list[str] = ["notifications"]
    declare_queues: Literal["auto", "true", "false"] = Field(
        "auto",
        description="Declare notifications.<priority> queues like oslo.messaging does; "
        "auto = yes on RabbitMQ and Redis, no on the embedded bus (nothing there can consume them).",
    )
    poll_interval: float = Field(0.2, gt=0, description="Seconds between outbox polls when idle")
    batch_size: int = Field(200, gt=0)
    format: Literal["oslo", "cloudevents"] = Field(
        "oslo", description="oslo: the driver's oslo.messaging format; cloudevents: CloudEvents 1.0, structured JSON"
    )
    lease_seconds: float = Field(
        15, gt=0, description="One notifier relays at a time; a standby takes over this long after it stops renewing"
    )
    sent_retention: float = Field(7 * 86400, ge=0, description="Seconds a relayed event stays in the outbox")

    _split = field_validator("topics", mode="before")(_split_list)


class JobSettings(_Section):
    queue_prefix: str = Field("", description="Prefix for the uploads/imports/deletes queue names")
    heartbeat_interval: float = Field(5.0, gt=0)
    stale_after: float = Field(30.0, gt=0, description="A job whose heartbeat is older is presumed lost")
    redispatch_after: float = Field(120.0, gt=0, description="Re-send a queued job not started after this")
    dispatch_hold_off: float = Field(
        2.0, ge=0, description="After a failed send to the job bus, seconds in which sends fail at once"
    )
    max_attempts: int = Field(5, ge=1)
    reap_interval: float = Field(10.0, gt=0, description="Seconds between the scrubber's job reaper passes")
    staging_grace: float = Field(300.0, ge=0, description="Age before unreferenced staging data is removed")

    @model_validator(mode="after")
    def _stale_after_heartbeats(self) -> JobSettings:
        if self.stale_after < 2 * self.heartbeat_interval:
            raise ValueError("stale_after must be at least twice heartbeat_interval")
        return self


class WorkerSettings(_Section):
    queues: list[str] = ["uploads", "imports", "deletes"]
    concurrency: int = Field(4, ge=1)

    _split = field_validator("queues", mode="before")(_split_list)

    @field_validator("queues")
    @classmethod
    def _known_queues(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - {"uploads", "imports", "deletes"})
        if unknown:
            raise ValueError(f"unknown queue(s) {', '.join(unknown)}; choose from uploads, imports, deletes")
        return value


class ImportFilteringSettings(_Section):
    """Glance's ``[import_filtering_opts]`` for web-download and glance-download URLs, plus ``allowed_networks``."""

    allowed_schemes: list[str] = ["http", "https"]
    disallowed_schemes: list[str] = []
    allowed_hosts: list[str] = []
    disallowed_hosts: list[str] = []
    allowed_ports: list[int] = [80, 443]
    disallowed_ports: list[int] = []
    allowed_networks: list[str] = Field(
        [],
        description="CIDRs that downloads may reach although they are not public (loopback, private...)",
    )

    _split = field_validator(
        "allowed_schemes", "disallowed_schemes", "allowed_hosts", "disallowed_hosts", "allowed_ports",
        "disallowed_ports", "allowed_networks", mode="before",
    )(_split_list)  # fmt: skip

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for network in value:
            ipaddress.ip_network(network, strict=False)  # raises ValueError with the bad entry
        return value


class TaskSettings(_Section):
    task_time_to_live: int = Field(48, gt=0, description="Hours a finished task is kept")


class GlanceDownloadSettings(_Section):
    """Where glance-download finds the Glance-compatible endpoint of another region."""

    endpoints: dict[str, str] = Field(default_factory=dict, description="Region name -> image API URL")
    extra_properties: list[str] = ["hw_", "trait:", "os_distro", "os_secure_boot", "os_type"]
    timeout: float = Field(60.0, gt=0)


class ImageFormatSettings(_Section):
    """Glance's ``[image_format]``: accepted formats and content inspection of uploads."""

    disk_formats: list[str] = list(DEFAULT_DISK_FORMATS)
    container_formats: list[str] = list(DEFAULT_CONTAINER_FORMATS)
    require_image_format_match: bool = True
    gpt_safety_checks_nonfatal: list[str] = []
    vmdk_allowed_types: list[str] = ["streamOptimized", "monolithicSparse"]

    _split = field_validator(
        "disk_formats", "container_formats", "gpt_safety_checks_nonfatal", "vmdk_allowed_types", mode="before"
    )(_split_list)


class AuthSettings(_Section):
    """Who the callers are: trusted identity headers (behind Keystone or a proxy) or glint's own tokens."""

    mode: Literal["headers", "token"] = Field(
        "headers",
        description="headers: trust X-Identity-Status/X-User-Id/X-Project-Id/X-Roles as set by Keystone's "
        "auth_token middleware or an auth proxy; token: require an X-Auth-Token issued by `glint token create`",
    )
    token_secret: str = Field("", description="HMAC key of the tokens; empty: <data_dir>/auth/token-secret")
    token_ttl: int = Field(43200, gt=0, description="Default lifetime of issued tokens, in seconds")


class ApiSettings(_Section):
    upload_completion_wait: float = Field(
        600.0,
        ge=0,
        description="Seconds PUT /file waits for the worker to store the data before answering, so that "
        "clients see an active image as with Glance; 0 answers once the data is staged and the job queued",
    )


class LoggingSettings(_Section):
    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(_Section):
    # --- Glance [DEFAULT] options, same names and defaults -----------------
    bind_host: str = "127.0.0.1"
    bind_port: int = Field(9292, ge=0, le=65535)
    workers: int = Field(2, ge=1, description="API server processes")
    delayed_delete: bool = False
    scrub_time: float = Field(0, ge=0)
    wakeup_time: float = Field(300, gt=0)
    image_size_cap: int = Field(1099511627776, ge=1, le=9223372036854775808)
    hashing_algorithm: Literal["sha512", "sha384", "sha256", "sha1", "md5"] = "sha512"
    do_secure_hash: bool = Field(True, description="POST /locations reads the data to compute checksum and hash")
    image_property_quota: int = Field(128, description="Custom properties per image; negative = unlimited")
    image_tag_quota: int = Field(128, description="Tags per image; negative = unlimited")
    image_member_quota: int = Field(128, description="Members per image; negative = unlimited")
    image_location_quota: int = Field(10, description="Locations per image; negative = unlimited")
    show_image_direct_url: bool = False
    show_multiple_locations: bool = False
    limit_param_default: int = Field(25, ge=1)
    api_limit_max: int = Field(1000, ge=1)
    default_publisher_id: str = "image.localhost"
    disabled_notifications: list[str] = []
    transport_url: str = Field("", description="Bus for jobs and events; empty means the embedded bus")
    control_exchange: str = "glance"
    enabled_import_methods: list[str] = ["glance-direct", "web-download", "copy-image"]
    max_parallel_stores: int = Field(4, ge=1, description="Stores one import writes to at once")
    enabled_backends: dict[str, StoreSettings] = Field(
        default_factory=lambda: {"fast": FileStoreSettings(), "cheap": FileStoreSettings()}
    )

    # --- glint ---------------------------------------------------------------
    data_dir: Path = Path("glint-data")

    # --- sections --------------------------------------------------------------
    database: DatabaseSettings = DatabaseSettings()
    glance_store: GlanceStoreSettings = GlanceStoreSettings()
    os_glance_staging_store: StoreSettings = FileStoreSettings()
    oslo_messaging_notifications: NotificationSettings = NotificationSettings()
    image_format: ImageFormatSettings = ImageFormatSettings()
    import_filtering_opts: ImportFilteringSettings = ImportFilteringSettings()
    task: TaskSettings = TaskSettings()
    glance_download: GlanceDownloadSettings = GlanceDownloadSettings()
    auth: AuthSettings = AuthSettings()
    api: ApiSettings = ApiSettings()
    jobs: JobSettings = JobSettings()
    worker: WorkerSettings = WorkerSettings()
    logging: LoggingSettings = LoggingSettings()

    _split = field_validator("disabled_notifications", "enabled_import_methods", mode="before")(_split_list)

    @field_validator("enabled_import_methods")
    @classmethod
    def _known_methods(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - {"glance-direct", "web-download", "copy-image", "glance-download"})
        if unknown:
            raise ValueError(f"unknown import method(s) {', '.join(unknown)}")
        return value

    @field_validator("enabled_backends", mode="before")
    @classmethod
    def _backends_from_glance_syntax(cls, value: object) -> object:
        """Also accept Glance's ``fast:file, cheap:file`` form."""
        if isinstance(value, str):
            backends: dict[str, dict[str, str]] = {}
            for item in value.split(","):
                name, _, kind = item.strip().partition(":")
                if name:
                    backends[name] = {"type": kind or "file"}
            return backends
        if isinstance(value, dict):
            return {name: with_file_default(store) for name, store in value.items()}
        return value

    @field_validator("os_glance_staging_store", mode="before")
    @classmethod
    def _staging_is_a_file_store_by_default(cls, value: object) -> object:
        return with_file_default(value)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if not self.enabled_backends:
            raise ValueError("enabled_backends: at least one store is needed")
        if self.glance_store.default_backend not in self.enabled_backends:
            raise ValueError(
                f"glance_store.default_backend: '{self.glance_store.default_backend}' is not one of "
                f"enabled_backends ({', '.join(self.enabled_backends)})"
            )
        if self.limit_param_default > self.api_limit_max:
            raise ValueError("limit_param_default must not exceed api_limit_max")
        return self

    # --- derived values: the embedded defaults under data_dir ---------------
    @property
    def database_url(self) -> str:
        return self.database.connection or f"sqlite:///{self.data_dir / 'glint.db'}"

    @property
    def staging_dir(self) -> Path:
        staging = self.os_glance_staging_store
        if isinstance(staging, FileStoreSettings) and staging.filesystem_store_datadir:
            return staging.filesystem_store_datadir
        return self.data_dir / "staging"

    @property
    def token_secret_file(self) -> Path:
        return self.data_dir / "auth" / "token-secret"

    @property
    def bus_dir(self) -> Path:
        return self.data_dir / "bus"

    @property
    def events_url(self) -> str:
        return self.oslo_messaging_notifications.transport_url or self.transport_url

    @property
    def api_url(self) -> str:
        return f"http://{self.bind_host}:{self.bind_port}"

    def store_dir(self, name: str) -> Path:
        """The directory of the file store ``name`` (default ``<data_dir>/stores/<name>``)."""
        store = self.enabled_backends[name]
        if isinstance(store, FileStoreSettings) and store.filesystem_store_datadir:
            return store.filesystem_store_datadir
        return self.data_dir / "stores" / name
