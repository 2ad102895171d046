"""Co-hosts accept first: each event host row has a state (host, invited, declined).

Co-hosts named before this revision were never asked: they become invited, and only the
people who scheduled the events stay hosts.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("event_hosts") as batch:
        batch.add_column(
            sa.Column("state", sa.String(length=10), server_default="host", nullable=False)
        )
    op.execute(
        "UPDATE event_hosts SET state = 'invited' WHERE user_id <> "
        "(SELECT created_by_id FROM events WHERE events.id = event_hosts.event_id)"
    )


def downgrade() -> None:
    op.execute("DELETE FROM event_hosts WHERE state <> 'host'")
    with op.batch_alter_table("event_hosts") as batch:
        batch.drop_column("state")
