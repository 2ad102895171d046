"""Janus processes for tests and benches: each on a host of its own (a network namespace on a
bridge made for the run), with its own configuration files in a temporary directory.

Janus never gathers ICE candidates on loopback, so even one instance needs an interface
of its own: the bridge (``Lan``) has an address in the root namespace, where the tests, the
Townhall container and the Python clients run, and each ``Host`` is a namespace with one
veth on the bridge. Inside a namespace every port is free, so Janus takes its usual ones.

Namespaces, links and addresses are created by the test and torn down by it; nothing is
left behind when it fails (``Lan.close``). A subnet of 10.213.0.0/16 is picked at random,
one not in use on this machine, so runs side by side do not meet.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.waiting import until_sync

JANUS = shutil.which("janus")
LIBDIR = Path("/usr/lib/x86_64-linux-gnu/janus")
WS_PORT = 8188
"""The Janus API's WebSocket port, in each host's own namespace."""


def unavailable() -> str | None:
    """Why Janus tests cannot run here, or None."""
    if JANUS is None:
        return "janus is not installed (Debian package janus; scripts/test.sh installs it)"
    if not (LIBDIR / "plugins" / "libjanus_audiobridge.so").exists():
        return f"Janus's plugins are not in {LIBDIR}"
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "Janus tests make network namespaces: they need root and iproute2"
    return None


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def _subnets_in_use() -> set[int]:
    used: set[int] = set()
    for line in ip("-o", "-4", "addr", "show").stdout.splitlines():
        parts = line.split()
        address = parts[parts.index("inet") + 1].split("/")[0]
        if address.startswith("10.213."):
            used.add(int(address.split(".")[2]))
    return used


@dataclass
class Host:
    """A network namespace with one address on the bridge: a machine of the test's own."""

    lan: Lan
    name: str
    address: str
    veth: str

    def run(self, *command: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *command]

    def cut_off(self) -> None:
        """Unplug the host from the network: its processes live on, unreachable."""
        ip("link", "set", self.veth, "down")


@dataclass
class Lan:
    """A bridge in the root namespace and the hosts on it."""

    subnet: int
    tag: str
    hosts: list[Host] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"thb{self.tag}"

    @property
    def address(self) -> str:
        """This side's address on the bridge: where hosts reach the tests' own sockets."""
        return f"10.213.{self.subnet}.1"

    @classmethod
    def create(cls) -> Lan:
        used = _subnets_in_use()
        free = [n for n in range(1, 255) if n not in used]
        lan = cls(random.choice(free), secrets.token_hex(3))
        ip("link", "add", lan.bridge, "type", "bridge")
        ip("addr", "add", f"{lan.address}/24", "dev", lan.bridge)
        ip("link", "set", lan.bridge, "up")
        return lan

    def host(self) -> Host:
        index = len(self.hosts) + 2
        name = f"thj{self.tag}h{index}"
        veth = f"thv{self.tag}{index}"
        host = Host(self, name, f"10.213.{self.subnet}.{index}", veth)
        self.hosts.append(host)
        ip("netns", "add", name)
        ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
        ip("link", "set", veth, "master", self.bridge)
        ip("link", "set", veth, "up")
        ip("-n", name, "addr", "add", f"{host.address}/24", "dev", "eth0")
        ip("-n", name, "link", "set", "eth0", "up")
        ip("-n", name, "link", "set", "lo", "up")
        return host

    def close(self) -> None:
        for host in self.hosts:
            ip("link", "del", host.veth, check=False)
            ip("netns", "del", host.name, check=False)
        ip("link", "del", self.bridge, check=False)
        self.hosts.clear()


@dataclass
class Janus:
    """One Janus process on a host: AudioBridge, Streaming and the WebSocket API only."""

    host: Host
    directory: Path
    api_secret: str
    admin_key: str
    process: subprocess.Popen[bytes] | None = None
    _log: Any = None

    @property
    def url(self) -> str:
        return f"ws://{self.host.address}:{WS_PORT}"

    @classmethod
    def configure(cls, host: Host, api_secret: str, admin_key: str) -> Janus:
        directory = Path(tempfile.mkdtemp(prefix=f"janus-{host.name}-"))
        janus = cls(host, directory, api_secret, admin_key)
        for kind, names in (
            ("plugins", ("libjanus_audiobridge.so", "libjanus_streaming.so")),
            ("transports", ("libjanus_websockets.so",)),
        ):
            folder = directory / kind
            folder.mkdir()
            for name in names:
                (folder / name).symlink_to(LIBDIR / kind / name)
        config = directory / "conf"
        config.mkdir()
        (config / "janus.jcfg").write_text(
            "general: {\n"
            f'  configs_folder = "{config}"\n'
            f'  plugins_folder = "{directory / "plugins"}"\n'
            f'  transports_folder = "{directory / "transports"}"\n'
            f'  events_folder = "{directory / "none"}"\n'
            f'  loggers_folder = "{directory / "none"}"\n'
            "  debug_level = 4\n"
            f'  api_secret = "{api_secret}"\n'
            "  session_timeout = 60\n"
            # Handles share a loop per core instead of a thread each: what scales.
            "  event_loops = 2\n"
            "}\n"
            "media: {\n"
            '  rtp_port_range = "20000-40000"\n'
            "}\n"
            "nat: {\n"
            "  ice_lite = true\n"
            '  ice_enforce_list = "eth0"\n'
            "}\n"
        )
        (config / "janus.transport.websockets.jcfg").write_text(
            "general: {\n"
            '  json = "plain"\n'
            "  ws = true\n"
            f"  ws_port = {WS_PORT}\n"
            "  wss = false\n"
            "}\n"
            "admin: {\n  admin_ws = false\n}\n"
        )
        for plugin in ("audiobridge", "streaming"):
            (config / f"janus.plugin.{plugin}.jcfg").write_text(
                "general: {\n"
                f'  admin_key = "{admin_key}"\n'
                + ("  lock_rtp_forward = true\n" if plugin == "audiobridge" else "")
                + '  rtp_port_range = "40000-50000"\n'
                "  events = false\n"
                "}\n"
            )
        return janus

    def start(self) -> None:
        assert JANUS is not None
        self._log = open(self.directory / "janus.log", "wb")
        self.process = subprocess.Popen(
            self.host.run(JANUS, "-F", str(self.directory / "conf"), "-o", "-i", self.host.address),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        until_sync(self._answers, f"Janus on {self.host.address} to listen")

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"Janus on {self.host.address} exited:\n{self.output}")
        try:
            socket.create_connection((self.host.address, WS_PORT), timeout=1).close()
        except OSError:
            return False
        return True

    @property
    def output(self) -> str:
        path = self.directory / "janus.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self) -> None:
        """The instance dies at once (SIGKILL): no goodbye to anyone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> str:
        """Stop it and remove its files; what it printed."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        output = self.output
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.directory, ignore_errors=True)
        return output


class Cluster:
    """Janus instances on hosts of their own. On leaving, each instance's output is printed
    to standard error: pytest shows it when the test failed."""

    def __init__(self, count: int, show: bool = True) -> None:
        self.count = count
        self.show = show
        """Print the instances' output on leaving (a bench keeps its own output short)."""
        self.api_secret = secrets.token_hex(8)
        self.admin_key = secrets.token_hex(8)
        self.lan: Lan | None = None
        self.instances: list[Janus] = []

    def __enter__(self) -> Cluster:
        self.lan = Lan.create()
        try:
            for _ in range(self.count):
                janus = Janus.configure(self.lan.host(), self.api_secret, self.admin_key)
                self.instances.append(janus)
                janus.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def lan_address(self) -> str:
        assert self.lan is not None
        return self.lan.address

    def settings(self) -> dict[str, Any]:
        """Townhall's settings for these instances."""
        assert self.lan is not None
        return {
            "media_backend": "janus",
            "media_janus_instances": [{"url": j.url} for j in self.instances],
            "media_janus_api_secret": self.api_secret,
            "media_janus_admin_key": self.admin_key,
            "media_janus_forward_address": self.lan.address,
        }

    def close(self) -> None:
        for janus in self.instances:
            output = janus.stop()
            if self.show:
                print(f"--- output of janus on {janus.host.address} ---\n{output}", file=sys.stderr)
        self.instances.clear()
        if self.lan is not None:
            self.lan.close()
            self.lan = None
