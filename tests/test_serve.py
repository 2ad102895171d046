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
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    # Uvicorn shuts down cleanly on SIGTERM, then exits by the same signal.
    assert server.returncode in (0, -signal.SIGTERM), err
    assert f"Open {base}" in out
    messages = [json.loads(line)["msg"] for line in err.splitlines() if line.startswith("{")]
    assert any(m.startswith(f"serving on 127.0.0.1:{port}, database sqlite") for m in messages)
    assert "Application shutdown complete." in messages
