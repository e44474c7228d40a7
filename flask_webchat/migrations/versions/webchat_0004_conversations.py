"""Edits, replies, reactions and mentions: the columns and tables they need.

Every existing message keeps its state: never edited, answering nothing, mentioning nobody,
without reactions. Update events get a table of their own, like deletions.

Revision ID: webchat_0004
Revises: webchat_0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "webchat_0004"
down_revision = "webchat_0003"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    # Nullable columns without defaults: adding them rewrites no row on any of the databases.
    with op.batch_alter_table("webchat_messages") as batch:
        batch.add_column(sa.Column("edited_at", Timestamp, nullable=True))
        batch.add_column(sa.Column("reply_to_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("mentions", sa.Text(), nullable=True))
    op.create_index("ix_webchat_messages_reply_to_id", "webchat_messages", ["reply_to_id"])
    op.create_table(
        "webchat_updates",
        sa.Column("room_id", BigId, nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["webchat_rooms.id"]),
        sa.PrimaryKeyConstraint("room_id", "seq"),
        **MYSQL_TABLE,
    )
    op.create_table(
        "webchat_reactions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("emoji", sa.String(32), nullable=False),
        sa.Column("reactor", sa.String(300), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "emoji", "reactor", name="uq_webchat_reactions"),
        sqlite_autoincrement=True,
        **MYSQL_TABLE,
    )


def downgrade() -> None:
    op.drop_table("webchat_reactions")
    op.drop_table("webchat_updates")
    op.drop_index("ix_webchat_messages_reply_to_id", table_name="webchat_messages")
    with op.batch_alter_table("webchat_messages") as batch:
        batch.drop_column("mentions")
        batch.drop_column("reply_to_id")
        batch.drop_column("edited_at")
