"""The closed vocabularies of Townhall, each defined once.

Their values are the strings stored in the database and sent on the wire; a member compares
and hashes as its string, so ``"moderator" in STAGE_ROLES`` holds. Every layer may import
this module; it imports nothing of Townhall.
"""

from __future__ import annotations

from enum import StrEnum


class RoomRole(StrEnum):
    """Where someone in a room is: on stage (moderators, speakers) or in the audience."""

    MODERATOR = "moderator"
    SPEAKER = "speaker"
    LISTENER = "listener"


STAGE_ROLES = (RoomRole.MODERATOR, RoomRole.SPEAKER)
"""The roles that may speak."""


class RoomKind(StrEnum):
    """Who may find and enter a room: anyone, people its moderators follow, or invitees."""

    OPEN = "open"
    SOCIAL = "social"
    CLOSED = "closed"


class HandRaise(StrEnum):
    """Who in the audience may raise a hand."""

    OFF = "off"
    EVERYONE = "everyone"
    FOLLOWED = "followed"


class RoomStatus(StrEnum):
    LIVE = "live"
    ENDED = "ended"


class ClubRole(StrEnum):
    """A person's tie to a club, from the most powerful; followers are not members."""

    FOUNDER = "founder"
    ADMIN = "admin"
    LEADER = "leader"
    MEMBER = "member"
    FOLLOWER = "follower"


CLUB_MEMBER_ROLES = (ClubRole.FOUNDER, ClubRole.ADMIN, ClubRole.LEADER, ClubRole.MEMBER)
"""The roles of a club's members, most powerful first."""
CLUB_MANAGER_ROLES = (ClubRole.FOUNDER, ClubRole.ADMIN)
"""The roles that manage a club's members."""


class ClubPolicy(StrEnum):
    """How people get into a club: anyone joins, admins approve applications, or only
    people invited by an admin (or nominated by a member and approved by an admin)."""

    OPEN = "open"
    APPROVAL = "approval"
    INVITATION = "invitation"


class UserStatus(StrEnum):
    WAITLISTED = "waitlisted"
    MEMBER = "member"


class StaffRole(StrEnum):
    ADMIN = "admin"
    TRUST_SAFETY = "trust_safety"


class ReportCategory(StrEnum):
    """What a report says is wrong (docs/safety.md, *Reports*)."""

    HARASSMENT = "harassment"
    HATE = "hate"
    THREATS = "threats"
    SEXUAL_CONTENT = "sexual_content"
    SPAM_OR_SCAM = "spam_or_scam"
    IMPERSONATION = "impersonation"
    SELF_HARM = "self_harm"
    ILLEGAL = "illegal"
    OTHER = "other"


class ReportStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class SanctionKind(StrEnum):
    """What staff did to a person's account; ``reinstate`` lifts a suspension or a ban."""

    WARN = "warn"
    SUSPEND = "suspend"
    BAN = "ban"
    REINSTATE = "reinstate"
