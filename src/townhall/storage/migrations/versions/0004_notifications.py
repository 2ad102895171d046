"""Notifications, their settings, and what the hallway remembers.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from townhall.storage.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _user_fk(table: str, column: str = "user_id", ondelete: str = "CASCADE") -> sa.Constraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _user_fk("notifications", "actor_id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("key", name=op.f("uq_notifications_key")),
    )
    op.create_table(
        "inbox",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("notification_id", ID, nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _user_fk("inbox"),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_inbox_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "notification_id", name=op.f("pk_inbox")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbox_notification_id"), ["notification_id"], unique=False
        )
        batch_op.create_index("ix_inbox_user_created", ["user_id", "created_at"], unique=False)
        batch_op.create_index("ix_inbox_state_user", ["state", "user_id"], unique=False)

    op.create_table(
        "notification_settings",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("fewer", sa.Boolean(), nullable=False),
        sa.Column("paused_until", UTCDateTime(), nullable=True),
        sa.Column("hourly_cap", sa.Integer(), nullable=True),
        _user_fk("notification_settings"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_settings")),
    )
    op.create_table(
        "notification_kinds_off",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        _user_fk("notification_kinds_off"),
        sa.PrimaryKeyConstraint("user_id", "kind", name=op.f("pk_notification_kinds_off")),
    )
    op.create_table(
        "hallway_topics",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("word", sa.String(length=40), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _user_fk("hallway_topics"),
        sa.PrimaryKeyConstraint("user_id", "word", name=op.f("pk_hallway_topics")),
    )


def downgrade() -> None:
    op.drop_table("hallway_topics")
    op.drop_table("notification_kinds_off")
    op.drop_table("notification_settings")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_state_user")
        batch_op.drop_index("ix_inbox_user_created")
        batch_op.drop_index(batch_op.f("ix_inbox_notification_id"))
    op.drop_table("inbox")
    op.drop_table("notifications")
