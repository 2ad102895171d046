"""The rules of a club (S7): roles, membership policies, limits, and who may do what.

``PERMISSIONS`` is the one table the server consults before every club action; docs/clubs.md
and the tests follow it role by role. ``VISITOR`` stands for someone with no tie to the club.
"""

from __future__ import annotations

import unicodedata

from townhall.domain import text
from townhall.errors import Forbidden, InvalidInput
from townhall.vocabulary import CLUB_MEMBER_ROLES, ClubPolicy, ClubRole

FOUNDER, ADMIN, LEADER, MEMBER, FOLLOWER = ClubRole
VISITOR = "visitor"
ROLES = tuple(ClubRole)
MEMBER_ROLES = frozenset(CLUB_MEMBER_ROLES)
ASSIGNABLE = (ADMIN, LEADER, MEMBER)
"""Roles a founder or admin may give; there is one founder, for the club's lifetime."""

POLICIES = tuple(ClubPolicy)
"""See :class:`ClubPolicy`."""

NAME_MIN, NAME_MAX = 3, 50
DESCRIPTION_MAX = 300
RULES_MAX, RULE_MAX = 10, 200

PERMISSIONS: dict[str, frozenset[str]] = {
    FOUNDER: frozenset(
        {
            "edit",
            "manage_members",
            "start_room",
            "schedule_event",
            "nominate",
            "members_only",
        }
    ),
    ADMIN: frozenset(
        {"manage_members", "start_room", "schedule_event", "nominate", "members_only", "leave"}
    ),
    LEADER: frozenset({"start_room", "schedule_event", "nominate", "members_only", "leave"}),
    MEMBER: frozenset({"nominate", "members_only", "leave"}),
    FOLLOWER: frozenset({"join", "unfollow"}),
    VISITOR: frozenset({"join", "follow"}),
}
"""Role -> the actions it allows. ``edit``: name, description, rules, icon and policy.
``manage_members``: approve, reject, invite, remove, change roles, see pending requests.
``members_only``: enter members-only club rooms."""

ACTION_WORDS = {
    "edit": "edit the club",
    "manage_members": "manage members",
    "start_room": "start club rooms",
    "schedule_event": "schedule club events",
    "nominate": "nominate people",
    "members_only": "enter members-only rooms",
    "leave": "leave the club",
    "join": "join the club",
    "follow": "follow the club",
    "unfollow": "unfollow the club",
}


def may(role: str | None, action: str) -> bool:
    return action in PERMISSIONS[role or VISITOR]


def require(role: str | None, action: str) -> None:
    if not may(role, action):
        who = [r for r in ROLES if action in PERMISSIONS[r]]
        raise Forbidden(
            "club_role_not_allowed",
            f"Only a club {' or '.join(who) or 'outsider'} may {ACTION_WORDS[action]}.",
            action=action,
        )


def check_name(name: str) -> tuple[str, str]:
    """The name, tidied, and its key for uniqueness (case and width folded)."""
    name = text.clean(
        name,
        field="name",
        what="club name",
        min_chars=NAME_MIN,
        max_chars=NAME_MAX,
        codes="club_name",
    )
    return name, unicodedata.normalize("NFKC", name).casefold()[:NAME_MAX]


def check_description(description: str) -> str:
    return text.clean(
        description,
        field="description",
        what="club description",
        max_chars=DESCRIPTION_MAX,
        multiline=True,
        codes="club_description",
    )


def check_rules(rules: list[str]) -> list[str]:
    cleaned = [
        text.clean(r, field="rules", what="rule", max_chars=RULE_MAX, codes="club_rule")
        for r in rules
    ]
    cleaned = [r for r in cleaned if r]
    if len(cleaned) > RULES_MAX:
        raise InvalidInput("club_too_many_rules", f"A club has at most {RULES_MAX} rules.")
    return cleaned


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise InvalidInput(
            "invalid_club_policy", "Membership is 'open', 'approval' or 'invitation'."
        )
    return policy
