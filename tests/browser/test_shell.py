"""The service worker's app shell lists exactly the files the app is made of, so the app
starts offline with every module, style, catalogue and icon it needs."""

from __future__ import annotations

import json
import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "src" / "townhall" / "web"


def shell() -> set[str]:
    source = (WEB / "sw.js").read_text(encoding="utf-8")
    listed = re.search(r"const SHELL = (\[.*?\]);", source, re.S)
    assert listed, "sw.js has no SHELL list"
    return set(json.loads(re.sub(r",\s*\]", "]", listed.group(1))))


def test_every_shell_file_exists() -> None:
    for path in shell() - {"/"}:
        assert (WEB / path.lstrip("/")).is_file(), path


def test_every_module_and_catalogue_is_in_the_shell() -> None:
    needed = {
        "/" + str(p.relative_to(WEB))
        for p in [*WEB.rglob("*.js"), *WEB.glob("i18n/*.json"), *WEB.glob("*.css")]
        if p.name != "sw.js"
    }
    assert sorted(needed - shell()) == []
