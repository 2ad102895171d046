"""The public pages behind share links (rooms, events, clubs): one small branded HTML frame,
in the visitor's language, with Open Graph and Twitter card tags.

The words come from the web app's own catalogues (``web/i18n/<lang>.json``, keys ``share.*``
and a few the app shares), so every string is in the six languages the catalogue test
checks. The language is the first of ``Accept-Language`` (by its q-values) that Townhall
speaks, else English. Visitors who are not signed in see only what a share link may show,
escaped here; the pages are never cached nor indexed. "Sign in to join" leads into the app
at the room, event or club itself (``/#/room/<id>``), so signing in there comes back to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path

from fastapi.responses import HTMLResponse

WEB = Path(__file__).resolve().parents[1] / "web"
LANGUAGES = ("en", "ru", "ro", "it", "ko", "ar")
RTL = frozenset({"ar"})
OG_LOCALES = {
    "en": "en_US",
    "ru": "ru_RU",
    "ro": "ro_RO",
    "it": "it_IT",
    "ko": "ko_KR",
    "ar": "ar_AR",
}


@cache
def catalogue(lang: str) -> dict[str, str]:
    return dict(json.loads((WEB / "i18n" / f"{lang}.json").read_text(encoding="utf-8")))


def language(accept: str | None) -> str:
    """The visitor's language from an ``Accept-Language`` header: the best-rated one we
    speak (``ar-EG;q=0.9`` counts as ``ar``), else English."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((accept or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        base = tag.strip().lower().split("-")[0]
        if base not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if best is None or (q, -position) > (best[0], -best[1]):
            best = (q, position, base)
    return best[2] if best else "en"


def plural(lang: str, n: int) -> str:
    """The CLDR plural category of a whole number ``n`` (what ``Intl.PluralRules`` says)."""
    if lang == "ko":
        return "other"
    if lang == "ru":
        if n % 10 == 1 and n % 100 != 11:
            return "one"
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return "few"
        return "many"
    if lang == "ro":
        if n == 1:
            return "one"
        return "few" if n == 0 or 2 <= n % 100 <= 19 else "other"
    if lang == "it":
        if n == 1:
            return "one"
        return "many" if n != 0 and n % 1_000_000 == 0 else "other"
    if lang == "ar":
        if n in (0, 1, 2):
            return ("zero", "one", "two")[n]
        if 3 <= n % 100 <= 10:
            return "few"
        return "many" if 11 <= n % 100 <= 99 else "other"
    return "one" if n == 1 else "other"


@dataclass(frozen=True)
class Words:
    """``t`` and ``tn`` of web/i18n.js for one language, on the server; English fills gaps."""

    lang: str

    def t(self, key: str, **params: object) -> str:
        text = catalogue(self.lang).get(key) or catalogue("en").get(key) or key
        for name, value in params.items():
            text = text.replace(f"{{{name}}}", str(value))
        return text

    def tn(self, key: str, n: int, **params: object) -> str:
        words = catalogue(self.lang)
        chosen = f"{key}.{plural(self.lang, n)}"
        if chosen not in words:
            chosen = f"{key}.other"
        return self.t(chosen, n=f"{n:,}" if self.lang == "en" else n, **params)

    @property
    def dir(self) -> str:
        return "rtl" if self.lang in RTL else "ltr"


def words_for(accept: str | None) -> Words:
    return Words(language(accept))


@dataclass(frozen=True)
class Card:
    """What a link shows where it is pasted (Open Graph, Twitter)."""

    title: str
    description: str
    url: str
    """The page's own public address."""
    kind: str = "website"


FRAME = """<!doctype html>
<html lang="{lang}" dir="{dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>{title} · Townhall</title>
<meta name="description" content="{description}">
<meta name="theme-color" content="#2f6f3e">
<meta property="og:site_name" content="Townhall">
<meta property="og:type" content="{kind}">
<meta property="og:title" content="{title}">
<meta property="og:description" content="{description}">
<meta property="og:url" content="{url}">
<meta property="og:image" content="{image}">
<meta property="og:image:width" content="512">
<meta property="og:image:height" content="512">
<meta property="og:image:alt" content="Townhall">
<meta property="og:locale" content="{og_locale}">
<meta name="twitter:card" content="summary">
<meta name="twitter:title" content="{title}">
<meta name="twitter:description" content="{description}">
<meta name="twitter:image" content="{image}">
<link rel="icon" href="/icons/icon-32.png" sizes="32x32" type="image/png">
<link rel="apple-touch-icon" href="/icons/apple-touch-icon.png">
<link rel="stylesheet" href="/style.css">
</head>
<body>
<main class="share">
<a class="share-brand" href="/">
<img src="/icons/icon-192.png" alt="" width="40" height="40">Townhall</a>
<p class="muted small">{tagline}</p>
<section class="card">
{body}
</section>
</main>
</body>
</html>
"""


def public_page(
    words: Words, card: Card, body: str, public_url: str, status: int = 200
) -> HTMLResponse:
    """``card`` is escaped here; ``body`` is HTML the caller has already escaped."""
    page = FRAME.format(
        lang=words.lang,
        dir=words.dir,
        title=escape(card.title),
        description=escape(card.description),
        kind=escape(card.kind),
        url=escape(card.url),
        image=escape(f"{public_url}/icons/icon-512.png"),
        og_locale=OG_LOCALES[words.lang],
        tagline=escape(words.t("share.tagline")),
        body=body,
    )
    return HTMLResponse(
        page,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "X-Robots-Tag": "noindex",
            "Content-Language": words.lang,
            "Vary": "Accept-Language, Cookie",
        },
    )


def join_button(words: Words, app_path: str, label_key: str = "share.sign_in_to_join") -> str:
    """The way in: the app at ``app_path`` (a hash route), where signing in returns to it."""
    return f'<p><a class="button" href="/#{escape(app_path)}">{escape(words.t(label_key))}</a></p>'


def nowhere(words: Words, public_url: str, path: str) -> HTMLResponse:
    """The 404 page of a share link that leads nowhere."""
    title = words.t("share.nowhere_title")
    body = (
        f"<h1>{escape(title)}</h1>\n<p>{escape(words.t('share.nowhere'))}</p>\n"
        f'<p><a class="button" href="/">{escape(words.t("share.go_home"))}</a></p>'
    )
    card = Card(title, words.t("share.tagline"), f"{public_url}{path}")
    return public_page(words, card, body, public_url, 404)
