"""Typed settings, loaded once from a TOML file and the environment (``TOWNHALL_*``)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from townhall.errors import ConfigError

ENV_PREFIX = "TOWNHALL_"


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
    redis_url: str | None = None
    redis_prefix: str = "townhall:"
    secret_key: SecretStr | None = None
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    cookie_secure: bool | None = None
    trust_forwarded_for: bool = False

    # Mail
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_timeout_seconds: float = Field(10.0, gt=0)
    mail_from: str = "Townhall <no-reply@localhost>"

    # S1 accounts
    code_length: int = Field(6, ge=6, le=10)
    code_ttl_seconds: int = Field(600, ge=60)
    code_max_attempts: int = Field(5, ge=1)
    session_ttl_days: int = Field(90, ge=1)
    sign_in_link_ttl_seconds: int = Field(3600, ge=60)
    bio_max_chars: int = Field(500, ge=0)
    display_name_max_chars: int = Field(50, ge=1)
    avatar_max_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    avatar_size_px: int = Field(512, ge=64, le=2048)

    # S2 the way in
    invite_only: bool = True
    invites_per_member: int = Field(2, ge=0)

    # Rate limits, as "count/seconds"
    limit_code_requests_per_email: str = "5/3600"
    limit_code_resend_interval: str = "1/30"
    limit_code_requests_per_ip: str = "20/3600"
    limit_sign_in_attempts_per_ip: str = "30/600"
    limit_invites_per_user: str = "20/86400"
    limit_follows_per_user: str = "200/3600"

    @field_validator(
        "limit_code_requests_per_email",
        "limit_code_resend_interval",
        "limit_code_requests_per_ip",
        "limit_sign_in_attempts_per_ip",
        "limit_invites_per_user",
        "limit_follows_per_user",
    )
    @classmethod
    def _check_limit(cls, value: str) -> str:
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
        # The environment overrides the file, which is passed in as init values.
        return env_settings, init_settings

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

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.resolved_public_url.startswith("https://")

    @property
    def development(self) -> bool:
        return self.environment == "development"


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


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings from ``path`` (or ``$TOWNHALL_CONFIG``), then the environment.

    Raises ``ConfigError`` naming the offending key.
    """
    file_values: dict[str, Any] = {}
    path = path or os.environ.get(ENV_PREFIX + "CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                file_values = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"configuration file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None
    file_values.update(overrides)
    try:
        return Settings(**file_values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '?'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
