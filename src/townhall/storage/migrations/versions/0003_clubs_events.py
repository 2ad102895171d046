"""Clubs and scheduled events.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from townhall.storage.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "clubs",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("name_key", sa.String(length=50), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("icon", sa.String(length=64), nullable=True),
        sa.Column("policy", sa.String(length=12), nullable=False),
        sa.Column("founder_id", Id, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["founder_id"],
            ["users.id"],
            name=op.f("fk_clubs_founder_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clubs")),
        sa.UniqueConstraint("name_key", name=op.f("uq_clubs_name_key")),
    )
    op.create_index(op.f("ix_clubs_founder_id"), "clubs", ["founder_id"], unique=False)

    op.create_table(
        "club_members",
        sa.Column("club_id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["club_id"],
            ["clubs.id"],
            name=op.f("fk_club_members_club_id_clubs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_club_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("club_id", "user_id", name=op.f("pk_club_members")),
    )
    op.create_index(
        "ix_club_members_club_role", "club_members", ["club_id", "role", "created_at"], unique=False
    )
    op.create_index(op.f("ix_club_members_user_id"), "club_members", ["user_id"], unique=False)

    op.create_table(
        "club_requests",
        sa.Column("club_id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("by_id", Id, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_id"], ["users.id"], name=op.f("fk_club_requests_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["club_id"],
            ["clubs.id"],
            name=op.f("fk_club_requests_club_id_clubs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_club_requests_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("club_id", "user_id", name=op.f("pk_club_requests")),
    )
    op.create_index(op.f("ix_club_requests_user_id"), "club_requests", ["user_id"], unique=False)

    _add_room_columns()

    op.create_table(
        "events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("club_id", Id, nullable=True),
        sa.Column("members_only", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", Id, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(length=16), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_events_club_id_clubs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_events_created_by_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_events_room_id_rooms"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_club_id"), "events", ["club_id"], unique=False)
    op.create_index(op.f("ix_events_created_by_id"), "events", ["created_by_id"], unique=False)
    op.create_index(op.f("ix_events_room_id"), "events", ["room_id"], unique=False)
    op.create_index("ix_events_starts_at", "events", ["starts_at", "id"], unique=False)

    op.create_table(
        "event_hosts",
        sa.Column("event_id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_hosts_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_event_hosts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_id", "user_id", name=op.f("pk_event_hosts")),
    )
    op.create_index(op.f("ix_event_hosts_user_id"), "event_hosts", ["user_id"], unique=False)

    op.create_table(
        "event_reminders",
        sa.Column("event_id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_reminders_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_event_reminders_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "user_id", name=op.f("pk_event_reminders")),
    )
    op.create_index(
        op.f("ix_event_reminders_user_id"), "event_reminders", ["user_id"], unique=False
    )

    op.create_table(
        "calendar_feeds",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_calendar_feeds_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )
    op.create_index(op.f("ix_calendar_feeds_user_id"), "calendar_feeds", ["user_id"], unique=False)

    _create_club_search()


# Tables whose rows SQLite would delete (ON DELETE CASCADE) when batch mode drops the old
# rooms table after copying it; they are kept aside and put back.
ROOM_CHILDREN = ("room_members", "room_bans", "room_invitations", "room_events")


def _add_room_columns() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name in ROOM_CHILDREN:
            op.execute(f"CREATE TEMP TABLE keep_{name} AS SELECT * FROM {name}")
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("club_id", Id, nullable=True))
        batch_op.add_column(
            sa.Column("members_only", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_rooms_club_id_clubs"), "clubs", ["club_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index(batch_op.f("ix_rooms_club_id"), ["club_id"], unique=False)
        # Founding a club counts the rooms a person started.
        batch_op.create_index(batch_op.f("ix_rooms_created_by_id"), ["created_by_id"], unique=False)
    if sqlite:
        for name in ROOM_CHILDREN:
            op.execute(f"INSERT OR IGNORE INTO {name} SELECT * FROM keep_{name}")
            op.execute(f"DROP TABLE keep_{name}")


def _create_club_search() -> None:
    """Full-text search over clubs, as for people: FTS5 on SQLite, GIN on PostgreSQL."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE clubs_fts USING fts5(name, description, "
            "content='clubs', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER clubs_fts_insert AFTER INSERT ON clubs BEGIN "
            "INSERT INTO clubs_fts(rowid, name, description) "
            "VALUES (new.id, new.name, new.description); END"
        )
        op.execute(
            "CREATE TRIGGER clubs_fts_delete AFTER DELETE ON clubs BEGIN "
            "INSERT INTO clubs_fts(clubs_fts, rowid, name, description) "
            "VALUES ('delete', old.id, old.name, old.description); END"
        )
        op.execute(
            "CREATE TRIGGER clubs_fts_update AFTER UPDATE OF name, description ON clubs BEGIN "
            "INSERT INTO clubs_fts(clubs_fts, rowid, name, description) "
            "VALUES ('delete', old.id, old.name, old.description); "
            "INSERT INTO clubs_fts(rowid, name, description) "
            "VALUES (new.id, new.name, new.description); END"
        )
    else:
        op.execute(
            "CREATE INDEX ix_clubs_search ON clubs USING gin "
            "(to_tsvector('simple', name || ' ' || description))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("clubs_fts_insert", "clubs_fts_delete", "clubs_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS clubs_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_clubs_search")
    op.drop_table("calendar_feeds")
    op.drop_table("event_reminders")
    op.drop_table("event_hosts")
    op.drop_table("events")
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rooms_created_by_id"))
        batch_op.drop_index(batch_op.f("ix_rooms_club_id"))
        batch_op.drop_constraint(op.f("fk_rooms_club_id_clubs"), type_="foreignkey")
        batch_op.drop_column("members_only")
        batch_op.drop_column("club_id")
    op.drop_table("club_requests")
    op.drop_table("club_members")
    op.drop_table("clubs")
