"""Taking a deleted person's name out of JSON data, as a pure function on plain data."""

from __future__ import annotations

from townhall.domain.erasure import alias, scrub
from townhall.domain.usernames import is_username


def test_a_person_view_of_theirs_loses_name_and_face() -> None:
    """Their member view keeps its role but says the alias, with no display name or avatar."""
    view = {
        "username": "ada",
        "display_name": "Ada L.",
        "avatar_url": "/files/a.png",
        "role": "moderator",
    }
    assert scrub(view, "ada", "deleted-1") == {
        "username": "deleted-1",
        "display_name": "",
        "avatar_url": None,
        "role": "moderator",
    }


def test_names_in_people_keys_become_the_alias_and_leave_lists() -> None:
    """``by`` and ``target`` say the alias; lists of names simply lose theirs."""
    data = {"username": "bob", "by": "ada", "hosts": ["bob", "ada"], "users": ["ada"]}
    assert scrub(data, "ada", "deleted-1") == {
        "username": "bob",
        "by": "deleted-1",
        "hosts": ["bob"],
        "users": [],
    }


def test_others_and_free_text_are_left_alone() -> None:
    """A title that happens to be their name, and other people's views, do not change."""
    data = {"title": "ada", "stage": [{"username": "bob", "display_name": "Bob"}], "n": 3}
    assert scrub(data, "ada", "deleted-1") == data
    assert scrub(None, "ada", "deleted-1") is None


def test_aliases_differ_and_are_never_usernames() -> None:
    """Two deleted people never share an alias, and no one can sign up as one."""
    a, b = alias(), alias()
    assert a != b
    assert a.startswith("deleted-") and not is_username(a)
