"""The audience in the order people came in, straight from an index: a room's first
listeners (its snapshot) and each ``/audience`` page read only the rows they return, not
every listener of the room sorted.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Its first two columns serve every lookup the index it replaces served.
    op.create_index(
        "ix_room_members_room_role_joined",
        "room_members",
        ["room_id", "role", "joined_at", "user_id"],
        unique=False,
    )
    op.drop_index("ix_room_members_room_role", table_name="room_members")


def downgrade() -> None:
    op.create_index("ix_room_members_room_role", "room_members", ["room_id", "role"], unique=False)
    op.drop_index("ix_room_members_room_role_joined", table_name="room_members")
