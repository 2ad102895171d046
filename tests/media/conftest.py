"""Audio tests run against each media plane: ``media_plane`` (``embedded``, ``workers`` or
``janus``) parametrises every test that names it, or whose module uses it, over all three.
``workers`` is the embedded server in two media worker processes (``media.pool``).

With Janus, the test gets an instance of its own on a host of its own (``januskit``), and
its Python clients bind to this side of that host's network: Janus gathers no candidates
on loopback. Janus's output is shown when the test fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from tests.media import januskit, voicekit
from townhall.config import JanusInstance, Settings

PLANES = ["embedded", "workers", "janus"]
WORKERS = 2


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "media_plane" in metafunc.fixturenames:
        planes = getattr(metafunc.function, "media_planes", PLANES)
        metafunc.parametrize("media_plane", planes, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The embedded server's own variants (its fan-out loops) are not run against Janus."""
    kept, dropped = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        values = params.params if params is not None else {}
        if (
            values.get("media_plane") in ("janus", "workers")
            and values.get("fanout", "native") != "native"
        ):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def media_plane(request: pytest.FixtureRequest) -> Iterator[januskit.Cluster | None]:
    """None for the embedded media server (in this process or in workers); the Janus
    instance's cluster otherwise."""
    if request.param in ("embedded", "workers"):
        yield None
        return
    why = januskit.unavailable()
    if why is not None:
        pytest.skip(why)
    with januskit.Cluster(1) as cluster, voicekit.binding((cluster.lan_address,)):
        yield cluster


@pytest.fixture
def janus_hosts(request: pytest.FixtureRequest) -> Iterator[januskit.Cluster]:
    """``request.param`` Janus instances, each on a host of its own (parametrise it
    indirectly with the count)."""
    why = januskit.unavailable()
    if why is not None:
        pytest.skip(why)
    with januskit.Cluster(request.param) as cluster, voicekit.binding((cluster.lan_address,)):
        yield cluster


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The stack's settings, pointed at the test's Janus instances when it has some."""
    names = [n for n in ("media_plane", "janus_hosts") if n in request.fixturenames]
    cluster = request.getfixturevalue(names[0]) if names else None
    params = getattr(request.node, "callspec", None)
    if params is not None and params.params.get("media_plane") == "workers":
        return settings.model_copy(update={"media_workers": WORKERS})
    if cluster is None:
        return settings
    values: dict[str, Any] = cluster.settings()
    values["media_janus_instances"] = [JanusInstance(**i) for i in values["media_janus_instances"]]
    for name in ("media_janus_api_secret", "media_janus_admin_key"):
        values[name] = SecretStr(values[name])
    return settings.model_copy(update=values)
