"""Command line: ``townhall serve``, ``townhall migrate`` and operator commands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from townhall.app import Container, build_container
from townhall.config import Settings, load_settings
from townhall.errors import ConfigError, TownhallError
from townhall.logs import setup_logging

logger = logging.getLogger("townhall")

Command = Callable[[Container, argparse.Namespace], Awaitable[str]]
COMMANDS: dict[str, tuple[Command, str, Callable[[argparse.ArgumentParser], None]]] = {}


def command(
    name: str, help_text: str, args: Callable[[argparse.ArgumentParser], None] = lambda p: None
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
        p.add_argument("role", choices=["admin", "trust_safety", "none"]),
    ),
)
async def _set_staff_role(c: Container, ns: argparse.Namespace) -> str:
    role = None if ns.role == "none" else ns.role
    user = await c.accounts.set_staff_role(ns.username.lstrip("@"), role)
    return f"@{user.username} staff role: {user.staff_role or 'none'}"


def _load(ns: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for key in ("host", "port", "data_dir", "database_url"):
        value = getattr(ns, key, None)
        if value is not None:
            overrides[key] = value
    return load_settings(ns.config, **overrides)


def serve(settings: Settings) -> None:
    import uvicorn

    from townhall.app import create_app

    app = create_app(settings)
    url = settings.resolved_public_url
    print(f"\n  Townhall is starting. Open {url}\n", flush=True)
    logger.info(
        "serving on %s:%s, database %s",
        settings.host,
        settings.port,
        app.state.container.db.dialect,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=settings.trust_forwarded_for,
    )


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
    sub.add_parser("migrate", help="bring the database schema up to date")
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
    setup_logging(settings.log_level, settings.log_format if ns.command == "serve" else "text")
    if ns.command == "serve":
        serve(settings)
        return 0
    try:
        print(asyncio.run(_run_operator(settings, ns)))
    except TownhallError as exc:
        print(f"townhall: {exc.message} ({exc.code})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
