"""Typed settings, loaded once from a TOML file and the environment (``TOWNHALL_*``)."""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from townhall.errors import ConfigError
from townhall.net import parse_networks

ENV_PREFIX = "TOWNHALL_"

# The TOML file's values, handed by ``load_settings`` to the settings sources below.
_file_values: ContextVar[dict[str, Any] | None] = ContextVar("townhall_file_values", default=None)


class IceServer(BaseModel):
    """A STUN or TURN server handed to clients (RTCIceServer in the browser)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(min_length=1)
    username: str | None = None
    credential: SecretStr | None = None


class JanusInstance(BaseModel):
    """One Janus instance the media plane drives (``media_backend = "janus"``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^wss?://")
    """Its Janus API over WebSocket (``ws://10.0.0.5:8188``): an internal address."""
    forward_address: str | None = None
    """Where the other instances send RTP to its mountpoints; the URL's host by default."""


class Settings(BaseSettings):
    """Every option Townhall reads. ``docs/configuration.md`` documents each one."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    # Server
    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    public_url: str | None = None
    data_dir: Path = Path("data")
    database_url: str | None = None
    database_pool_size: int = Field(10, ge=1)
    database_pool_overflow: int = Field(20, ge=0)
    database_pool_timeout: float = Field(10.0, gt=0)
    redis_url: str | None = None
    redis_prefix: str = "townhall:"
    secret_key: SecretStr | None = None
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    access_log: bool = True
    metrics_token: SecretStr | None = None
    cookie_secure: bool | None = None
    trusted_proxies: list[str] = Field(default_factory=list)

    # HTTP hardening (docs/security.md)
    allowed_origins: list[str] = Field(default_factory=list)
    hsts_seconds: int = Field(31_536_000, ge=0)
    http_max_body_bytes: int = Field(64 * 1024, ge=1024)
    http_limit_concurrency: int | None = Field(10_000, ge=1)
    http_keep_alive_seconds: int = Field(5, ge=1)
    http_max_header_bytes: int = Field(16 * 1024, ge=1024)
    shutdown_grace_seconds: float = Field(10.0, gt=0)

    # Mail
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_timeout_seconds: float = Field(10.0, gt=0)
    mail_from: str = "Townhall <no-reply@localhost>"
    allow_no_smtp: bool = False

    # S1 accounts
    code_length: int = Field(6, ge=6, le=10)
    code_ttl_seconds: int = Field(600, ge=60)
    code_max_attempts: int = Field(5, ge=1)
    session_ttl_days: int = Field(90, ge=1)
    sign_in_link_ttl_seconds: int = Field(3600, ge=60)
    bio_max_chars: int = Field(500, ge=0, le=10000)
    # users.display_name is a String(100) column.
    display_name_max_chars: int = Field(50, ge=1, le=100)
    avatar_max_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    avatar_size_px: int = Field(512, ge=64, le=2048)
    avatar_max_pixels: int = Field(4096 * 4096, ge=1_000_000)

    # S2 the way in
    invite_only: bool = True
    invites_per_member: int = Field(2, ge=0)
    contacts_max_hashes: int = Field(5000, ge=1, le=50000)
    invites_max_grant: int = Field(100, ge=1, le=10000)

    # S4 rooms and the live protocol
    room_listener_capacity: int = Field(5000, ge=1)
    room_stage_capacity: int = Field(50, ge=1)
    room_moderator_grace_seconds: int = Field(60, ge=1)
    room_presence_timeout_seconds: int = Field(5, ge=1)
    room_reconnect_seconds: int = Field(15, ge=1)
    room_event_backlog: int = Field(1000, ge=10)
    room_snapshot_audience: int = Field(200, ge=1, le=5000)
    room_sweep_interval_seconds: float = Field(1.0, gt=0)
    room_digest_seconds: float = Field(1.0, gt=0)
    room_digest_names: int = Field(50, ge=1, le=1000)
    room_digest_fanout: int = Field(100, ge=1)
    room_join_linger_seconds: float = Field(0.05, ge=0, le=1)
    room_log_retention_seconds: int = Field(3600, ge=0)
    ws_send_queue: int = Field(256, ge=8)
    ws_heartbeat_seconds: float = Field(15.0, gt=0)
    ws_standing_sweep_seconds: float = Field(10.0, gt=0)
    ws_max_sockets_per_user: int = Field(16, ge=1)
    ws_messages_per_second: float = Field(20.0, gt=0)
    ws_message_burst: int = Field(100, ge=1)
    ws_max_message_bytes: int = Field(65536, ge=16384)
    notification_hourly_cap: int = Field(20, ge=1, le=1000)
    notification_direct_max: int = Field(20, ge=0, le=1000)
    notification_sweep_interval_seconds: float = Field(60.0, gt=0)
    # S9's optional channel: Web Push to installed apps (docs/notifications.md, "Web Push").
    push_daily_cap: int = Field(20, ge=0, le=1000)
    push_vapid_private_key: SecretStr | None = None
    push_subject: str = Field("", max_length=200)
    push_endpoint_hosts: list[str] = Field(
        default_factory=lambda: [
            "fcm.googleapis.com",
            "push.services.mozilla.com",
            "notify.windows.com",
            "push.apple.com",
        ]
    )
    push_allow_http: bool = False
    push_timeout_seconds: float = Field(10.0, gt=0)
    push_ttl_seconds: int = Field(86400, ge=0, le=2419200)
    hallway_hint_seconds: float = Field(5.0, gt=0)
    hallway_hint_fanout: float = Field(50.0, gt=0)
    # The rounds that act on the passing of time (room presence, held notifications, the
    # sockets' signs of life) run on their own. Off only where a fake clock is moved and
    # each round is run by hand: the test stacks.
    periodic_sweeps: bool = True
    outbox_worker: bool = True
    outbox_poll_seconds: float = Field(5.0, gt=0)
    outbox_lease_seconds: float = Field(300.0, ge=1)

    # S7 clubs and events
    club_found_min_rooms_hosted: int = Field(3, ge=0)
    event_max_days_ahead: int = Field(365, ge=1, le=3650)
    event_max_cohosts: int = Field(5, ge=0, le=50)
    event_early_start_minutes: int = Field(60, ge=0, le=1440)

    # S5 voice: the embedded media server
    media_bind_addresses: list[str] = Field(default_factory=list)
    media_port_min: int = Field(0, ge=0, le=65535)
    media_port_max: int = Field(0, ge=0, le=65535)
    media_public_ips: list[str] = Field(default_factory=list)
    media_ice_servers: list[IceServer] = Field(default_factory=list)
    media_turn_urls: list[str] = Field(default_factory=list)
    media_turn_secret: SecretStr | None = None
    media_turn_ttl_seconds: int = Field(3600, ge=60, le=86400)
    media_ice_transport_policy: Literal["all", "relay"] = "all"
    media_bitrate: int = Field(32000, ge=6000, le=128000)
    media_audience_frame_ms: int = Field(20, ge=20, le=60, multiple_of=20)
    media_input_frames: int = Field(3, ge=1, le=50)
    media_levels_interval_ms: int = Field(200, ge=50, le=5000)
    media_sessions_per_room: int = Field(6000, ge=1)
    media_sessions_per_user: int = Field(4, ge=1)
    media_connect_timeout_seconds: float = Field(20.0, gt=0)
    media_native_fanout: bool = True
    media_shared_port: bool = True
    # Media worker processes (docs/voice.md, "Media workers")
    media_workers: int | Literal["auto"] = "auto"
    media_worker_addresses: list[str] = Field(default_factory=list)
    media_worker_ping_seconds: float = Field(1.0, gt=0)
    # The media plane at scale: Janus (docs/voice.md, "Janus")
    media_backend: Literal["embedded", "janus"] = "embedded"
    media_janus_instances: list[JanusInstance] = Field(default_factory=list)
    media_janus_api_secret: SecretStr | None = None
    media_janus_admin_key: SecretStr | None = None
    media_janus_forward_address: str | None = None
    media_janus_instance_connections: int = Field(2000, ge=1)

    # S8 incident audio (docs/safety.md)
    incident_buffer_seconds: int = Field(900, ge=0, le=3600)
    incident_chunk_seconds: int = Field(2, ge=1, le=10)
    incident_audio_retention_days: int = Field(30, ge=1, le=30)
    incident_sweep_interval_seconds: float = Field(3600.0, gt=0)
    # Trust and safety (docs/safety.md)
    shield_blocks: int = Field(3, ge=1, le=1000)

    # S10 creators: the ledger and the payment provider (docs/creators.md)
    payments_provider: Literal["local", "stripe"] = "local"
    payments_currencies: list[str] = Field(default_factory=lambda: ["EUR"], min_length=1)
    payments_stripe_api_key: SecretStr | None = None
    payments_webhook_secret: SecretStr | None = None
    payments_webhook_tolerance_seconds: int = Field(300, ge=1, le=3600)
    payments_fee_bps: int = Field(290, ge=0, le=5000)
    payments_fee_fixed: int = Field(30, ge=0, le=10000)
    payments_platform_fee_bps: int = Field(0, ge=0, le=5000)
    payments_tip_min: int = Field(100, ge=1)
    payments_tip_max: int = Field(50000, ge=1)
    payments_payout_min: int = Field(1000, ge=1)
    payments_timeout_seconds: float = Field(20.0, gt=0)
    payments_local_confirm: Literal["instant", "webhook"] = "instant"
    payments_subscription_grace_days: int = Field(7, ge=0, le=60)
    payments_subscription_sweep_seconds: float = Field(3600.0, gt=0)

    # Rate limits, as "count/seconds"
    limit_code_requests_per_email: str = "20/3600"
    limit_code_requests_per_client_email: str = "5/3600"
    limit_code_resend_interval: str = "1/30"
    limit_code_requests_per_ip: str = "20/3600"
    limit_sign_in_attempts_per_ip: str = "30/600"
    limit_sign_in_attempts_per_client_email: str = "10/3600"
    limit_invites_per_user: str = "20/86400"
    limit_let_ins_per_user: str = "20/86400"
    limit_contact_uploads_per_user: str = "10/3600"
    limit_contact_hashes_per_user: str = "10000/86400"
    limit_follows_per_user: str = "200/3600"
    limit_room_creations_per_user: str = "10/3600"
    limit_pings_per_user: str = "60/3600"
    limit_avatar_uploads_per_user: str = "20/3600"
    limit_exports_per_user: str = "5/3600"
    limit_club_creations_per_user: str = "3/86400"
    limit_club_invites_per_user: str = "50/3600"
    limit_event_creations_per_user: str = "20/86400"
    limit_media_offers_per_user: str = "30/60"
    limit_reads_per_user: str = "300/300"
    limit_reads_per_ip: str = "1200/300"
    limit_visitor_reads_per_ip: str = "60/300"
    limit_reports_per_user: str = "20/3600"

    @field_validator("payments_currencies")
    @classmethod
    def _check_currencies(cls, value: list[str]) -> list[str]:
        for code in value:
            if len(code) != 3 or not code.isalpha() or not code.isupper():
                raise ValueError(f"not an ISO 4217 currency code in capitals: {code!r}")
        return value

    @field_validator("*")
    @classmethod
    def _check_limit(cls, value: Any, info: ValidationInfo) -> Any:
        # Every ``limit_*`` option is a rate limit, so a new one is checked without listing it.
        if info.field_name and info.field_name.startswith("limit_"):
            parse_limit(value)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest first: explicit values (command line, tests), the environment, the file.
        file_settings = InitSettingsSource(settings_cls, _file_values.get() or {})
        return init_settings, env_settings, file_settings

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'townhall.db').resolve()}"

    @property
    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            parts = urlsplit(origin)
            bare = parts.path in ("", "/") and not parts.query
            if parts.scheme not in ("http", "https") or not parts.netloc or not bare:
                raise ValueError(f"{origin!r} is not an origin such as https://app.example.org")
        return value

    @field_validator("media_port_max")
    @classmethod
    def _check_port_range(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("media_port_min", 0)
        if (value == 0) != (low == 0) or value < low:
            raise ValueError("media_port_min and media_port_max are both 0 or a range low..high")
        return value

    @field_validator("media_workers")
    @classmethod
    def _workers(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 0 <= value <= 64:
            raise ValueError('media_workers is "auto" or 0..64')
        return value

    @field_validator("media_worker_addresses")
    @classmethod
    def _worker_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"media_worker_addresses: {address!r} is not host:port")
        return value

    @property
    def media_worker_count(self) -> int:
        """How many media worker processes ``serve`` starts itself (``auto``: one per core)."""
        if self.media_workers == "auto":
            return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
        return int(self.media_workers)

    @field_validator("media_turn_urls")
    @classmethod
    def _check_turn_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("turn:", "turns:")):
                raise ValueError(f"{url!r} is not a TURN URL such as turn:turn.example.org:3478")
        return value

    @model_validator(mode="after")
    def _check_janus(self) -> Settings:
        if self.media_backend == "janus" and not self.media_janus_instances:
            raise ValueError('media_backend "janus" needs media_janus_instances')
        return self

    @model_validator(mode="after")
    def _check_turn(self) -> Settings:
        if bool(self.media_turn_urls) != (self.media_turn_secret is not None):
            raise ValueError("media_turn_urls and media_turn_secret are set together or not at all")
        if self.media_turn_secret is not None and not self.media_turn_secret.get_secret_value():
            raise ValueError("media_turn_secret is empty")
        relays = self.media_turn_urls or any(s.credential for s in self.media_ice_servers)
        if self.media_ice_transport_policy == "relay" and not relays:
            raise ValueError(
                'media_ice_transport_policy "relay" needs a TURN server to relay through: '
                "set media_turn_urls and media_turn_secret"
            )
        return self

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.resolved_public_url.startswith("https://")

    @property
    def development(self) -> bool:
        return self.environment == "development"


def check_can_serve(settings: Settings) -> None:
    """Refuse to serve a configuration that would run but fail people: in production,
    sign-in codes reach people only by mail, so a missing relay is an error unless the
    operator said they mean it (``allow_no_smtp``)."""
    if not settings.development and not settings.smtp_host and not settings.allow_no_smtp:
        raise ConfigError(
            "bad_configuration",
            "environment is production but smtp_host is not set: nobody could receive a "
            "sign-in code. Configure an SMTP relay, or set allow_no_smtp = true to serve "
            "without mail (codes are then never delivered nor logged).",
        )
    if settings.payments_provider == "stripe" and not (
        settings.payments_stripe_api_key and settings.payments_webhook_secret
    ):
        raise ConfigError(
            "bad_configuration",
            "payments_provider is stripe but payments_stripe_api_key or "
            "payments_webhook_secret is not set: payments could not be made or confirmed.",
        )


def parse_limit(value: str) -> tuple[int, int]:
    """Parse a ``"count/seconds"`` rate limit."""
    try:
        count_text, seconds_text = value.split("/")
        count, seconds = int(count_text), int(seconds_text)
    except ValueError:
        raise ValueError(f"rate limit {value!r} must read 'count/seconds'") from None
    if count < 1 or seconds < 1:
        raise ValueError(f"rate limit {value!r} needs a positive count and window")
    return count, seconds


# Options that no longer exist, and what replaced them: refused by name rather than ignored,
# because ignoring one would change behaviour without a word.
RETIRED = {
    "trust_forwarded_for": (
        "trust_forwarded_for was replaced by trusted_proxies: list the addresses or networks "
        "of your reverse proxies (for a proxy on this machine: trusted_proxies = "
        '["127.0.0.1", "::1"]); X-Forwarded-For is read only from them'
    ),
}


def _refuse_retired(file_values: dict[str, Any], overrides: dict[str, Any]) -> None:
    for name, message in RETIRED.items():
        if name in file_values or name in overrides or ENV_PREFIX + name.upper() in os.environ:
            raise ConfigError("bad_configuration", message)


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings: ``overrides`` (the command line) over the environment (``TOWNHALL_*``)
    over the TOML file at ``path`` (or ``$TOWNHALL_CONFIG``) over the defaults.

    Raises ``ConfigError`` naming the offending key.
    """
    file_values: dict[str, Any] = {}
    path = path or os.environ.get(ENV_PREFIX + "CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                file_values = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(
                "bad_configuration", f"configuration file {path} does not exist"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                "bad_configuration", f"configuration file {path} is not valid TOML: {exc}"
            ) from None
    _refuse_retired(file_values, overrides)
    token = _file_values.set(file_values)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '?'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError("bad_configuration", f"invalid configuration: {problems}") from None
    finally:
        _file_values.reset(token)
