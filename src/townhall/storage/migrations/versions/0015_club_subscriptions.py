"""Paid club subscriptions (S10): a club's monthly price, and each subscriber's standing
(docs/creators.md, "Subscriptions").

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from townhall.storage.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ADD COLUMN: SQLite's batch mode copies the table and loses its search triggers
    # (migration 0003).
    op.add_column("clubs", sa.Column("subscription_price", sa.BigInteger(), nullable=True))
    op.add_column("clubs", sa.Column("subscription_currency", sa.String(length=3), nullable=True))
    op.create_table(
        "club_subscriptions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("club_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("periods", sa.Integer(), nullable=False),
        sa.Column("current_period_end", UTCDateTime(), nullable=True),
        sa.Column("grace_until", UTCDateTime(), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("granted_membership", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["club_id"],
            ["clubs.id"],
            name=op.f("fk_club_subscriptions_club_id_clubs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_club_subscriptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_subscriptions")),
        sa.UniqueConstraint("club_id", "user_id", name="uq_club_subscriptions_club_id_user_id"),
    )
    op.create_index(
        op.f("ix_club_subscriptions_user_id"), "club_subscriptions", ["user_id"], unique=False
    )
    op.create_index(
        "ix_club_subscriptions_due",
        "club_subscriptions",
        ["status", "current_period_end"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_club_subscriptions_due", table_name="club_subscriptions")
    op.drop_index(op.f("ix_club_subscriptions_user_id"), table_name="club_subscriptions")
    op.drop_table("club_subscriptions")
    with op.batch_alter_table("clubs") as batch:
        batch.drop_column("subscription_currency")
        batch.drop_column("subscription_price")
