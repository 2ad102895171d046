"""Room commands: one function per action of ``rules.PERMISSIONS``, registered by name
with the arguments it takes.

Each runs inside a ``RoomChange`` (the room's row is locked) after the permission check,
with ``me`` the acting member and its arguments already checked against its declaration
(``arguments.check``); it raises a ``TownhallError`` to refuse, which rolls back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from townhall.bus import channels
from townhall.domain import usernames
from townhall.domain.happenings import Happening, Recipients
from townhall.domain.rooms import arguments, rules
from townhall.domain.rooms.arguments import Argument
from townhall.domain.rooms.change import RoomChange
from townhall.domain.rooms.events import Audience
from townhall.domain.rooms.views import member_data
from townhall.domain.views import person_data
from townhall.errors import Conflict, Forbidden, InvalidInput
from townhall.storage import rooms as store
from townhall.storage.models import RoomMember, User

Run = Callable[..., Awaitable[None]]
NAME_MAX = 32
"""The longest command name a transport accepts (the longest registered is shorter)."""

TARGET = Argument(
    "a username in the room (`@` optional)", max_length=64, min_length=1, drop_prefix="@"
)
TITLE = Argument("the new title", max_length=rules.TITLE_MAX)
KIND = Argument("the room's new kind", choices=rules.KINDS)
MODE = Argument("who may raise a hand", choices=rules.HAND_RAISE)


@dataclass(frozen=True, slots=True)
class Command:
    run: Run
    arguments: Mapping[str, Argument]
    """Every argument the command takes, each required; it takes no other."""

    def check(self, name: str, given: Mapping[str, object]) -> dict[str, Any]:
        return arguments.check(name, self.arguments, given)


COMMANDS: dict[str, Command] = {}


def command(name: str, **takes: Argument) -> Callable[[Run], Run]:
    """Register ``fn`` as the room command ``name`` taking the keyword arguments ``takes``."""

    def register(fn: Run) -> Run:
        COMMANDS[name] = Command(fn, takes)
        return fn

    return register


def checked_arguments(action: str, given: Mapping[str, object]) -> dict[str, Any]:
    """The keyword arguments of ``action`` from what a client sent; ``unknown_command`` or
    ``invalid_arguments`` before anything is read, whatever the transport."""
    found = COMMANDS.get(action)
    if found is None:
        raise InvalidInput("unknown_command", f"There is no room command {action!r}.")
    return found.check(action, given)


def _private(*usernames: str) -> Audience:
    """Audience of an event for the moderators and the people it is about."""
    return Audience(roles=frozenset({"moderator"}), users=frozenset(usernames))


@command("leave")
async def leave(c: RoomChange, me: RoomMember, user: User) -> None:
    await c.remove_member(me, user, "left")


@command("raise_hand")
async def raise_hand(c: RoomChange, me: RoomMember, user: User) -> None:
    if c.room.hand_raise == "off":
        raise Forbidden("hands_off", "Hand raising is off in this room.")
    if c.room.hand_raise == "followed":
        stage = await store.stage_ids(c.tx, c.room.id)
        if not await store.followed_by_any(c.tx, user.id, stage):
            raise Forbidden(
                "hands_followed_only", "Only people the speakers follow can raise a hand."
            )
    if me.hand_raised_at is not None:
        raise Conflict("hand_already_raised", "Your hand is already raised.")
    # The queue is ordered by this time: keep it strictly after the last hand raised,
    # so that two hands raised within one clock tick still keep their order.
    last = await store.last_hand_raised_at(c.tx, c.room.id)
    me.hand_raised_at = max(c.now, last + timedelta(microseconds=1)) if last else c.now
    await c.emit("hand.raised", {"username": user.username}, audience=_private(user.username))


@command("lower_hand")
async def lower_hand(c: RoomChange, me: RoomMember, user: User) -> None:
    if me.hand_raised_at is None:
        raise Conflict("hand_not_raised", "Your hand is not raised.")
    me.hand_raised_at = None
    await c.emit("hand.lowered", {"username": user.username}, audience=_private(user.username))


@command("invite_to_speak", target=TARGET)
async def invite_to_speak(c: RoomChange, me: RoomMember, user: User, target: str) -> None:
    m, other = await c.target(target)
    if m.role != "listener":
        raise Conflict("already_on_stage", f"@{other.username} is already on stage.")
    if m.invited_to_speak_at is not None:
        raise Conflict("already_invited", f"@{other.username} was already invited.")
    await c.check_can_go_on_stage(other)
    m.invited_to_speak_at = c.now
    await c.emit(
        "speak.invited",
        {"username": other.username, "by": user.username},
        audience=_private(other.username),
    )


@command("accept_speak")
async def accept_speak(c: RoomChange, me: RoomMember, user: User) -> None:
    if me.invited_to_speak_at is None:
        raise Conflict("not_invited", "Nobody invited you to speak.")
    await c.check_can_go_on_stage(user)
    before = await c.followed_listeners()
    me.role, me.muted = "speaker", True
    me.invited_to_speak_at = None
    me.hand_raised_at = None
    await c.emit("member.updated", member_data(me, user))
    await c.regroup(before)
    if c.room.kind == "open" and not c.room.members_only:
        c.outbox.happenings.append(
            Happening(
                "room.speaking",
                Recipients(followers_of=(user.id,)),
                actor_id=user.id,
                data={"room": c.room.id, "title": c.room.title, "link": _link(c)},
                key=f"room.speaking:{c.room.id}:{user.id}",
            )
        )


def _link(c: RoomChange) -> str:
    return f"{c.settings.resolved_public_url}/r/{c.room.id}"


@command("decline_speak")
async def decline_speak(c: RoomChange, me: RoomMember, user: User) -> None:
    if me.invited_to_speak_at is None:
        raise Conflict("not_invited", "Nobody invited you to speak.")
    me.invited_to_speak_at = None
    await c.emit("speak.declined", {"username": user.username}, audience=_private(user.username))


async def _set_muted(c: RoomChange, m: RoomMember, u: User, muted: bool) -> None:
    if m.muted and muted:
        raise Conflict("already_muted", "Already muted.")
    if not m.muted and not muted:
        raise Conflict("already_unmuted", "Already unmuted.")
    m.muted = muted
    await c.emit("member.updated", member_data(m, u))


@command("mute")
async def mute(c: RoomChange, me: RoomMember, user: User) -> None:
    await _set_muted(c, me, user, True)


@command("unmute")
async def unmute(c: RoomChange, me: RoomMember, user: User) -> None:
    await _set_muted(c, me, user, False)


@command("mute_speaker", target=TARGET)
async def mute_speaker(c: RoomChange, me: RoomMember, user: User, target: str) -> None:
    m, other = await c.target(target)
    if m.role not in rules.STAGE_ROLES:
        raise Conflict("not_on_stage", f"@{other.username} is not on stage.")
    await _set_muted(c, m, other, True)


async def _to_audience(c: RoomChange, m: RoomMember, u: User) -> None:
    was_moderator = m.role == "moderator"
    before = await c.followed_listeners()
    m.role, m.muted = "listener", True
    m.hand_raised_at = m.invited_to_speak_at = None
    await c.emit("member.updated", member_data(m, u, "others"))
    if was_moderator:
        await c.moderators_changed(c.now)
    await c.regroup(before)


@command("step_down")
async def step_down(c: RoomChange, me: RoomMember, user: User) -> None:
    await _to_audience(c, me, user)


@command("move_to_audience", target=TARGET)
async def move_to_audience(c: RoomChange, me: RoomMember, user: User, target: str) -> None:
    m, other = await c.target(target)
    if m.role == "listener":
        raise Conflict("not_on_stage", f"@{other.username} is not on stage.")
    if m.role == "moderator" and other.id != user.id:
        raise Conflict("target_is_moderator", "Remove their moderator status first.")
    await _to_audience(c, m, other)


@command("make_moderator", target=TARGET)
async def make_moderator(c: RoomChange, me: RoomMember, user: User, target: str) -> None:
    m, other = await c.target(target)
    if m.role == "moderator":
        raise Conflict("already_moderator", f"@{other.username} is already a moderator.")
    if m.role != "speaker":
        raise Conflict("not_on_stage", "Bring them on stage first.")
    m.role = "moderator"
    await c.emit("member.updated", member_data(m, other))


@command("remove_moderator", target=TARGET)
async def remove_moderator(c: RoomChange, me: RoomMember, user: User, target: str) -> None:
    m, other = await c.target(target)
    if m.role != "moderator":
        raise Conflict("not_moderator", f"@{other.username} is not a moderator.")
    m.role = "speaker"
    await c.emit("member.updated", member_data(m, other))
    await c.moderators_changed(c.now)


@command("remove", target=TARGET)
async def remove(c: RoomChange, me: RoomMember, user: User, target: str) -> None:
    m, other = await c.target(target)
    if other.id == user.id:
        raise InvalidInput("cannot_remove_self", "Leave the room instead.")
    if m.role == "moderator":
        raise Conflict("target_is_moderator", "Remove their moderator status first.")
    await store.ban(c.tx, c.room.id, other.id, c.now)
    await c.remove_member(m, other, "removed")
    c.outbox.add(channels.user(other.id), channels.notice("room.removed", {"room": c.room.id}))


@command("set_kind", kind=KIND)
async def set_kind(c: RoomChange, me: RoomMember, user: User, kind: str) -> None:
    kind = rules.check_kind(kind)
    if rules.OPENNESS[kind] < rules.OPENNESS[c.room.kind]:
        raise Conflict("cannot_narrow", "A room can be opened up, never closed down.")
    if kind == c.room.kind:
        raise Conflict("unchanged", f"The room is already {kind}.")
    c.room.kind = kind
    await c.emit("room.updated", {"kind": kind})


@command("set_hand_raise", mode=MODE)
async def set_hand_raise(c: RoomChange, me: RoomMember, user: User, mode: str) -> None:
    c.room.hand_raise = rules.check_hand_raise(mode)
    await c.emit("room.updated", {"hand_raise": c.room.hand_raise})


@command("rename", title=TITLE)
async def rename(c: RoomChange, me: RoomMember, user: User, title: str) -> None:
    c.room.title = rules.check_title(title)
    await c.emit("room.updated", {"title": c.room.title})


@command("end")
async def end(c: RoomChange, me: RoomMember, user: User) -> None:
    await c.end("ended_by_moderator")


@command("ping", target=TARGET)
async def ping(c: RoomChange, me: RoomMember, user: User, target: str) -> None:
    other = await usernames.find(c.tx, target)
    if other is None or not await store.follows(c.tx, other.id, user.id):
        raise Forbidden("not_a_follower", "You can ping only people who follow you.")
    if await store.member(c.tx, c.room.id, other.id) is not None:
        raise Conflict("already_in_room", f"@{other.username} is already here.")
    if await store.is_banned(c.tx, c.room.id, other.id):
        raise Forbidden("removed_from_room", f"@{other.username} was removed from this room.")
    # S4: a social or closed room admits the people a moderator invited. Anyone in the room
    # may tell a follower about it, but only a moderator's ping is that invitation.
    if me.role == "moderator":
        await store.invite(c.tx, c.room.id, other.id, user.id, c.now)
    c.outbox.add(
        channels.user(other.id),
        channels.notice(
            "room.pinged",
            {"room": c.room.id, "title": c.room.title, "by": person_data(user), "link": _link(c)},
        ),
    )
    # The notice reaches open sockets at once; the notification keeps it in the inbox.
    c.outbox.happenings.append(
        Happening(
            "room.pinged",
            Recipients(users=(other.id,)),
            actor_id=user.id,
            data={"room": c.room.id, "title": c.room.title, "link": _link(c)},
        )
    )
