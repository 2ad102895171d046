"""The operator command line, run as a real process against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from townhall.config import Settings


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


Cli = Callable[..., Awaitable[Ran]]


async def run(*args: str) -> Ran:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNHALL_")}
    env["TOWNHALL_LOG_LEVEL"] = "WARNING"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "townhall",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


def cli_for(settings: Settings) -> Cli:
    """The command line pointed at the test's database (SQLite file or PostgreSQL)."""

    async def cli(*args: str) -> Ran:
        assert settings.database_url
        return await run(
            "--data-dir", str(settings.data_dir), "--database-url", settings.database_url, *args
        )

    return cli


async def waiting(people: Any, name: str) -> Any:
    return await people.sign_in(f"{name}@example.org", username=name)


async def status(client: Any) -> tuple[str, int]:
    me = (await client.get("/api/me")).json()
    return me["status"], me["invites_left"]


async def test_fresh_data_dir_runs_every_operator_command(tmp_path: Path) -> None:
    """With only --data-dir, the commands create and use a SQLite database there."""
    data = ["--data-dir", str(tmp_path / "data")]
    made = await run(*data, "create-member", "--email", "a@example.org", "--username", "alice")
    assert made.code == 0, made.err
    assert (tmp_path / "data" / "townhall.db").exists()

    granted = await run(*data, "grant-invites", "@alice", "3")
    assert granted.out.strip() == "granted 3 invites to @alice; they have 5 left"
    assert (await run(*data, "waitlist")).out.strip() == "the waitlist is empty"
    approved = await run(*data, "approve", "ghost")
    assert approved.code == 0
    assert approved.out.splitlines() == ["approved no one", "unknown: @ghost"]
    tree = await run(*data, "cancel-invite-tree", "alice")
    assert tree.out.strip() == (
        "cancelled 0 unused invites of @alice and the 0 people below them; "
        "none of them has invites left"
    )

    missing = await run(*data, "grant-invites", "ghost", "1")
    assert missing.code == 1
    assert "(user_not_found)" in missing.err
    usage = await run(*data, "approve")
    assert usage.code == 2
    assert "USERNAME" in usage.err


async def test_grant_invites_from_the_command_line(settings: Settings, people: Any) -> None:
    """grant-invites adds to a member's quota and is audited with the actor "cli"."""
    cli = cli_for(settings)
    alice = await people.member("alice")
    admin = await people.admin()
    ran = await cli("grant-invites", "alice", "4")
    assert ran.code == 0, ran.err
    assert ran.out.strip() == "granted 4 invites to @alice; they have 6 left"
    assert await status(alice) == ("member", 6)
    [entry] = (await admin.get("/api/admin/audit")).json()["items"]
    assert (entry["actor"], entry["action"]) == ("cli", "invites.grant")
    assert entry["data"]["username"] == "alice"


async def test_waitlist_and_approve_from_the_command_line(settings: Settings, people: Any) -> None:
    """waitlist lists the queue oldest first; approve lets in by name, then --all the rest."""
    cli = cli_for(settings)
    bob = await waiting(people, "bob")
    carl = await waiting(people, "carl")
    dina = await waiting(people, "dina")
    await people.member("alice")

    listed = await cli("waitlist")
    lines = listed.out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["@bob", "@carl", "@dina"]
    assert lines[-1] == "3 waiting"

    ran = await cli("approve", "carl", "@alice", "nobody")
    assert ran.out.splitlines() == [
        "approved 1: @carl",
        "already members: @alice",
        "unknown: @nobody",
    ]
    assert await status(carl) == ("member", 2)
    assert await status(bob) == ("waitlisted", 0)

    ran = await cli("approve", "--all")
    assert ran.out.strip() == "approved 2: @bob, @dina"
    assert await status(bob) == ("member", 2)
    assert await status(dina) == ("member", 2)
    assert (await cli("waitlist")).out.strip() == "the waitlist is empty"


async def test_cancel_invite_tree_from_the_command_line(
    settings: Settings, people: Any, client: Any
) -> None:
    """cancel-invite-tree --demote kills pending invites below the root and sends the people
    below to the waitlist, where approve --all leaves them for an explicit decision."""
    cli = cli_for(settings)
    alice = await people.member("alice")
    link = (await alice.post("/api/invites", json={})).json()["link"]
    bob = await people.sign_in("bob@example.org", username="bob", invite=link.rsplit("/", 1)[1])
    pending = (await bob.post("/api/invites", json={})).json()["link"].rsplit("/", 1)[1]
    await waiting(people, "wendy")

    ran = await cli("cancel-invite-tree", "alice", "--demote")
    assert ran.code == 0, ran.err
    assert ran.out.splitlines() == [
        "cancelled 1 unused invites of @alice and the 1 people below them; "
        "none of them has invites left",
        "sent back to the waitlist: @bob",
    ]
    assert await status(alice) == ("member", 0)
    assert await status(bob) == ("waitlisted", 0)
    assert (await client.get(f"/api/invites/link/{pending}")).status_code == 410
    queue = (await cli("waitlist")).out.splitlines()
    assert queue[0].startswith("@bob  signed up ")
    assert queue[0].endswith("(sent back by an operator)")
    assert queue[1].startswith("@wendy  signed up ")

    ran = await cli("approve", "--all")
    assert ran.out.splitlines() == [
        "approved 1: @wendy",
        "1 people an operator sent back to the waitlist are still waiting; "
        "approve them by username",
    ]
    assert await status(bob) == ("waitlisted", 0)
    assert (await cli("approve", "bob")).out.strip() == "approved 1: @bob"
    assert await status(bob) == ("member", 2)


async def test_doctor_says_what_is_wrong_in_plain_words(tmp_path: Path) -> None:
    """doctor exits 1 naming each problem (a database never migrated, an unreachable Redis
    and SMTP relay, a production address that is not https), and 0 once they are fixed."""
    data = ["--data-dir", str(tmp_path / "data")]
    fresh = await run(*data, "doctor")
    assert fresh.code == 1
    assert "PROBLEM  database: the SQLite file" in fresh.out
    assert "`townhall migrate`" in fresh.out
    assert (await run(*data, "migrate")).code == 0

    healthy = await run(*data, "doctor")
    assert healthy.code == 0, healthy.out
    assert "ok       database: sqlite reachable, schema up to date" in healthy.out
    assert healthy.out.strip().endswith("nothing to fix")

    config = tmp_path / "broken.toml"
    config.write_text(
        'environment = "production"\n'
        'public_url = "http://townhall.example.org"\n'
        'redis_url = "redis://127.0.0.1:1/0"\n'
        'smtp_host = "127.0.0.1"\nsmtp_port = 1\n'
    )
    broken = await run(*data, "--config", str(config), "doctor")
    assert broken.code == 1
    problems = [line for line in broken.out.splitlines() if line.startswith("PROBLEM")]
    assert [line.split(":")[0] for line in problems] == [
        "PROBLEM  redis",
        "PROBLEM  smtp",
        "PROBLEM  public url",
    ], broken.out
    assert "is not https" in broken.out
    assert broken.out.strip().endswith("3 problems to fix")


async def test_doctor_passes_the_test_stacks(
    settings: Settings, container: Any, tmp_path: Path
) -> None:
    """On a migrated database, with the stack's Redis, doctor finds nothing to fix."""
    config = tmp_path / "stack.toml"
    config.write_text(f'redis_url = "{settings.redis_url}"\n' if settings.redis_url else "")
    ran = await cli_for(settings)("--config", str(config), "doctor")
    assert ran.code == 0, ran.out + ran.err
    assert f"database: {container.db.dialect} reachable" in ran.out
    if settings.redis_url:
        assert "ok       redis:" in ran.out
