"""Browser tests: a real ``townhall serve`` process and Debian's Chromium driven by Playwright.

One server and one browser per module. The server runs on SQLite; with
``TOWNHALL_TEST_BROWSER_STACK=postgres`` it runs on a PostgreSQL database of its own
(created for the module at ``TOWNHALL_TEST_POSTGRES``'s server, dropped after). People are
created with the operator command line (``create-member``) and sign in through the page
with the code mailed to the test SMTP server.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.conftest import POSTGRES_ADMIN, Mailbox, code_in
from tests.waiting import PATIENCE, until_sync

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
DOC_SHOTS = ROOT / "docs" / "screenshots"
TONE_HZ = 440

# The machines running the suite are often busy: a page condition waits as long as any other.
expect.set_options(timeout=PATIENCE * 1000)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    url: str
    data: Path
    env: dict[str, str]
    mailbox: Mailbox
    log: Path
    admin_token: str = ""

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "townhall", "--data-dir", str(self.data), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def approve(self, username: str) -> None:
        """An operator lets a waitlisted person in (the admin API)."""
        answer = httpx.post(
            f"{self.url}/api/admin/waitlist/approve",
            json={"usernames": [username]},
            headers={"Authorization": f"Bearer {self.admin_token}"},
        )
        assert answer.status_code == 200 and answer.json()["approved"] == [username], answer.text

    def code_for(self, email: str, sent_before: int) -> str:
        until_sync(lambda: len(self.mailbox.to(email)) > sent_before, f"mail to {email}")
        return code_in(self.mailbox.last_to(email))


@pytest.fixture(scope="module")
def database_env() -> Iterator[dict[str, str]]:
    """The server's database: SQLite in its data directory (the default), or a fresh
    PostgreSQL database for the module when TOWNHALL_TEST_BROWSER_STACK=postgres."""
    if os.environ.get("TOWNHALL_TEST_BROWSER_STACK", "sqlite") != "postgres":
        yield {}
        return
    name = f"townhall_browser_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield {"TOWNHALL_DATABASE_URL": f"{base}/{name}"}
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    smtp: tuple[Mailbox, int],
    database_env: dict[str, str],
) -> Iterator[Server]:
    """A module may set ``SERVER_ENV = {"TOWNHALL_...": "..."}`` for settings of its own."""
    root = tmp_path_factory.mktemp("browser")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNHALL_")}
    env.update(
        TOWNHALL_SMTP_HOST="127.0.0.1",
        TOWNHALL_SMTP_PORT=str(smtp[1]),
        TOWNHALL_SMTP_SECURITY="none",
        TOWNHALL_LOG_LEVEL="WARNING",
        TOWNHALL_PUBLIC_URL=f"http://127.0.0.1:{port}",
        # Every browser signs in from 127.0.0.1.
        TOWNHALL_LIMIT_CODE_REQUESTS_PER_IP="1000/60",
        TOWNHALL_HALLWAY_HINT_SECONDS="1",
        TOWNHALL_LIMIT_SIGN_IN_ATTEMPTS_PER_IP="1000/60",
    )
    env.update(database_env)
    env.update(getattr(request.module, "SERVER_ENV", {}))
    log = root / "server.log"
    server = Server(f"http://127.0.0.1:{port}", root / "data", env, smtp[0], log)
    link = server.cli(
        "create-admin", "--email", "operator@example.org", "--username", "operator_one"
    )
    token = link.rsplit("/", 1)[-1]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "townhall", "--data-dir", str(server.data), "serve",
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + PATIENCE
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        signed_in = httpx.post(
            f"{server.url}/api/auth/link", json={"token": token, "session": "token"}
        )
        assert signed_in.status_code == 200, signed_in.text
        server.admin_token = signed_in.json()["token"]
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def write_tone(path: Path) -> Path:
    """A steady ``TONE_HZ`` sine tone at ``path`` (a wav for the fake microphone)."""
    subprocess.run(
        ["sox", "-n", "-r", "48000", "-c", "1", "-b", "16", str(path), "synth", "20", "sine",
         str(TONE_HZ), "vol", "0.5"],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A steady sine tone for the fake microphone."""
    return write_tone(tmp_path_factory.mktemp("tone") / "tone.wav")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


def launch_chromium(playwright: Playwright, tone: Path) -> Browser:
    """Debian's Chromium, headless, its fake microphone playing ``tone``."""
    assert Path(CHROMIUM).exists(), "needs Debian's chromium: scripts/test.sh installs it"
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={tone}",
        ],
    )


@pytest.fixture(scope="module")
def browser(playwright: Playwright, tone: Path) -> Iterator[Browser]:
    browser = launch_chromium(playwright, tone)
    yield browser
    browser.close()


class Person:
    """One browser context: a person at their own screen."""

    def __init__(self, server: Server, context: BrowserContext, email: str) -> None:
        self.server = server
        self.context = context
        self.email = email
        self.username = email.split("@")[0]
        self.page: Page = context.new_page()
        # The app asks in its own dialogs: a native alert, confirm or prompt is a fault.
        self.native_dialogs: list[str] = []
        self.page.on("dialog", self._native_dialog)
        # Whatever the content security policy refuses shows in the console; none may.
        self.refused: list[str] = []
        self.page.on(
            "console",
            lambda m: self.refused.append(m.text) if "Content Security Policy" in m.text else None,
        )

    def _native_dialog(self, dialog: Any) -> None:
        self.native_dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def open(self, path: str = "/") -> Page:
        self.page.goto(self.server.url + path)
        return self.page

    def ask_code(self) -> None:
        page = self.page
        sent = len(self.server.mailbox.to(self.email))
        page.get_by_label("Email").fill(self.email)
        page.get_by_role("button", name="Send me a code").click()
        page.get_by_label("Code").fill(self.server.code_for(self.email, sent))
        page.get_by_role("button", name="Sign in").click()

    def sign_up(self) -> Page:
        """First sign-in: code, username, the waitlist; an operator approves; the hallway."""
        page = self.open("/")
        self.ask_code()
        page.get_by_label("Choose a username").fill(self.username)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="You're on the list")).to_be_visible()
        expect(page.get_by_text(f"Your username @{self.username} is reserved.")).to_be_visible()
        self.server.approve(self.username)
        # Being let in arrives live: the waitlist turns into the welcome screen by itself.
        self.skip_welcome()
        return page

    def skip_welcome(self) -> None:
        """The new member's welcome (name and photo, then people to follow), skipped."""
        page = self.page
        expect(page.get_by_role("heading", name="Welcome to Townhall")).to_be_visible()
        page.get_by_role("button", name="Skip for now").click()
        # The suggestions load after the step shows, and the buttons move down when they
        # come: a click before then may land where the button no longer is.
        expect(page.locator("ul.people-list")).to_have_attribute("aria-busy", "false")
        page.get_by_role("button", name="Done").click()
        expect(page.get_by_role("heading", name="Hallway")).to_be_visible()


@pytest.fixture(scope="module")
def people(server: Server, browser: Browser) -> Iterator[Any]:
    """``people("ada")``: a new member signed in, in a browser context of their own (the
    same person again when asked again in the module)."""
    contexts: list[BrowserContext] = []
    made: dict[str, Person] = {}

    def make(
        username: str,
        *,
        locale: str = "en-US",
        width: int = 390,
        height: int = 844,
        timezone: str | None = None,
    ) -> Person:
        if username in made:
            return made[username]
        email = f"{username}@example.org"
        context = browser.new_context(
            locale=locale,
            viewport={"width": width, "height": height},
            base_url=server.url,
            timezone_id=timezone,
            accept_downloads=True,
        )
        contexts.append(context)
        person = Person(server, context, email)
        person.sign_up()
        made[username] = person
        return person

    yield make
    for context in contexts:
        context.close()
    refused = {p.username: p.refused for p in made.values() if p.refused}
    assert not refused, f"the content security policy refused: {refused}"
    native = {p.username: p.native_dialogs for p in made.values() if p.native_dialogs}
    assert not native, f"the page opened the browser's own dialogs: {native}"


def shoot(page: Page, name: str, *, docs: bool = False, full_page: bool = False) -> None:
    """Save a screenshot under artifacts/screenshots; the ones marked ``docs`` also replace
    docs/screenshots when TOWNHALL_UPDATE_SCREENSHOTS=1 (so ordinary runs change no file
    under version control)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Animations (a sheet rising, the speaking ring) are shown at their end, not half-way.
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page, animations="disabled")
    if docs and os.environ.get("TOWNHALL_UPDATE_SCREENSHOTS") == "1":
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(DOC_SHOTS / f"{name}.png"), full_page=full_page, animations="disabled"
        )


def confirm(page: Page, button: str) -> None:
    """Answer the page's own confirmation dialog (the app never uses the browser's)."""
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=button, exact=True).click()
    expect(dialog).to_have_count(0)


def room_sheet(page: Page) -> Any:
    """Open the room's overflow sheet (More): leaving the stage, and the moderators' actions."""
    page.get_by_role("toolbar", name="Room controls").get_by_role("button", name="More").click()
    sheet = page.get_by_role("dialog", name="Room controls")
    expect(sheet).to_be_visible()
    return sheet


def end_room(page: Page) -> None:
    """A moderator ends the room from its overflow sheet, and confirms."""
    room_sheet(page).get_by_role("button", name="End room").click()
    confirm(page, "End room")


def member_tile(page: Page, username: str) -> Any:
    return page.locator(f'.person[data-username="{username}"]')


ROOM_URL = re.compile(r"#/room/([A-Za-z0-9_-]+)$")


# Reads the peak of the room audio the page receives (window.townhallAudio.stream) through an
# AnalyserNode: {hz, db} of the loudest frequency bin, or null before any audio arrived.
PEAK_JS = """
async () => {
  const audio = window.townhallAudio;
  if (!audio || !audio.stream) return null;
  const probe = window.__townhallProbe || (window.__townhallProbe = { ctx: new AudioContext() });
  if (probe.ctx.state !== "running") await probe.ctx.resume();
  if (probe.stream !== audio.stream) {
    const source = probe.ctx.createMediaStreamSource(audio.stream);
    probe.analyser = probe.ctx.createAnalyser();
    probe.analyser.fftSize = 4096;
    probe.analyser.smoothingTimeConstant = 0;
    source.connect(probe.analyser);
    probe.stream = audio.stream;
  }
  const bins = new Float32Array(probe.analyser.frequencyBinCount);
  probe.analyser.getFloatFrequencyData(bins);
  let best = 1;
  for (let i = 2; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  return { hz: (best * probe.ctx.sampleRate) / probe.analyser.fftSize, db: bins[best] };
}
"""


def peak(page: Page) -> dict[str, float] | None:
    """The loudest frequency the page hears right now."""
    result: dict[str, float] | None = page.evaluate(PEAK_JS)
    return result


def hears(page: Page, hz: float, *, tolerance: float = 30.0, floor_db: float = -70.0) -> bool:
    found = peak(page)
    return bool(found and abs(found["hz"] - hz) <= tolerance and found["db"] > floor_db)


def wait_until(check: Any, what: str) -> None:
    """Poll ``check()`` until it is true; fail naming ``what`` after ``PATIENCE``."""
    until_sync(check, what)
