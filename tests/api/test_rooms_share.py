"""S4 the share link: a public preview and page that show title, stage and listener count only."""

from __future__ import annotations

from typing import Any

from tests.api.roomkit import bring_on_stage, create, join, ok


async def test_preview_is_public_and_minimal(people: Any, client: Any) -> None:
    """Anyone sees the title, who is on stage and how many listen; nothing else."""
    mona, sam, lee = [await people.member(n) for n in ("mona", "sam", "lee")]
    rid = (await create(mona, title="Night talk", kind="open"))["id"]
    await join(sam, rid)
    await join(lee, rid)
    await bring_on_stage(mona, sam, rid, "sam")
    await ok(lee, rid, "raise_hand")
    r = await client.get(f"/api/rooms/{rid}/preview")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"id", "title", "status", "stage", "listeners"}
    assert body["title"] == "Night talk" and body["listeners"] == 1
    assert [(p["username"], p["role"]) for p in body["stage"]] == [
        ("mona", "moderator"),
        ("sam", "speaker"),
    ]
    assert set(body["stage"][0]) == {"username", "display_name", "avatar_url", "role"}


async def test_share_page_escapes_everything(people: Any, client: Any) -> None:
    """The share page shows the room, escaped, with a sign-in link; no script gets through."""
    mona = await people.member("mona")
    r = await mona.patch("/api/me", json={"display_name": "<b>Mona</b>"})
    assert r.status_code == 200, r.text
    lee = await people.member("lee")
    rid = (await create(mona, title="<script>alert(1)</script> & co"))["id"]
    await join(lee, rid)
    r = await client.get(f"/r/{rid}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert "&lt;b&gt;Mona&lt;/b&gt;" in page and "<b>Mona</b>" not in page
    assert "@mona" in page and "1 listener" in page
    assert f'href="/#/room/{rid}"' in page and "Sign in to join" in page


async def test_share_page_of_ended_and_unknown_rooms(people: Any, client: Any) -> None:
    """An ended room's page says so; unknown or malformed ids get a 404 page."""
    mona = await people.member("mona")
    rid = (await create(mona, title="Done"))["id"]
    await ok(mona, rid, "end")
    r = await client.get(f"/r/{rid}")
    assert r.status_code == 200 and "This room has ended." in r.text
    for bad in ("nope", "x" * 40, "a.b", "%3Cscript%3E"):
        r = await client.get(f"/r/{bad}")
        assert r.status_code == 404 and "Nothing here" in r.text
        assert "<script>" not in r.text


async def test_share_pages_speak_the_visitors_language_and_carry_link_cards(
    people: Any, client: Any
) -> None:
    """Accept-Language picks the language (q-values honoured, English otherwise); every
    share page has Open Graph and Twitter card tags naming the thing shared."""
    import re

    mona = await people.member("mona")
    rid = (await create(mona, title="Jazz & tea"))["id"]
    asked = {
        "ru-RU,ru;q=0.9,en;q=0.5": ("ru", "Войдите, чтобы присоединиться"),
        "fr-FR, ar;q=0.8, it;q=0.7": ("ar", "سجّل الدخول للانضمام"),
        "de-DE,de;q=0.9": ("en", "Sign in to join"),
        "ko;q=0, it": ("it", "Accedi per partecipare"),
    }
    for header, (lang, words) in asked.items():
        page = (await client.get(f"/r/{rid}", headers={"Accept-Language": header})).text
        assert f'<html lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}">' in page, header
        assert words in page, header
    page = (await client.get(f"/r/{rid}")).text
    tags = dict(
        re.findall(r'<meta (?:property|name)="((?:og|twitter):[a-z:_]+)" content="([^"]*)"', page)
    )
    assert tags["og:title"] == "Jazz &amp; tea" and tags["twitter:title"] == "Jazz &amp; tea"
    assert tags["og:url"] == f"http://townhall.test/r/{rid}"
    assert tags["og:image"].endswith("/icons/icon-512.png") and tags["twitter:card"] == "summary"
    assert tags["og:description"] == "@mona on stage · 0 listeners"
    assert tags["og:type"] == "website" and tags["og:locale"] == "en_US"
