"""Command line: ``townhall serve``, ``townhall migrate``, ``townhall doctor`` and operator
commands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from townhall import collector
from townhall.app import Container, build_container
from townhall.config import Settings, check_can_serve, load_settings
from townhall.domain.operators import CLI
from townhall.errors import ConfigError, TownhallError
from townhall.instance import record_public_url, with_recorded_public_url
from townhall.logs import setup_logging
from townhall.vocabulary import StaffRole

logger = logging.getLogger("townhall")

Command = Callable[[Container, argparse.Namespace], Awaitable[str]]
COMMANDS: dict[str, tuple[Command, str, Callable[[argparse.ArgumentParser], object]]] = {}


def command(
    name: str, help_text: str, args: Callable[[argparse.ArgumentParser], object] = lambda p: None
) -> Callable[[Command], Command]:
    """Register an operator command that runs against a migrated database."""

    def register(fn: Command) -> Command:
        COMMANDS[name] = (fn, help_text, args)
        return fn

    return register


def _account_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--email", required=True)
    p.add_argument("--username", required=True)


@command(
    "create-admin",
    "create an instance administrator (a member with staff role admin)",
    _account_args,
)
async def _create_admin(c: Container, ns: argparse.Namespace) -> str:
    user = await c.accounts.create_account(ns.email, ns.username, staff_role="admin")
    link = await c.accounts.create_sign_in_link(user.username)
    return f"created admin @{user.username}\nsign in once with: {link}"


@command(
    "create-member", "create a member directly, skipping invites and the waitlist", _account_args
)
async def _create_member(c: Container, ns: argparse.Namespace) -> str:
    user = await c.accounts.create_account(ns.email, ns.username)
    return f"created member @{user.username} with {user.invites_left} invites"


@command(
    "signin-link", "print a one-time sign-in link for someone", lambda p: p.add_argument("username")
)
async def _signin_link(c: Container, ns: argparse.Namespace) -> str:
    return await c.accounts.create_sign_in_link(ns.username.lstrip("@"))


@command(
    "set-staff-role",
    "give someone a staff role (admin, trust_safety) or take it away",
    lambda p: (
        p.add_argument("username"),
        p.add_argument("role", choices=[*StaffRole, "none"]),
    ),
)
async def _set_staff_role(c: Container, ns: argparse.Namespace) -> str:
    role = None if ns.role == "none" else ns.role
    user = await c.accounts.set_staff_role(ns.username.lstrip("@"), role)
    return f"@{user.username} staff role: {user.staff_role or 'none'}"


# --- S2.4 the way in: the same operator tools as /api/admin, recorded as actor "cli" ------


def _grant_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("username")
    p.add_argument("count", type=int, help="how many invites to add")


@command("grant-invites", "give a member more invites to send", _grant_args)
async def _grant_invites(c: Container, ns: argparse.Namespace) -> str:
    user = await c.operators.grant_invites(CLI, ns.username, ns.count)
    return f"granted {ns.count} invites to @{user.username}; they have {user.invites_left} left"


def _approve_args(p: argparse.ArgumentParser) -> None:
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("usernames", nargs="*", default=[], metavar="USERNAME")
    who.add_argument(
        "--all",
        action="store_true",
        help="everyone waiting, except people an operator sent back to the waitlist",
    )


def _names(names: list[str]) -> str:
    return ", ".join(f"@{n}" for n in names)


def _approved(names: list[str]) -> str:
    return f"approved {len(names)}: {_names(names)}" if names else "approved no one"


@command("approve", "let waitlisted people in: by username, or --all", _approve_args)
async def _approve(c: Container, ns: argparse.Namespace) -> str:
    if ns.all:
        approved, sent_back = await c.operators.approve_all(CLI)
        lines = [_approved(approved)]
        if sent_back:
            lines.append(
                f"{sent_back} people an operator sent back to the waitlist are still waiting; "
                "approve them by username"
            )
        return "\n".join(lines)
    done = await c.operators.approve(CLI, ns.usernames)
    lines = [_approved(done.approved)]
    if done.already_members:
        lines.append(f"already members: {_names(done.already_members)}")
    if done.unknown:
        lines.append(f"unknown: {_names(done.unknown)}")
    return "\n".join(lines)


@command("waitlist", "list the people on the waitlist, the longest waiting first")
async def _waitlist(c: Container, ns: argparse.Namespace) -> str:
    lines: list[str] = []
    after = None
    while True:
        people, after = await c.operators.waitlist(after, 100)
        for w in people:
            note = "  (sent back by an operator)" if w.sent_back else ""
            since = f"{w.user.created_at:%Y-%m-%d %H:%M} UTC"
            lines.append(f"@{w.user.username}  signed up {since}{note}")
        if after is None:
            break
    lines.append(f"{len(lines)} waiting" if lines else "the waitlist is empty")
    return "\n".join(lines)


def _tree_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("username")
    p.add_argument(
        "--demote",
        action="store_true",
        help="also send everyone who joined below them back to the waitlist",
    )


@command(
    "cancel-invite-tree",
    "cancel the unused invites of someone and of everyone who joined below them",
    _tree_args,
)
async def _cancel_invite_tree(c: Container, ns: argparse.Namespace) -> str:
    done = await c.operators.cancel_invite_tree(CLI, ns.username, demote=ns.demote)
    lines = [
        f"cancelled {done.cancelled_invites} unused invites of @{done.root} and the "
        f"{done.people_below} people below them; none of them has invites left"
    ]
    if ns.demote:
        demoted = _names(done.demoted) if done.demoted else "no one"
        lines.append(f"sent back to the waitlist: {demoted}")
    return "\n".join(lines)


def _load(ns: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for key in ("host", "port", "data_dir", "database_url"):
        value = getattr(ns, key, None)
        if value is not None:
            overrides[key] = value
    return load_settings(ns.config, **overrides)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How ``serve`` runs uvicorn: the listening address and the connection limits."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "http": "h11",  # the protocol whose limits are set below
        # The same proxies as townhall.api.deps.client_ip, so uvicorn's client address and
        # scheme agree with the one rate limits use: the rightmost hop that is not ours.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
        # Room events are small JSON sent to thousands of sockets: compressing each copy
        # per socket would cost more CPU than the bytes it saves.
        "ws_per_message_deflate": False,
        # A larger message is refused while it arrives, with close code 1009.
        "ws_max_size": settings.ws_max_message_bytes,
        # The protocol's own heartbeat (docs/protocol.md: a ping every ws_heartbeat_seconds,
        # 4000 after two silent intervals) is the only one: the WebSocket layer's would
        # ping every socket again, and close with 1011 sockets whose pongs a busy event
        # loop read late (a room filling up), although their clients answered.
        "ws_ping_interval": None,
        # Slow or idle clients must not pile up: past this many connections and requests
        # at once, new requests are answered 503; idle keep-alive connections are closed;
        # request heads (line and headers) are capped.
        "limit_concurrency": settings.http_limit_concurrency,
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
        # After the sockets are let go (Container.drain), how long requests under way
        # may take to finish before they are cancelled.
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
    }


def serve(settings: Settings) -> None:
    import uvicorn

    from townhall.app import create_app

    app = create_app(settings)
    # Operator commands on this data directory print links to this address.
    record_public_url(settings)
    url = settings.resolved_public_url
    print(f"\n  Townhall is starting. Open {url}\n", flush=True)
    logger.info(
        "serving on %s:%s, database %s",
        settings.host,
        settings.port,
        app.state.container.db.dialect,
    )
    from townhall.draining import DrainingServer

    container: Container = app.state.container
    server = DrainingServer(uvicorn.Config(app, **uvicorn_options(settings)), container.drain)
    collector.settle()
    server.run()


def _media_worker(settings: Settings, ns: argparse.Namespace) -> int:
    from townhall.app import instance_secret
    from townhall.media import worker
    from townhall.media.link import worker_token

    if ns.spawned:
        settings = worker.spawned_settings() or settings
    secret = instance_secret(settings)
    try:
        worker.run(settings, ns.listen, worker_token(secret), secret, watch_stdin=ns.spawned)
    except ConfigError as exc:
        print(f"townhall: {exc.message}", file=sys.stderr)
        return 2
    return 0


async def _run_operator(settings: Settings, ns: argparse.Namespace) -> str:
    container = build_container(settings)
    try:
        await container.db.migrate()
        if ns.command == "migrate":
            return f"database is up to date ({container.db.dialect})"
        fn = COMMANDS[ns.command][0]
        return await fn(container, ns)
    finally:
        await container.close()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="townhall", description=__doc__)
    p.add_argument("--config", help="TOML configuration file (default: $TOWNHALL_CONFIG)")
    p.add_argument("--data-dir", dest="data_dir", help="where the SQLite file and uploads live")
    p.add_argument("--database-url", dest="database_url")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the server (migrates first)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    m = sub.add_parser(
        "media", help="run one media worker, for the API processes to link to (docs/voice.md)"
    )
    m.add_argument(
        "--listen",
        default="127.0.0.1:0",
        help="host:port to take links on (list it in the API processes' media_worker_addresses)",
    )
    m.add_argument("--spawned", action="store_true", help=argparse.SUPPRESS)
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser(
        "doctor",
        help="check the configuration: database, Redis, SMTP, public URL, media ports, TURN",
    )
    b = sub.add_parser(
        "backup", help="write the database, uploads and instance secret to one archive"
    )
    b.add_argument("file", help="the archive to write (.tar.gz); must not exist")
    r = sub.add_parser(
        "restore", help="restore an archive from backup into an empty database and data dir"
    )
    r.add_argument("file", help="an archive written by townhall backup")
    r.add_argument(
        "--force", action="store_true", help="replace a database and data dir that are not empty"
    )
    for name, (_, help_text, add_args) in COMMANDS.items():
        add_args(sub.add_parser(name, help=help_text))
    return p


def main(argv: list[str] | None = None) -> int:
    ns = parser().parse_args(argv)
    try:
        settings = _load(ns)
    except ConfigError as exc:
        print(f"townhall: {exc.message}", file=sys.stderr)
        return 2
    setup_logging(
        settings.log_level, settings.log_format if ns.command in ("serve", "media") else "text"
    )
    if ns.command == "media":
        return _media_worker(settings, ns)
    if ns.command == "serve":
        try:
            check_can_serve(settings)
        except ConfigError as exc:
            print(f"townhall: {exc.message}", file=sys.stderr)
            return 2
        serve(settings)
        return 0
    settings = with_recorded_public_url(settings)
    if ns.command == "doctor":
        from townhall.doctor import diagnose, report

        text, code = report(asyncio.run(diagnose(settings)))
        print(text)
        return code
    try:
        if ns.command in ("backup", "restore"):
            from townhall import backup

            if ns.command == "backup":
                print(backup.backup(settings, Path(ns.file)))
            else:
                print(backup.restore(settings, Path(ns.file), force=ns.force))
        else:
            print(asyncio.run(_run_operator(settings, ns)))
    except TownhallError as exc:
        print(f"townhall: {exc.message} ({exc.code})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
