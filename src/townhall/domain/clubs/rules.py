"""The rules of a club (S7): roles, membership policies, limits, and who may do what.

``PERMISSIONS`` is the one table the server consults before every club action; docs/clubs.md
and the tests follow it role by role. ``VISITOR`` stands for someone with no tie to the club.
"""

from __future__ import annotations

import unicodedata

from townhall.errors import Forbidden, InvalidInput

FOUNDER, ADMIN, LEADER, MEMBER, FOLLOWER = "founder", "admin", "leader", "member", "follower"
VISITOR = "visitor"
ROLES = (FOUNDER, ADMIN, LEADER, MEMBER, FOLLOWER)
MEMBER_ROLES = frozenset({FOUNDER, ADMIN, LEADER, MEMBER})
ASSIGNABLE = (ADMIN, LEADER, MEMBER)
"""Roles a founder or admin may give; there is one founder, for the club's lifetime."""

POLICIES = ("open", "approval", "invitation")
"""open: anyone joins. approval: people apply, admins approve. invitation: only people
invited by an admin (or nominated by a member and approved by an admin) get in."""

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


def _clean(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).split())


def _no_control(value: str, field: str) -> None:
    if any(unicodedata.category(c) == "Cc" for c in value if c != "\n"):
        raise InvalidInput("club_control_characters", f"The club's {field} has control characters.")


def check_name(name: str) -> tuple[str, str]:
    """The name, tidied, and its key for uniqueness (case and width folded)."""
    name = _clean(name)
    _no_control(name, "name")
    if len(name) < NAME_MIN:
        raise InvalidInput(
            "club_name_too_short", f"A club name has at least {NAME_MIN} characters."
        )
    if len(name) > NAME_MAX:
        raise InvalidInput("club_name_too_long", f"A club name has at most {NAME_MAX} characters.")
    return name, unicodedata.normalize("NFKC", name).casefold()[:NAME_MAX]


def check_description(text: str) -> str:
    text = text.strip()
    _no_control(text, "description")
    if len(text) > DESCRIPTION_MAX:
        raise InvalidInput(
            "club_description_too_long",
            f"A club description has at most {DESCRIPTION_MAX} characters.",
        )
    return text


def check_rules(rules: list[str]) -> list[str]:
    cleaned = [_clean(r) for r in rules if _clean(r)]
    if len(cleaned) > RULES_MAX:
        raise InvalidInput("club_too_many_rules", f"A club has at most {RULES_MAX} rules.")
    for rule in cleaned:
        _no_control(rule, "rules")
        if len(rule) > RULE_MAX:
            raise InvalidInput("club_rule_too_long", f"A rule has at most {RULE_MAX} characters.")
    return cleaned


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise InvalidInput(
            "invalid_club_policy", "Membership is 'open', 'approval' or 'invitation'."
        )
    return policy
