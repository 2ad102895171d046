"""The rules of a room (S4): kinds, roles, settings and who may do what.

``PERMISSIONS`` is the single table the server consults before every room command; the
documentation (docs/rooms.md) and the tests follow it action by action, role by role.
"""

from __future__ import annotations

from townhall.domain import text
from townhall.errors import Forbidden, InvalidInput
from townhall.vocabulary import STAGE_ROLES, HandRaise, RoomKind, RoomRole

ROLES = tuple(RoomRole)
KINDS = tuple(RoomKind)
HAND_RAISE = tuple(HandRaise)
TITLE_MAX = 60

# A room may only be opened up while people are inside: closed → social → open.
OPENNESS: dict[str, int] = {RoomKind.CLOSED: 0, RoomKind.SOCIAL: 1, RoomKind.OPEN: 2}

MOD = frozenset({RoomRole.MODERATOR})
STAGE = frozenset(STAGE_ROLES)
AUDIENCE = frozenset({RoomRole.LISTENER})
EVERYONE = frozenset(ROLES)

PERMISSIONS: dict[str, frozenset[str]] = {
    # anyone in the room
    "leave": EVERYONE,
    "ping": EVERYONE,
    # the audience
    "raise_hand": AUDIENCE,
    "lower_hand": AUDIENCE,
    "accept_speak": AUDIENCE,
    "decline_speak": AUDIENCE,
    # people on stage, about themselves
    "mute": STAGE,
    "unmute": STAGE,
    "step_down": STAGE,
    # moderators
    "invite_to_speak": MOD,
    "mute_speaker": MOD,
    "move_to_audience": MOD,
    "make_moderator": MOD,
    "remove_moderator": MOD,
    "remove": MOD,
    "set_kind": MOD,
    "set_hand_raise": MOD,
    "rename": MOD,
    "end": MOD,
}


def check_permission(action: str, role: str) -> None:
    allowed = PERMISSIONS.get(action)
    if allowed is None:
        raise InvalidInput("unknown_command", f"There is no room command {action!r}.")
    if role not in allowed:
        who = " or ".join(sorted(allowed))
        raise Forbidden("not_allowed", f"Only a {who} can {action.replace('_', ' ')}.")


def check_title(title: str) -> str:
    return text.clean(title, field="title", what="room title", max_chars=TITLE_MAX)


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput("invalid_room_kind", "A room is 'open', 'social' or 'closed'.")
    return kind


def check_hand_raise(mode: str) -> str:
    if mode not in HAND_RAISE:
        raise InvalidInput("invalid_hand_raise", "Hand raising is 'off', 'everyone' or 'followed'.")
    return mode
