"""The production shape of docs/deployment.md, built on loopback from the files in deploy/,
with two browsers talking through it.

- nginx (Debian's) with ``deploy/nginx/townhall.conf`` as shipped, only its ports, paths
  and certificate (one made here with ``openssl``) replaced: TLS, the ``/api/ws`` upgrade,
  the cache of the web app's files, two upstream API processes.
- ``deploy/townhall.toml`` with this machine's values (the database, Redis, SMTP, the
  addresses), the secrets in the environment as ``/etc/townhall/secrets.env`` gives them.
- Two API processes and two media workers started with the command lines of
  ``deploy/systemd/townhall@.service`` and ``townhall-media@.service``, on PostgreSQL (a
  fresh database) and Redis (a key prefix of its own).
- coturn (Debian's ``turnserver``) with ``deploy/coturn/turnserver.conf``: REST credentials
  with the secret Townhall mints them from, on a port of its own, without TLS, allowed to
  relay to loopback (where the workers listen here).
- Two headless Chromium browsers open the web app at nginx's https address: a speaker whose
  fake microphone plays a tone, and a listener whose ``RTCPeerConnection`` is forced to
  relay (``iceTransportPolicy: "relay"``, by its page's init script, so only that browser
  is). The listener must hear the tone (by FFT, in the page) over a candidate pair whose
  local candidate is coturn's relay.

Every port is a free one picked now; every process is a child of the test, stopped after
it, its output shown when the test fails; the database is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser.conftest import (
    TONE_HZ,
    Person,
    hears,
    launch_chromium,
    member_tile,
    wait_until,
    write_tone,
)
from tests.browser.conftest import Server as BrowserServer
from tests.browser.test_story import join_from_hallway, start_room
from tests.conftest import Mailbox
from tests.e2e.test_media_failover import MediaWorker, _wait_listening
from tests.e2e.test_processes import (
    POSTGRES_ADMIN,
    REDIS_URL,
    TOWNHALL,
    Server,
    _admin,
    _wait_healthy,
    free_port,
)
from tests.waiting import PATIENCE, until_sync

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
TURN_SECRET = "e2e-turn-" + uuid.uuid4().hex

# Wraps RTCPeerConnection in the listener's pages only: whatever configuration the web app
# gives it (the server's default policy is "all"), this browser uses relay candidates only.
FORCE_RELAY_JS = """
(() => {
  const Native = window.RTCPeerConnection;
  class RelayOnly extends Native {
    constructor(config, ...rest) {
      super({ ...(config || {}), iceTransportPolicy: "relay" }, ...rest);
    }
  }
  window.RTCPeerConnection = RelayOnly;
})();
"""

# The room audio connection's ICE path (window.townhallAudio.pc, set by web/audio.js): the
# selected candidate pair's local and remote candidates, and the types of every local
# candidate gathered; null until a pair is selected.
ICE_PATH_JS = """
async () => {
  const audio = window.townhallAudio;
  if (!audio || !audio.pc) return null;
  const stats = await audio.pc.getStats();
  let pair = null;
  stats.forEach((r) => {
    if (r.type === "transport" && r.selectedCandidatePairId) {
      pair = stats.get(r.selectedCandidatePairId);
    }
  });
  if (!pair || pair.state !== "succeeded") return null;
  const pick = (c) => ({
    candidateType: c.candidateType, address: c.address, port: c.port,
    protocol: c.protocol, relayProtocol: c.relayProtocol || null, url: c.url || null,
  });
  const localTypes = [];
  stats.forEach((r) => { if (r.type === "local-candidate") localTypes.push(r.candidateType); });
  return {
    policy: audio.pc.getConfiguration().iceTransportPolicy,
    local: pick(stats.get(pair.localCandidateId)),
    remote: pick(stats.get(pair.remoteCandidateId)),
    localTypes,
    bytesReceived: pair.bytesReceived,
  };
}
"""


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP on loopback (coturn listens on both)."""
    while True:
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def substitute(text: str, replacements: list[tuple[str, str]]) -> str:
    """``text`` with each ``old`` replaced by ``new``; every ``old`` must be there, so a
    change to the shipped file fails here instead of going untested."""
    for old, new in replacements:
        assert old in text, f"{old!r} is no longer in the shipped file"
        text = text.replace(old, new)
    return text


def render_toml(text: str, replace: dict[str, Any], add: dict[str, Any]) -> str:
    """The TOML file ``text`` (top-level keys only, as deploy/townhall.toml is) with the
    values of the keys in ``replace`` changed (``None`` removes the line) and the keys in
    ``add`` put first. Values are written as JSON, which is TOML for these types."""
    seen = set()
    lines = []
    for line in text.splitlines():
        match = re.match(r"^(\w+) = ", line)
        if match and match.group(1) in replace:
            key = match.group(1)
            seen.add(key)
            if replace[key] is not None:
                lines.append(f"{key} = {json.dumps(replace[key])}")
            continue
        if match:
            assert match.group(1) not in add, f"{match.group(1)} is in the shipped file now"
        lines.append(line)
    missing = set(replace) - seen
    assert not missing, f"no longer in the shipped file: {sorted(missing)}"
    return "\n".join([*(f"{k} = {json.dumps(v)}" for k, v in add.items()), *lines]) + "\n"


def unit_command(unit: Path, port: int) -> list[str]:
    """The unit's ``ExecStart`` for the instance whose port is ``port`` (``800%i`` and
    ``127.0.0.1:960%i`` name the port by the instance number), run from this checkout."""
    (line,) = [s for s in unit.read_text().splitlines() if s.startswith("ExecStart=")]
    program, *args = shlex.split(line.removeprefix("ExecStart="))
    assert program.endswith("/bin/townhall"), program
    return [*TOWNHALL, *(re.sub(r"\d*%i", str(port), arg) for arg in args)]


@dataclass
class Process:
    """A child process of the test and the file its output goes to."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def check(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise AssertionError(
                f"{self.name} exited with status {code}:\n{self.log.read_text(errors='replace')}"
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=PATIENCE / 2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(name: str, args: list[str], log: Path, **kwargs: Any) -> Process:
    with log.open("ab") as out:
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, **kwargs
        )
    return Process(name, process, log)


class Nginx(BrowserServer):
    """The address people open (nginx's https one), as the browser helpers expect a server;
    the operator's API calls trust the certificate made for it."""

    tls: ssl.SSLContext

    def approve(self, username: str) -> None:
        answer = httpx.post(
            f"{self.url}/api/admin/waitlist/approve",
            json={"usernames": [username]},
            headers={"Authorization": f"Bearer {self.admin_token}"},
            verify=self.tls,
        )
        assert answer.status_code == 200 and answer.json()["approved"] == [username], answer.text


@dataclass
class Shape:
    """The running production shape."""

    url: str
    http_url: str
    tls: ssl.SSLContext
    turn_port: int
    relay_ports: tuple[int, int]
    mailbox: Mailbox
    root: Path
    policy: str
    processes: list[Process] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    admin_token: str = ""

    @contextlib.contextmanager
    def explained(self) -> Iterator[None]:
        """A failure inside shows what every process (and the browsers' consoles) printed."""
        try:
            yield
        except BaseException as exc:
            logs = "\n".join(
                f"--- {p.name} ---\n{p.log.read_text(errors='replace')[-4000:]}"
                for p in self.processes
            )
            console = "\n".join(self.console[-100:])
            raise AssertionError(f"{exc!r}\n{logs}\n--- browser consoles ---\n{console}") from exc

    def output(self, name: str) -> str:
        (process,) = [p for p in self.processes if p.name == name]
        return process.log.read_text(errors="replace")


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def nginx_config(root: Path, upstreams: list[int], http: int, https: int) -> tuple[Path, Path]:
    """deploy/nginx/townhall.conf on this machine's ports and paths, inside a main nginx.conf
    of its own (prefix, pid, logs and temporary files under ``root``), and the certificate
    made for it."""
    (root / "temp").mkdir(parents=True)
    cert, key = self_signed_certificate(root)
    site = substitute(
        (DEPLOY / "nginx" / "townhall.conf").read_text(),
        [
            ("127.0.0.1:8001", f"127.0.0.1:{upstreams[0]}"),
            ("127.0.0.1:8002", f"127.0.0.1:{upstreams[1]}"),
            ("/var/cache/nginx/townhall", str(root / "cache")),
            ("listen [::]:80;", ""),
            ("listen 80;", f"listen 127.0.0.1:{http};"),
            ("listen [::]:443 ssl http2;", ""),
            ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
            ("/etc/letsencrypt/live/townhall.example.org/fullchain.pem", str(cert)),
            ("/etc/letsencrypt/live/townhall.example.org/privkey.pem", str(key)),
            ("/var/www/letsencrypt", str(root / "letsencrypt")),
        ],
    )
    (root / "townhall.conf").write_text(site)
    user = pwd.getpwuid(os.getuid()).pw_name
    temp = "\n".join(
        f"    {kind}_temp_path {root / 'temp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = root / "nginx.conf"
    main.write_text(
        f"""# Debian's nginx.conf, reduced to what the site needs, with its own paths.
{"user " + user + ";" if os.getuid() == 0 else ""}
worker_processes 1;
pid {root / "nginx.pid"};
error_log stderr notice;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log {root / "access.log"};
{temp}
    include {root / "townhall.conf"};
}}
"""
    )
    return main, cert


def turnserver_config(root: Path, port: int) -> tuple[Path, tuple[int, int]]:
    """deploy/coturn/turnserver.conf on loopback: its own port, no TLS (no certificate to
    give it), no external address (no NAT here), relaying to loopback (the workers'), its
    log on stdout, verbose."""
    shipped = (DEPLOY / "coturn" / "turnserver.conf").read_text()
    conf = substitute(
        shipped,
        [
            ("listening-port=3478", f"listening-port={port}\nlistening-ip=127.0.0.1"),
            ("tls-listening-port=5349\n", ""),
            ("external-ip=203.0.113.7", "relay-ip=127.0.0.1"),
            ("static-auth-secret=CHANGE-ME", f"static-auth-secret={TURN_SECRET}"),
            ("cert=/etc/letsencrypt/live/turn.example.org/fullchain.pem\n", ""),
            ("pkey=/etc/letsencrypt/live/turn.example.org/privkey.pem\n", "no-tls\nno-dtls\n"),
            ("log-file=/var/log/turnserver/turnserver.log", "log-file=stdout"),
        ],
    )
    # verbose: each allocation and its relay address is logged (the test looks for it).
    conf += f"allow-loopback-peers\nverbose\npidfile={root / 'turnserver.pid'}\n"
    path = root / "turnserver.conf"
    path.write_text(conf)
    low = int(re.search(r"^min-port=(\d+)$", conf, re.M).group(1))  # type: ignore[union-attr]
    high = int(re.search(r"^max-port=(\d+)$", conf, re.M).group(1))  # type: ignore[union-attr]
    return path, (low, high)


def townhall_config(
    root: Path,
    database_url: str,
    smtp_port: int,
    public_url: str,
    turn_port: int,
    workers: list[str],
    policy: str,
) -> Path:
    """deploy/townhall.toml as an operator edits it for this machine (docs/deployment.md,
    step 3), its ``media_ice_transport_policy`` line uncommented for ``"relay"``; the
    secrets are left to the environment."""
    text = (DEPLOY / "townhall.toml").read_text()
    if policy == "relay":
        text = substitute(
            text, [("# media_ice_transport_policy =", "media_ice_transport_policy =")]
        )
    text = render_toml(
        text,
        replace={
            "public_url": public_url,
            "data_dir": str(root / "data"),
            "database_url": database_url,
            "redis_url": REDIS_URL,
            "secret_key": None,
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "smtp_security": "none",  # the test's SMTP server: plain, no login
            "smtp_username": None,
            "smtp_password": None,
            "media_worker_addresses": workers,
            "media_port_min": 0,
            "media_port_max": 0,
            "media_public_ips": [],
            "media_turn_urls": [f"turn:127.0.0.1:{turn_port}?transport=udp"],
            "media_turn_secret": None,
        },
        add={
            "redis_prefix": f"e2e-deploy-{uuid.uuid4().hex[:8]}:",
            # The workers listen on loopback, where coturn relays to (allow-loopback-peers).
            "media_bind_addresses": ["127.0.0.1"],
        },
    )
    path = root / "townhall.toml"
    path.write_text(text)
    return path


def run_cli(env: dict[str, str], cwd: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        [*TOWNHALL, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=PATIENCE
    )
    assert not check or done.returncode == 0, f"townhall {args}: {done.stdout}{done.stderr}"
    return done.stdout.strip()


def wait_answering(process: Process, url: str, tls: ssl.SSLContext) -> None:
    def answers() -> bool:
        process.check()
        try:
            return httpx.get(url, verify=tls, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    until_sync(answers, f"{url} to answer")


def wait_port(process: Process, port: int) -> None:
    def listening() -> bool:
        process.check()
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    until_sync(listening, f"{process.name} to listen on {port}")


@pytest.fixture(params=["all", "relay"])
def shape(
    request: pytest.FixtureRequest, tmp_path: Path, smtp: tuple[Mailbox, int]
) -> Iterator[Shape]:
    """The shape with the shipped ``media_ice_transport_policy``: ``"all"`` (the default:
    the test forces one browser to relay itself) or ``"relay"`` (everyone through coturn)."""
    policy = request.param
    for program in (NGINX, TURNSERVER):
        assert Path(program).exists(), f"needs {program}: scripts/test.sh installs it"
    name = f"townhall_deploy_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    api_ports, worker_ports = [free_port(), free_port()], [free_port(), free_port()]
    http, https, turn_port = free_port(), free_port(), free_udp_tcp_port()
    url = f"https://127.0.0.1:{https}"
    data = tmp_path / "data"
    data.mkdir()
    workers = [f"127.0.0.1:{port}" for port in worker_ports]
    config = townhall_config(tmp_path, f"{base}/{name}", smtp[1], url, turn_port, workers, policy)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNHALL_")}
    env.update(
        TOWNHALL_CONFIG=str(config),
        # What /etc/townhall/secrets.env holds.
        TOWNHALL_SECRET_KEY="e2e-" + uuid.uuid4().hex,
        TOWNHALL_MEDIA_TURN_SECRET=TURN_SECRET,
    )
    nginx_conf, cert = nginx_config(tmp_path / "nginx", api_ports, http, https)
    turn_conf, relay_ports = turnserver_config(tmp_path, turn_port)
    shape = Shape(
        url=url,
        http_url=f"http://127.0.0.1:{http}",
        tls=ssl.create_default_context(cafile=str(cert)),
        turn_port=turn_port,
        relay_ports=relay_ports,
        mailbox=smtp[0],
        root=tmp_path,
        policy=policy,
    )
    try:
        with shape.explained():
            # coturn in the foreground (as Debian's unit runs it), with the shipped file.
            turn = start("coturn", [TURNSERVER, "-c", str(turn_conf)], tmp_path / "coturn.log")
            shape.processes.append(turn)

            # docs/deployment.md, step 3: check, the schema, the first administrator.
            run_cli(env, data, "migrate")
            doctor = run_cli(env, data, "doctor", check=False)
            problems = [line for line in doctor.splitlines() if line.startswith("PROBLEM")]
            # Only what loopback makes of the TURN address (no client elsewhere reaches it).
            assert all("a loopback address no client can reach" in p for p in problems), doctor
            link = run_cli(
                env, data, "create-admin", "--email", "operator@example.org",
                "--username", "operator_one",
            )  # fmt: skip

            # Step 6: the media workers, then the API processes, as their units run them.
            media = []
            for i, port in enumerate(worker_ports, start=1):
                args = unit_command(DEPLOY / "systemd" / "townhall-media@.service", port)
                log = tmp_path / f"townhall-media@{i}.log"
                process = start(f"townhall-media@{i}", args, log, env=env, cwd=data)
                shape.processes.append(process)
                media.append(MediaWorker(f"127.0.0.1:{port}", process.process, log))
            for worker in media:
                _wait_listening(worker)
            servers = []
            for i, port in enumerate(api_ports, start=1):
                args = unit_command(DEPLOY / "systemd" / "townhall@.service", port)
                log = tmp_path / f"townhall@{i}.log"
                process = start(f"townhall@{i}", args, log, env=env, cwd=data)
                shape.processes.append(process)
                servers.append(Server(f"http://127.0.0.1:{port}", process.process, log))
            for server in servers:
                _wait_healthy(server)

            # Step 4: nginx in front, its configuration tested first as the docs do.
            nginx = [NGINX, "-p", f"{nginx_conf.parent}/", "-c", str(nginx_conf), "-e", "stderr"]
            tested = subprocess.run(
                [*nginx, "-t"], capture_output=True, text=True, timeout=PATIENCE
            )
            assert tested.returncode == 0, tested.stderr
            proxy = start("nginx", [*nginx, "-g", "daemon off;"], tmp_path / "nginx.log")
            shape.processes.append(proxy)
            wait_answering(proxy, f"{url}/healthz", shape.tls)
            wait_port(turn, turn_port)

            signed_in = httpx.post(
                f"{url}/api/auth/link",
                json={"token": link.rsplit("/", 1)[-1], "session": "token"},
                verify=shape.tls,
            )
            assert signed_in.status_code == 200, signed_in.text
            shape.admin_token = signed_in.json()["token"]
        yield shape
    finally:
        for process in reversed(shape.processes):
            process.stop()
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def access_lines(log: str) -> list[str]:
    """The requests an API process logged (one JSON object a line, log_format json)."""
    found = []
    for line in log.splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("logger") == "townhall.access":
                found.append(str(entry["msg"]))
    return found


def person(shape: Shape, browser: Browser, username: str, *, relay_only: bool = False) -> Person:
    """A new member at their own browser, opening the web app through nginx."""
    server = Nginx(shape.url, shape.root / "data", {}, shape.mailbox, shape.root / "none")
    server.admin_token = shape.admin_token
    server.tls = shape.tls
    context = browser.new_context(
        locale="en-US",
        viewport={"width": 390, "height": 844},
        base_url=shape.url,
        ignore_https_errors=True,
    )
    if relay_only:
        context.add_init_script(FORCE_RELAY_JS)
    someone = Person(server, context, f"{username}@example.org")
    someone.page.on("console", lambda m: shape.console.append(f"{username}: {m.text}"))
    return someone


def ice_path(page: Page) -> Any:
    """The selected ICE path of the page's room audio, once there is one."""
    return until_sync(lambda: page.evaluate(ICE_PATH_JS), "a selected candidate pair")


def test_two_browsers_talk_through_the_production_shape(shape: Shape, tmp_path: Path) -> None:
    with shape.explained():
        # nginx: plain HTTP only redirects; the web app's files are cached a minute and
        # revalidated by browsers; the API is not cached.
        moved = httpx.get(f"{shape.http_url}/style.css")
        assert moved.status_code == 301, moved.text
        assert moved.headers["location"] == "https://127.0.0.1/style.css"
        with httpx.Client(base_url=shape.url, verify=shape.tls) as https:
            first, again = https.get("/style.css"), https.get("/style.css")
            assert first.status_code == again.status_code == 200
            assert (first.headers["x-cache-status"], again.headers["x-cache-status"]) == (
                "MISS",
                "HIT",
            )
            assert again.headers["cache-control"] == "no-cache"
            assert "x-cache-status" not in https.get("/api/media/config").headers

        tone = write_tone(tmp_path / "tone.wav")
        with sync_playwright() as playwright:
            # Two browsers, each a process of its own: only the listener's is relay-only.
            speaking, listening = (
                launch_chromium(playwright, tone),
                launch_chromium(playwright, tone),
            )
            try:
                cyd = person(shape, speaking, "cyd")
                # With the default policy the listener's own browser is made to relay.
                dee = person(shape, listening, "dee", relay_only=shape.policy == "all")
                sockets: list[Any] = []
                dee.page.on("websocket", lambda ws: sockets.append(ws))
                cyd.sign_up()
                dee.sign_up()

                title = "Through the relay"
                cyd.open("/")
                start_room(cyd, title)
                cyd.page.get_by_role("button", name="Unmute").click()
                expect(member_tile(cyd.page, "cyd").locator(".muted-mark")).to_have_count(0)
                dee.open("/")
                join_from_hallway(dee, title)
                expect(dee.page.get_by_role("button", name="Raise hand")).to_be_visible()
                tap = dee.page.get_by_role("button", name="Tap to hear the room")
                if tap.count():
                    tap.click()
                wait_until(
                    lambda: hears(dee.page, TONE_HZ), f"Dee's page hears Cyd's {TONE_HZ} Hz tone"
                )

                # The listener hears it through coturn: its pair's local candidate is a
                # relay candidate of this coturn (the only kind it gathered), on UDP.
                heard = ice_path(dee.page)
                assert heard["policy"] == "relay", heard
                assert heard["local"]["candidateType"] == "relay", heard
                assert set(heard["localTypes"]) == {"relay"}, heard
                assert heard["local"]["address"] == "127.0.0.1", heard
                low, high = shape.relay_ports
                assert low <= heard["local"]["port"] <= high, heard
                assert f":{shape.turn_port}" in (heard["local"]["url"] or ""), heard
                assert heard["bytesReceived"] > 0, heard
                # coturn made that relay address, for a credential of Townhall's minting.
                relayed = f"Local relay addr: 127.0.0.1:{heard['local']['port']}"
                until_sync(lambda: relayed in shape.output("coturn"), "coturn's allocation")
                assert re.search(
                    r"user <\d+:[\w-]+>: incoming packet ALLOCATE processed, success",
                    shape.output("coturn"),
                ), "no allocation with a REST credential"
                # The speaker relays only when the server says everyone does.
                spoke = ice_path(cyd.page)
                assert spoke["policy"] == shape.policy, spoke
                if shape.policy == "relay":
                    assert set(spoke["localTypes"]) == {"relay"}, spoke
                else:
                    assert spoke["local"]["candidateType"] != "relay", spoke
                # The live socket went through nginx's upgrade and stays open.
                live = [
                    s
                    for s in sockets
                    if s.url.startswith(f"{shape.url.replace('https', 'wss')}/api/ws")
                ]
                assert live and not live[-1].is_closed(), [s.url for s in sockets]
                # As in every browser test: nothing refused by the content security policy
                # (which names nginx's address), no native dialog.
                for someone in (cyd, dee):
                    assert not someone.refused, someone.refused
                    assert not someone.native_dialogs, someone.native_dialogs
            finally:
                speaking.close()
                listening.close()

        # nginx spread the browsers' requests over both API processes.
        for name in ("townhall@1", "townhall@2"):
            assert any(" /api/" in line for line in access_lines(shape.output(name))), name
        print(f"listener: {heard}\nspeaker: {spoke}")
