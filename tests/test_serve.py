"""`townhall serve` as a real process: migrates, prints the address to open, answers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.waiting import PATIENCE, child, until
from townhall.client import Townhall


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_migrates_prints_the_address_and_answers(tmp_path: Path) -> None:
    """With only a data dir, serve creates the SQLite file, says where to go, and serves."""
    data, port = tmp_path / "data", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNHALL_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "townhall", "--data-dir", str(data), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None, "the server never answered"
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "database": "sqlite"}
        page = httpx.get(f"{base}/", timeout=5)
        assert page.status_code == 200 and "Townhall" in page.text
        assert (data / "townhall.db").is_file()
        assert (data / "secret.key").is_file()
        assert oct((data / "secret.key").stat().st_mode & 0o777) == "0o600"
        # A token in an address never reaches the access log: its line names the route.
        assert httpx.get(f"{base}/invite/Secret-Invite-Token", timeout=5).status_code == 200
        httpx.get(f"{base}/healthz", headers={"X-Request-ID": "probe-1"}, timeout=5)

        # Operator commands on the same data directory print links to this server's port,
        # although they take no --port.
        def cli(*args: str) -> str:
            done = subprocess.run(
                [sys.executable, "-m", "townhall", "--data-dir", str(data), *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=PATIENCE,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout.strip()

        cli("create-member", "--email", "ida@example.org", "--username", "ida")
        assert cli("signin-link", "ida").startswith(f"{base}/")
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    # Uvicorn shuts down cleanly on SIGTERM, then exits by the same signal.
    assert server.returncode in (0, -signal.SIGTERM), err
    assert f"Open {base}" in out
    messages = [json.loads(line)["msg"] for line in err.splitlines() if line.startswith("{")]
    assert any(m.startswith(f"serving on 127.0.0.1:{port}, database sqlite") for m in messages)
    assert "Application shutdown complete." in messages
    # Access lines are on by default: one a request, with its request id.
    access = [json.loads(line) for line in err.splitlines() if '"townhall.access"' in line]
    probe = next(e for e in access if e["request_id"] == "probe-1")
    assert (probe["method"], probe["path"], probe["status"]) == ("GET", "/healthz", 200)
    assert probe["duration_ms"] >= 0
    assert any(e["path"] == "/invite/{token}" for e in access)
    assert "Secret-Invite-Token" not in err


async def test_a_served_process_sweeps_rooms_on_its_own(tmp_path: Path) -> None:
    """Nobody runs the sweeper by hand here: a moderator who shows no sign of life is marked
    away, then removed, and the room left empty ends, all in the served process's own
    time."""
    data, port = tmp_path / "data", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNHALL_")}
    env.update(
        TOWNHALL_ROOM_PRESENCE_TIMEOUT_SECONDS="1",
        TOWNHALL_ROOM_MODERATOR_GRACE_SECONDS="1",
        TOWNHALL_ROOM_SWEEP_INTERVAL_SECONDS="0.2",
    )
    townhall = (sys.executable, "-m", "townhall", "--data-dir", str(data))

    def cli(*args: str) -> str:
        done = subprocess.run(
            [*townhall, *args], env=env, capture_output=True, text=True, timeout=PATIENCE
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    cli("create-member", "--email", "mona@example.org", "--username", "mona")
    link = cli("signin-link", "mona")
    base = f"http://127.0.0.1:{port}"

    async def healthy() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"{base}/healthz", timeout=2)).status_code == 200
        except httpx.TransportError:
            return False

    async with child("townhall serve", *townhall, "serve", "--port", str(port), env=env) as server:
        await until(healthy, "the server to answer", watch=(server,))
        async with Townhall(base) as mona:
            await mona.sign_in_with_link(link)
            rid = (await mona.create_room("Nobody home"))["id"]

            async def ended() -> bool:
                return (await mona.room(rid))["status"] == "ended"

            await until(ended, "the sweeper to end the abandoned room", watch=(server,))
            log = (await mona.events(rid))["events"]
            assert [(e["name"], e["data"]) for e in log[-3:]] == [
                ("member.away", {"username": "mona"}),
                ("member.left", {"username": "mona", "reason": "disconnected"}),
                ("room.ended", {"reason": "empty"}),
            ]
