"""``townhall doctor``: check a configuration against the world it will run in, and say
what is wrong in plain words."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from townhall.config import Settings, check_can_serve
from townhall.errors import ConfigError
from townhall.instance import recorded_public_url

LOOPBACK = ("127.0.0.1", "localhost", "::1")

Level = Literal["ok", "warning", "problem"]


@dataclass(frozen=True)
class Finding:
    level: Level
    topic: str
    text: str

    def line(self) -> str:
        label = "PROBLEM" if self.level == "problem" else self.level
        return f"{label:8} {self.topic}: {self.text}"


def ok(topic: str, text: str) -> Finding:
    return Finding("ok", topic, text)


def warning(topic: str, text: str) -> Finding:
    return Finding("warning", topic, text)


def problem(topic: str, text: str) -> Finding:
    return Finding("problem", topic, text)


def _revisions(connection: Connection) -> tuple[str | None, str | None]:
    from townhall.storage.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    current = MigrationContext.configure(connection).get_current_revision()
    return current, head


async def check_database(settings: Settings) -> Finding:
    from townhall.storage.db import Database

    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        if not await asyncio.to_thread(Path(url.database).exists):
            return problem(
                "database",
                f"the SQLite file {url.database} does not exist yet; "
                "`townhall migrate` (or `serve`) creates it",
            )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    db = Database(settings.resolved_database_url, pool=(1, 0, settings.database_pool_timeout))
    try:
        async with asyncio.timeout(15):
            async with db.engine.connect() as conn:
                current, head = await conn.run_sync(_revisions)
    except Exception as exc:  # any driver's refusal: say what it said
        return problem(
            "database",
            f"cannot reach {url.render_as_string(hide_password=True)}: "
            f"{type(exc).__name__}: {exc}".strip(),
        )
    finally:
        await db.close()
    if current is None:
        return problem("database", f"{db.dialect} is reachable but empty; run `townhall migrate`")
    if current != head:
        return problem(
            "database",
            f"{db.dialect} schema is at {current}, the code expects {head}; run `townhall migrate`",
        )
    return ok("database", f"{db.dialect} reachable, schema up to date ({head})")


async def check_redis(settings: Settings) -> Finding:
    if not settings.redis_url:
        return ok("redis", "not configured: shared state lives in this one process")
    import redis.asyncio as aioredis

    client = aioredis.from_url(settings.redis_url, socket_connect_timeout=5, socket_timeout=5)
    shown = make_url(settings.redis_url).render_as_string(hide_password=True)
    try:
        await client.ping()
    except Exception as exc:
        return problem("redis", f"cannot reach {shown}: {type(exc).__name__}: {exc}")
    finally:
        await client.aclose()
    return ok("redis", f"{shown} answers")


async def check_smtp(settings: Settings) -> Finding:
    if not settings.smtp_host:
        if settings.development:
            return warning(
                "smtp", "not configured: sign-in codes are only written to the server log"
            )
        if settings.allow_no_smtp:
            return warning("smtp", "not configured (allow_no_smtp): nobody receives mail")
        return problem("smtp", "not configured: nobody could receive a sign-in code")
    import aiosmtplib

    where = f"{settings.smtp_host}:{settings.smtp_port}"
    smtp = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_security == "tls",
        start_tls=settings.smtp_security == "starttls",
        timeout=settings.smtp_timeout_seconds,
    )
    try:
        await smtp.connect()
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            await smtp.login(settings.smtp_username, password)
        await smtp.quit()
    except aiosmtplib.SMTPAuthenticationError:
        return problem("smtp", f"{where} refused smtp_username and smtp_password")
    except (aiosmtplib.SMTPException, OSError) as exc:
        return problem("smtp", f"cannot talk to {where} ({settings.smtp_security}): {exc}")
    return ok("smtp", f"{where} accepts a {settings.smtp_security} session")


def check_public_url(settings: Settings) -> Finding:
    if settings.public_url is None:
        recorded = recorded_public_url(settings.data_dir)
        derived = recorded or settings.resolved_public_url
        if not settings.development:
            return problem(
                "public url",
                f"public_url is not set, so links in mail point at {derived}; "
                "set it to the https:// address people open",
            )
        source = "recorded by the last `serve`" if recorded else "from host and port"
        return ok("public url", f"{derived} ({source}; set public_url for a real address)")
    parts = urlsplit(settings.public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return problem(
            "public url", f"{settings.public_url!r} is not an address such as https://example.org"
        )
    if parts.path not in ("", "/") or parts.query:
        return problem("public url", f"{settings.public_url} must be an origin, without a path")
    if parts.scheme != "https" and not settings.development:
        return problem(
            "public url",
            f"{settings.public_url} is not https: browsers refuse microphones and "
            "cookies stay unprotected",
        )
    return ok("public url", settings.resolved_public_url)


def _udp_free(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def check_media_ports(settings: Settings) -> list[Finding]:
    if settings.media_backend == "janus":
        return [ok("media", f"{len(settings.media_janus_instances)} Janus instances configured")]
    found: list[Finding] = []
    addresses = settings.media_bind_addresses or ["0.0.0.0"]
    for address in addresses:
        if not _udp_free(address, 0):
            found.append(
                problem("media", f"cannot open a UDP port on {address}: not this machine's")
            )
    low, high = settings.media_port_min, settings.media_port_max
    if low == 0:
        text = "UDP on any free port; a firewall must let all of them through"
        found.append((warning if not settings.development else ok)("media ports", text))
    else:
        free = sum(
            1
            for port in range(low, min(high, low + 99) + 1)
            if all(_udp_free(address, port) for address in addresses)
        )
        if free == 0:
            found.append(problem("media ports", f"UDP ports {low}-{high} are all taken"))
        else:
            found.append(ok("media ports", f"UDP {low}-{high} ({high - low + 1} ports)"))
    if not settings.media_public_ips and not settings.development:
        found.append(
            warning(
                "media ports",
                "media_public_ips is empty: behind NAT, clients only learn private addresses",
            )
        )
    return found


def _turn_host(url: str) -> tuple[str, int]:
    """``turn:host:port?transport=udp`` (or ``turns:[::1]``) -> host and port."""
    rest = url.split(":", 1)[1].split("?", 1)[0]
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail.lstrip(":")
    else:
        host, _, port = rest.partition(":")
    default = 5349 if url.startswith("turns:") else 3478
    return host, int(port) if port.isdigit() else default


async def check_turn(settings: Settings) -> list[Finding]:
    if not settings.media_turn_urls:
        if settings.media_ice_servers:
            return [ok("turn", f"{len(settings.media_ice_servers)} fixed ICE servers")]
        level = warning if not settings.development else ok
        return [level("turn", "no TURN server: people behind strict firewalls cannot connect")]
    found: list[Finding] = []
    loop = asyncio.get_running_loop()
    for url in settings.media_turn_urls:
        host, port = _turn_host(url)
        try:
            await loop.getaddrinfo(host, port)
        except OSError:
            found.append(problem("turn", f"{url}: the name {host} does not resolve"))
            continue
        if host in LOOPBACK and not settings.development:
            found.append(problem("turn", f"{url}: a loopback address no client can reach"))
            continue
        ttl = settings.media_turn_ttl_seconds
        found.append(ok("turn", f"{url} resolves (credentials for {ttl} s)"))
    return found


def check_serving(settings: Settings) -> Finding:
    try:
        check_can_serve(settings)
    except ConfigError as exc:
        return problem("configuration", exc.message)
    return ok("configuration", f"valid, environment {settings.environment}")


async def diagnose(settings: Settings) -> list[Finding]:
    """Every check, in the order an operator would fix things."""
    found = [check_serving(settings)]
    checks: list[Callable[[Settings], Awaitable[Finding]]] = [
        check_database,
        check_redis,
        check_smtp,
    ]
    for check in checks:
        found.append(await check(settings))
    found.append(check_public_url(settings))
    found.extend(check_media_ports(settings))
    found.extend(await check_turn(settings))
    return found


def report(found: list[Finding]) -> tuple[str, int]:
    """The lines to print and the exit status: 1 when anything is a problem."""
    problems = sum(1 for f in found if f.level == "problem")
    lines = [f.line() for f in found]
    if problems:
        lines.append(f"{problems} problem{'s' if problems > 1 else ''} to fix")
    else:
        lines.append("nothing to fix")
    return "\n".join(lines), 1 if problems else 0
