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
    assert "@mona" in page and "1 person listens" in page
    assert 'href="/"' in page and "Sign in to join" in page


async def test_share_page_of_ended_and_unknown_rooms(people: Any, client: Any) -> None:
    """An ended room's page says so; unknown or malformed ids get a 404 page."""
    mona = await people.member("mona")
    rid = (await create(mona, title="Done"))["id"]
    await ok(mona, rid, "end")
    r = await client.get(f"/r/{rid}")
    assert r.status_code == 200 and "This room has ended." in r.text
    for bad in ("nope", "x" * 40, "a.b", "%3Cscript%3E"):
        r = await client.get(f"/r/{bad}")
        assert r.status_code == 404 and "No such room" in r.text
        assert "<script>" not in r.text
