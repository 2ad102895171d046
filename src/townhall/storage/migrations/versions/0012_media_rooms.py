"""Where each room's audio lives: its media worker (docs/voice.md, "Media workers").

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from townhall.storage.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_rooms",
        sa.Column("room_id", sa.String(length=16), nullable=False),
        sa.Column("worker", sa.String(length=255), nullable=False),
        sa.Column("placed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_media_rooms_room_id_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_media_rooms")),
    )
    op.create_index(op.f("ix_media_rooms_worker"), "media_rooms", ["worker"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_media_rooms_worker"), table_name="media_rooms")
    op.drop_table("media_rooms")
