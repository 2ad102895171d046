"""Events get a random public id; ended rooms record when their event log was deleted.

Events were addressed by their sequential primary key, so anyone could count through them,
members-only ones included. Each event now has ``public_id`` (22 url-safe random
characters, unique), the only id links, the API and calendars use; existing events get
one, and the notifications and pending happenings that name an event by its number are
rewritten to its public id (and its new share link). The listing order becomes
``(starts_at, public_id)``, so page cursors no longer carry the number either.

``rooms.log_erased_at`` is set when the room log of an ended room is deleted, a
``room_log_retention`` after its end; the index finds the rooms still to sweep.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from townhall.storage.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

events = sa.table("events", sa.column("id", ID), sa.column("public_id", sa.String(22)))
notifications = sa.table(
    "notifications",
    sa.column("id", ID),
    sa.column("kind", sa.String(32)),
    sa.column("data", sa.JSON),
)
outbox = sa.table(
    "outbox", sa.column("id", ID), sa.column("topic", sa.String(32)), sa.column("body", sa.JSON)
)


def _renamed(data: Any, rename: Callable[[Any], Any]) -> dict[str, Any] | None:
    """``data`` with its ``event_id`` (and the share link ending in it) renamed, or None
    when it names no event that ``rename`` knows."""
    if not isinstance(data, dict) or "event_id" not in data:
        return None
    old = data["event_id"]
    new = rename(old)
    if new is None:
        return None
    out = {**data, "event_id": new}
    url = data.get("url")
    if isinstance(url, str) and url.endswith(f"/e/{old}"):
        out["url"] = url[: -len(str(old))] + str(new)
    return out


def _rename_references(rename: Callable[[Any], Any]) -> None:
    conn = op.get_bind()
    told = conn.execute(
        sa.select(notifications.c.id, notifications.c.data).where(
            notifications.c.kind.like("event.%")
        )
    ).all()
    for row_id, data in told:
        new = _renamed(data, rename)
        if new is not None:
            conn.execute(
                notifications.update().where(notifications.c.id == row_id).values(data=new)
            )
    pending = conn.execute(
        sa.select(outbox.c.id, outbox.c.body).where(outbox.c.topic == "happening")
    ).all()
    for row_id, body in pending:
        new = _renamed(body.get("data") if isinstance(body, dict) else None, rename)
        if new is not None:
            conn.execute(
                outbox.update().where(outbox.c.id == row_id).values(body={**body, "data": new})
            )


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("public_id", sa.String(length=22), nullable=True))
    conn = op.get_bind()
    public: dict[int, str] = {}
    for (event_id,) in conn.execute(sa.select(events.c.id)).all():
        public[event_id] = secrets.token_urlsafe(16)
        conn.execute(
            events.update().where(events.c.id == event_id).values(public_id=public[event_id])
        )
    _rename_references(lambda old: public.get(old) if isinstance(old, int) else None)
    with op.batch_alter_table("events") as batch:
        batch.alter_column("public_id", existing_type=sa.String(length=22), nullable=False)
        batch.create_index(batch.f("ix_events_public_id"), ["public_id"], unique=True)
        batch.drop_index("ix_events_starts_at")
        batch.create_index("ix_events_starts_at", ["starts_at", "public_id"], unique=False)
    with op.batch_alter_table("rooms") as batch:
        batch.add_column(sa.Column("log_erased_at", UTCDateTime(), nullable=True))
        batch.create_index("ix_rooms_log_erased_ended", ["log_erased_at", "ended_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rooms") as batch:
        batch.drop_index("ix_rooms_log_erased_ended")
        batch.drop_column("log_erased_at")
    conn = op.get_bind()
    number = {p: i for i, p in conn.execute(sa.select(events.c.id, events.c.public_id)).all()}
    _rename_references(lambda old: number.get(old) if isinstance(old, str) else None)
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_starts_at")
        batch.create_index("ix_events_starts_at", ["starts_at", "id"], unique=False)
        batch.drop_index(batch.f("ix_events_public_id"))
        batch.drop_column("public_id")
