"""The public pages behind share links (rooms, events, clubs): one small HTML frame.

Visitors who are not signed in see only what a share link may show, escaped by the
caller; the pages are never cached nor indexed."""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

FRAME = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Townhall</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<main class="share">
{body}
</main>
</body>
</html>
"""


def public_page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """``title`` is escaped here; ``body`` is HTML the caller has already escaped."""
    return HTMLResponse(
        FRAME.format(title=escape(title), body=body),
        status_code=status,
        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
    )


def nowhere(what: str) -> HTMLResponse:
    """The 404 page of a share link that leads nowhere."""
    return public_page(
        f"No such {what}",
        f"<h1>No such {what}</h1>\n<p>This link leads nowhere.</p>\n"
        '<p><a href="/">Go to Townhall</a></p>',
        404,
    )
