"""Full-text search over live rooms (title) and events (name, description), as for people
and clubs: FTS5 on SQLite, GIN expression indexes on PostgreSQL.

Rooms are indexed only while live. On SQLite ``rooms_fts`` holds its own copy of each live
room's id and title (rooms are keyed by text, which FTS5 cannot use as its rowid), put in
and taken out by triggers as rooms start, change title and end, so it stays as small as the
hallway. On PostgreSQL the index is partial, ``WHERE status = 'live'``.

A later migration that rebuilds ``rooms`` or ``events`` with a batch on SQLite drops these
triggers (as migration 0008 notes for ``users``): add columns with plain ``ADD COLUMN``.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TOKENIZE = "tokenize='unicode61 remove_diacritics 2'"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE rooms_fts USING fts5(room_id UNINDEXED, title, {TOKENIZE})"
        )
        op.execute(
            "CREATE TRIGGER rooms_fts_insert AFTER INSERT ON rooms WHEN new.status = 'live' "
            "BEGIN INSERT INTO rooms_fts(room_id, title) VALUES (new.id, new.title); END"
        )
        # The table holds live rooms only, so finding a room's row by its unindexed id
        # reads a few hundred rows at most.
        op.execute(
            "CREATE TRIGGER rooms_fts_update AFTER UPDATE OF title, status ON rooms BEGIN "
            "DELETE FROM rooms_fts WHERE room_id = old.id; "
            "INSERT INTO rooms_fts(room_id, title) "
            "SELECT new.id, new.title WHERE new.status = 'live'; END"
        )
        op.execute(
            "CREATE TRIGGER rooms_fts_delete AFTER DELETE ON rooms BEGIN "
            "DELETE FROM rooms_fts WHERE room_id = old.id; END"
        )
        op.execute(
            "INSERT INTO rooms_fts(room_id, title) SELECT id, title FROM rooms "
            "WHERE status = 'live'"
        )
        op.execute(
            "CREATE VIRTUAL TABLE events_fts USING fts5(name, description, "
            f"content='events', content_rowid='id', {TOKENIZE})"
        )
        op.execute(
            "CREATE TRIGGER events_fts_insert AFTER INSERT ON events BEGIN "
            "INSERT INTO events_fts(rowid, name, description) "
            "VALUES (new.id, new.name, new.description); END"
        )
        op.execute(
            "CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN "
            "INSERT INTO events_fts(events_fts, rowid, name, description) "
            "VALUES ('delete', old.id, old.name, old.description); END"
        )
        op.execute(
            "CREATE TRIGGER events_fts_update AFTER UPDATE OF name, description ON events BEGIN "
            "INSERT INTO events_fts(events_fts, rowid, name, description) "
            "VALUES ('delete', old.id, old.name, old.description); "
            "INSERT INTO events_fts(rowid, name, description) "
            "VALUES (new.id, new.name, new.description); END"
        )
        op.execute("INSERT INTO events_fts(events_fts) VALUES ('rebuild')")
    else:
        op.execute(
            "CREATE INDEX ix_rooms_search ON rooms USING gin "
            "(to_tsvector('simple', title)) WHERE status = 'live'"
        )
        op.execute(
            "CREATE INDEX ix_events_search ON events USING gin "
            "(to_tsvector('simple', name || ' ' || description))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in (
            "rooms_fts_insert",
            "rooms_fts_update",
            "rooms_fts_delete",
            "events_fts_insert",
            "events_fts_delete",
            "events_fts_update",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS rooms_fts")
        op.execute("DROP TABLE IF EXISTS events_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_rooms_search")
        op.execute("DROP INDEX IF EXISTS ix_events_search")
