"""Item 10: every response carries the security headers: a strict content security policy
(no inline script, no framing), nosniff, a referrer policy, and HSTS on https."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

WEB = Path(__file__).resolve().parents[2] / "src" / "townhall" / "web"


def policy(response: Any) -> dict[str, str]:
    header = response.headers["content-security-policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


@pytest.mark.parametrize(
    "path",
    ["/", "/app.js", "/style.css", "/healthz", "/api/me", "/nowhere", "/r/nothing", "/sw.js"],
)
async def test_every_response_has_the_headers(client: Any, path: str) -> None:
    """Pages, files, API answers and errors all carry the same headers."""
    r = await client.get(path)
    csp = policy(r)
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert "ws://townhall.test" in csp["connect-src"].split()
    assert "blob:" in csp["media-src"].split()
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in r.headers  # http://townhall.test


async def test_refusals_made_before_the_app_carry_them_too(client: Any) -> None:
    """A 413 answered by the body cap has the headers as well."""
    r = await client.post("/api/auth/code", content=b" " * 100_000)
    assert r.status_code == 413
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


@pytest.mark.settings(public_url="https://townhall.example.org")
async def test_https_instances_send_hsts(client: Any) -> None:
    """With an https public URL, browsers are told to use https only, for a year."""
    r = await client.get("/healthz")
    assert r.headers["strict-transport-security"] == "max-age=31536000"
    assert "wss://townhall.example.org" in policy(r)["connect-src"].split()


def test_the_web_app_has_no_inline_script_or_style() -> None:
    """The policy allows no inline code: the app's HTML and JS must not need any."""
    for page in WEB.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, f"inline script in {page.name}"
        assert "<style" not in html and " style=" not in html, page.name
        assert not re.search(r"\son[a-z]+=", html), f"inline handler in {page.name}"
    for module in WEB.rglob("*.js"):
        source = module.read_text(encoding="utf-8")
        assert not re.search(r"\bstyle:\s*[`'\"]", source), f"style attribute in {module.name}"
        assert "eval(" not in source and "new Function" not in source, module.name


@pytest.mark.settings(environment="production")
async def test_api_docs_page_is_development_only(client: Any) -> None:
    """In production there is no docs page loading scripts from a CDN; the schema stays."""
    assert (await client.get("/api/docs")).status_code == 404
    assert (await client.get("/api/openapi.json")).status_code == 200
