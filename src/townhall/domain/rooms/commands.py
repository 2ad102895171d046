"""Room commands: one function per action of ``rules.PERMISSIONS``, registered by name.

Each runs inside a ``RoomChange`` (the room's row is locked) after the permission check,
with ``me`` the acting member; it raises a ``TownhallError`` to refuse, which rolls back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from townhall.bus import channels
from townhall.domain import usernames
from townhall.domain.happenings import Happening, Recipients
from townhall.domain.rooms import rules
from townhall.domain.rooms.change import RoomChange
from townhall.domain.rooms.events import Audience
from townhall.domain.rooms.views import member_data
from townhall.domain.views import person_data
from townhall.errors import Conflict, Forbidden, InvalidInput
from townhall.storage import rooms as store
from townhall.storage.models import RoomMember, User

Command = Callable[..., Awaitable[None]]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn

    return register


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


@command("invite_to_speak")
async def invite_to_speak(
    c: RoomChange, me: RoomMember, user: User, target: str | None = None
) -> None:
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


@command("mute_speaker")
async def mute_speaker(
    c: RoomChange, me: RoomMember, user: User, target: str | None = None
) -> None:
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


@command("move_to_audience")
async def move_to_audience(
    c: RoomChange, me: RoomMember, user: User, target: str | None = None
) -> None:
    m, other = await c.target(target)
    if m.role == "listener":
        raise Conflict("not_on_stage", f"@{other.username} is not on stage.")
    if m.role == "moderator" and other.id != user.id:
        raise Conflict("target_is_moderator", "Remove their moderator status first.")
    await _to_audience(c, m, other)


@command("make_moderator")
async def make_moderator(
    c: RoomChange, me: RoomMember, user: User, target: str | None = None
) -> None:
    m, other = await c.target(target)
    if m.role == "moderator":
        raise Conflict("already_moderator", f"@{other.username} is already a moderator.")
    if m.role != "speaker":
        raise Conflict("not_on_stage", "Bring them on stage first.")
    m.role = "moderator"
    await c.emit("member.updated", member_data(m, other))


@command("remove_moderator")
async def remove_moderator(
    c: RoomChange, me: RoomMember, user: User, target: str | None = None
) -> None:
    m, other = await c.target(target)
    if m.role != "moderator":
        raise Conflict("not_moderator", f"@{other.username} is not a moderator.")
    m.role = "speaker"
    await c.emit("member.updated", member_data(m, other))
    await c.moderators_changed(c.now)


@command("remove")
async def remove(c: RoomChange, me: RoomMember, user: User, target: str | None = None) -> None:
    m, other = await c.target(target)
    if other.id == user.id:
        raise InvalidInput("cannot_remove_self", "Leave the room instead.")
    if m.role == "moderator":
        raise Conflict("target_is_moderator", "Remove their moderator status first.")
    await store.ban(c.tx, c.room.id, other.id, c.now)
    await c.remove_member(m, other, "removed")
    c.outbox.add(channels.user(other.id), channels.notice("room.removed", {"room": c.room.id}))


@command("set_kind")
async def set_kind(c: RoomChange, me: RoomMember, user: User, kind: str | None = None) -> None:
    kind = rules.check_kind(kind or "")
    if rules.OPENNESS[kind] < rules.OPENNESS[c.room.kind]:
        raise Conflict("cannot_narrow", "A room can be opened up, never closed down.")
    if kind == c.room.kind:
        raise Conflict("unchanged", f"The room is already {kind}.")
    c.room.kind = kind
    await c.emit("room.updated", {"kind": kind})


@command("set_hand_raise")
async def set_hand_raise(
    c: RoomChange, me: RoomMember, user: User, mode: str | None = None
) -> None:
    c.room.hand_raise = rules.check_hand_raise(mode or "")
    await c.emit("room.updated", {"hand_raise": c.room.hand_raise})


@command("rename")
async def rename(c: RoomChange, me: RoomMember, user: User, title: str | None = None) -> None:
    c.room.title = rules.check_title(title or "")
    await c.emit("room.updated", {"title": c.room.title})


@command("end")
async def end(c: RoomChange, me: RoomMember, user: User) -> None:
    await c.end("ended_by_moderator")


@command("ping")
async def ping(c: RoomChange, me: RoomMember, user: User, target: str | None = None) -> None:
    if not target:
        raise InvalidInput("target_required", "Say whom to ping.")
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
