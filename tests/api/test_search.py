"""S3 people search over HTTP: word-prefix matching, ranking, safe queries, blocks."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from townhall.app import Container
from townhall.storage import users as user_store
from townhall.storage.search import people_search_for


async def edit_person(container: Container, username: str, **fields: Any) -> None:
    """Set profile fields as the owner's profile editor would."""
    async with container.db.transaction() as tx:
        user = await user_store.by_username(tx, username)
        assert user is not None
        for name, value in fields.items():
            setattr(user, name, value)


async def search(client: Any, q: str, **params: Any) -> list[str]:
    r = await client.get("/api/users/search", params={"q": q, **params})
    assert r.status_code == 200, r.text
    return [item["username"] for item in r.json()["items"]]


@pytest.fixture
async def town(people: Any, container: Container) -> Any:
    """A few people with names and bios; returns the searcher's client."""
    me = await people.member("searcher")
    for username, display_name, bio in [
        ("ada_l", "Ada Lovelace", "First programmer. Loves engines."),
        ("grace", "Grace Hopper", "Compilers and the Navy."),
        ("alan", "Alan Turing", "Machines, morphogenesis, and marathon running."),
        ("adams", "Douglas Adams", "Towels. Mostly harmless."),
        ("ada", "", ""),
    ]:
        await people.member(username)
        await edit_person(container, username, display_name=display_name, bio=bio)
    return me


async def test_finds_by_name_username_and_bio_prefixes(town: Any) -> None:
    """Each word of the query matches the start of a word in a username, name or bio."""
    assert await search(town, "hop") == ["grace"]
    assert await search(town, "GRA") == ["grace"]
    assert await search(town, "morpho") == ["alan"]
    assert await search(town, "compiler navy") == ["grace"]
    assert await search(town, "lovelace") == ["ada_l"]


async def test_every_word_must_match(town: Any) -> None:
    """Words narrow the search: all of them must match, in any field."""
    assert await search(town, "ada engines") == ["ada_l"]
    assert await search(town, "lovelace towels") == []
    assert await search(town, "ada towels") == ["adams"]


async def test_exact_username_comes_first(town: Any) -> None:
    """Whoever has exactly the query as username ranks above other matches."""
    found = await search(town, "ada")
    assert found[0] == "ada"
    assert set(found) == {"ada", "ada_l", "adams"}
    assert (await search(town, "@Ada_L"))[0] == "ada_l"
    assert (await search(town, "adams"))[0] == "adams"


async def test_username_weighs_more_than_bio(people: Any, container: Container) -> None:
    """A match in the username ranks above the same word deep in a bio."""
    me = await people.member("searcher")
    await people.member("someone")
    await people.member("piano_man")
    await edit_person(container, "someone", bio="I play the piano now and then")
    assert await search(me, "piano") == ["piano_man", "someone"]


@pytest.mark.parametrize(
    "q",
    [
        '"ada',
        "ada*",
        "ada OR grace",
        "NEAR(ada grace)",
        "ada:*",
        "ada & !grace",
        "ada | grace",
        "(ada)",
        "ada'--",
        "ada\\",
        "^ada",
        "username:ada",
        "a\u0000da",
        "ada -grace",
        "ada +grace",
        "José 日本語 ²³ Ⅷ ﷺ",
        "🙂 ada",
        "x" * 200,
    ],
)
async def test_search_syntax_is_only_text(town: Any, q: str) -> None:
    """Operators and quotes of either full-text engine are stripped, never interpreted."""
    r = await town.get("/api/users/search", params={"q": q})
    assert r.status_code == 200, r.text


async def test_operators_become_words(town: Any) -> None:
    """OR and NEAR are just words: 'ada OR grace' finds no one named both."""
    assert await search(town, "ada OR grace") == []
    assert await search(town, "grace's compilers") == []
    assert await search(town, "hopper's") == []
    assert await search(town, "grace, compilers!") == ["grace"]


@pytest.mark.parametrize("q", ["", "   ", "***", "'\"", "--", "_", "\u33cf"])
async def test_empty_query_is_refused(town: Any, q: str) -> None:
    """A query without a letter or digit (as sent: not one only its compatibility form
    has, as ㏏'s "kt") is a 400 query_too_short; no query at all is invalid input."""
    r = await town.get("/api/users/search", params={"q": q})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "query_too_short"
    r = await town.get("/api/users/search")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"


async def test_query_and_limit_are_bounded(town: Any) -> None:
    """Overlong queries and out-of-range limits are validation errors; limit caps results."""
    assert (await town.get("/api/users/search", params={"q": "a" * 201})).status_code == 422
    assert (await town.get("/api/users/search", params={"q": "a", "limit": 0})).status_code == 422
    assert len(await search(town, "a", limit=2)) == 2
    assert set(await search(town, " ".join(["ada"] * 50))) == {"ada", "ada_l", "adams"}


async def test_search_needs_sign_in(client: Any, town: Any) -> None:
    """Visitors cannot search people."""
    assert (await client.get("/api/users/search", params={"q": "ada"})).status_code == 401


async def test_blocks_hide_people_both_ways(people: Any, town: Any) -> None:
    """People the searcher blocked, and people who blocked the searcher, are not found."""
    await town.put("/api/users/grace/block")
    alan = await people.sign_in("alan@example.org")
    await alan.put("/api/users/searcher/block")
    assert await search(town, "grace") == []
    assert await search(town, "alan") == []
    assert await search(town, "lovelace") == ["ada_l"]
    other = await people.member("other")
    assert await search(other, "grace") == ["grace"]


async def test_results_reflect_profile_changes(town: Any, container: Container) -> None:
    """After a bio changes, the new words are found and the old ones no longer match."""
    await edit_person(container, "grace", bio="Nanoseconds.")
    assert await search(town, "nano") == ["grace"]
    assert await search(town, "navy") == []


async def test_results_say_whom_you_follow(town: Any) -> None:
    """Each result carries its status and whether the searcher follows them."""
    await town.put("/api/users/grace/follow")
    r = await town.get("/api/users/search", params={"q": "grace alan"})
    assert r.json()["items"] == []
    r = await town.get("/api/users/search", params={"q": "hopper"})
    (item,) = r.json()["items"]
    assert item["username"] == "grace"
    assert item["display_name"] == "Grace Hopper"
    assert item["bio"] == "Compilers and the Navy."
    assert item["status"] == "member"
    assert item["you_follow"] is True


async def test_waitlisted_people_are_not_found_and_do_not_search(people: Any, town: Any) -> None:
    """People on the waitlist are not found, and may not search (docs/security.md, item 7)."""
    waiting = await people.sign_in("w@example.org", username="waiting_wanda")
    r = await town.get("/api/users/search", params={"q": "wanda"})
    assert r.status_code == 200 and r.json()["items"] == []
    r = await waiting.get("/api/users/search", params={"q": "grace"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_member"


async def test_search_uses_the_full_text_index(container: Container) -> None:
    """The query reaches the FTS5 table on SQLite and the GIN expression index on PostgreSQL."""
    statement = people_search_for(container.db.dialect).statement(["ada", "lo"], "ada", 1, 20)
    sql = str(statement.compile(container.db.engine, compile_kwargs={"literal_binds": True}))
    async with container.db.transaction() as tx:
        if container.db.is_sqlite:
            rows = (await tx.execute(text("EXPLAIN QUERY PLAN " + sql))).all()
            plan = " ".join(str(row[-1]) for row in rows)
            assert "users_fts VIRTUAL TABLE INDEX" in plan
        else:
            await tx.execute(text("SET LOCAL enable_seqscan = off"))
            rows = (await tx.execute(text("EXPLAIN " + sql))).all()
            plan = " ".join(str(row[0]) for row in rows)
            assert "ix_users_search" in plan
