"""The lock files (scripts/lock.sh) hold every dependency with hashes, agree with the pins of
pyproject.toml, and were made from its current dependencies: scripts/_venv.sh installs from
them and refuses one that does not match."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("requirements.lock", "requirements-dev.lock")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)")


def name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def locked(lock: str) -> dict[str, set[str]]:
    """Package -> versions pinned (one, or one per Python range), each with its hashes."""
    pins: dict[str, set[str]] = {}
    entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text())
    for entry in entries:
        match = PIN.match(entry)
        if match is None:
            continue
        assert "--hash=sha256:" in entry, f"{lock}: {match.group(1)} has no hash"
        pins.setdefault(name(match.group(1)), set()).add(match.group(2))
    return pins


def pinned(extras: bool) -> dict[str, str]:
    """pyproject.toml's direct pins (package -> version)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    if extras:
        lines += [d for group in project["optional-dependencies"].values() for d in group]
    pins = {}
    for line in lines:
        match = re.match(r"^([A-Za-z0-9._-]+)(?:\[[^]]*\])?==(\S+)$", line)
        assert match is not None, f"pyproject.toml pins every direct dependency: {line}"
        pins[name(match.group(1))] = match.group(2)
    return pins


def lock_inputs() -> str:
    done = subprocess.run(
        ["bash", "-c", "source scripts/_venv.sh && lock_inputs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.parametrize("lock", LOCKS)
def test_the_lock_was_made_from_the_current_dependencies(lock: str) -> None:
    recorded = re.search(r"^# dependencies: (\S+)$", (ROOT / lock).read_text(), re.M)
    assert recorded is not None
    assert recorded.group(1) == lock_inputs(), f"{lock} is stale: run ./scripts/lock.sh"


@pytest.mark.parametrize("lock", LOCKS)
def test_the_lock_holds_every_direct_pin_at_its_version(lock: str) -> None:
    pins = locked(lock)
    for package, version in pinned(extras=lock == "requirements-dev.lock").items():
        assert pins.get(package) == {version}, (package, version, pins.get(package))
    assert {"setuptools", "wheel"} <= set(pins), "the build backend is locked too"


def test_serving_takes_the_versions_the_suite_tests() -> None:
    serving, dev = locked("requirements.lock"), locked("requirements-dev.lock")
    assert {p: v for p, v in serving.items() if dev.get(p) != v} == {}
    assert len(dev) > len(pinned(extras=True)), "transitive dependencies are locked"
