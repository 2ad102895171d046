"""Trust and safety: reports, sanctions, the account's suspension, ban and verified badge,
and the audit log's filters.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from townhall.storage.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ADD COLUMN: a batch would rebuild ``users`` on SQLite and lose the triggers that
    # keep its search index (users_fts, migration 0001) in step.
    op.add_column("users", sa.Column("suspended_until", UTCDateTime(), nullable=True))
    op.add_column("users", sa.Column("banned_at", UTCDateTime(), nullable=True))
    op.add_column(
        "users", sa.Column("verified", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    with op.batch_alter_table("audit_log") as batch:
        batch.create_index(batch.f("ix_audit_log_actor"), ["actor"], unique=False)
        batch.create_index(batch.f("ix_audit_log_action"), ["action"], unique=False)
        batch.create_index(batch.f("ix_audit_log_target"), ["target"], unique=False)
    op.create_table(
        "reports",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("reporter_id", ID, nullable=True),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("subject_id", ID, nullable=True),
        sa.Column("room_id", sa.String(length=16), nullable=True),
        sa.Column("room_live", sa.Boolean(), nullable=False),
        sa.Column("room_snapshot", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("closed_by_id", ID, nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["closed_by_id"],
            ["users.id"],
            name=op.f("fk_reports_closed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["users.id"],
            name=op.f("fk_reports_reporter_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_reports_room_id_rooms"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["users.id"],
            name=op.f("fk_reports_subject_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    with op.batch_alter_table("reports") as batch:
        batch.create_index(batch.f("ix_reports_category"), ["category"], unique=False)
        batch.create_index(batch.f("ix_reports_reporter_id"), ["reporter_id"], unique=False)
        batch.create_index(batch.f("ix_reports_room_id"), ["room_id"], unique=False)
        batch.create_index("ix_reports_status_id", ["status", "id"], unique=False)
        batch.create_index("ix_reports_subject_id_id", ["subject_id", "id"], unique=False)
    op.create_table(
        "sanctions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("report_id", ID, nullable=True),
        sa.Column("staff_id", ID, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_sanctions_report_id_reports"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["users.id"],
            name=op.f("fk_sanctions_staff_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sanctions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sanctions")),
    )
    with op.batch_alter_table("sanctions") as batch:
        batch.create_index(batch.f("ix_sanctions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sanctions") as batch:
        batch.drop_index(batch.f("ix_sanctions_user_id"))
    op.drop_table("sanctions")
    with op.batch_alter_table("reports") as batch:
        batch.drop_index("ix_reports_subject_id_id")
        batch.drop_index("ix_reports_status_id")
        batch.drop_index(batch.f("ix_reports_room_id"))
        batch.drop_index(batch.f("ix_reports_reporter_id"))
        batch.drop_index(batch.f("ix_reports_category"))
    op.drop_table("reports")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index(batch.f("ix_audit_log_target"))
        batch.drop_index(batch.f("ix_audit_log_action"))
        batch.drop_index(batch.f("ix_audit_log_actor"))
    with op.batch_alter_table("users") as batch:
        batch.drop_column("verified")
        batch.drop_column("banned_at")
        batch.drop_column("suspended_until")
