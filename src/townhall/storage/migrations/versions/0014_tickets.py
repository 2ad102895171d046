"""Ticketed events and their rooms (S10): an event's price and capacity, the tickets
bought, and the room that only ticket holders may enter (docs/creators.md, "Tickets").

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from townhall.storage.types import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ADD COLUMN: SQLite's batch mode copies the table and loses the search triggers
    # of migration 0010 on both tables.
    op.add_column("events", sa.Column("ticket_price", sa.BigInteger(), nullable=True))
    op.add_column("events", sa.Column("ticket_currency", sa.String(length=3), nullable=True))
    op.add_column("events", sa.Column("ticket_capacity", sa.Integer(), nullable=True))
    op.add_column(
        "rooms", sa.Column("ticketed", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.create_table(
        "tickets",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("payment_id", ID, nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_tickets_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tickets_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_tickets_payment_id_payments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("event_id", "user_id", name="uq_tickets_event_id_user_id"),
    )
    op.create_index(op.f("ix_tickets_user_id"), "tickets", ["user_id"], unique=False)
    op.create_index(op.f("ix_tickets_payment_id"), "tickets", ["payment_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_tickets_payment_id"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_user_id"), table_name="tickets")
    op.drop_table("tickets")
    with op.batch_alter_table("rooms") as batch:
        batch.drop_column("ticketed")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("ticket_capacity")
        batch.drop_column("ticket_currency")
        batch.drop_column("ticket_price")
