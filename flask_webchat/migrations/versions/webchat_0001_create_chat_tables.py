"""Create the chat's tables: rooms, messages, deletions and readers' streams.

Revision ID: webchat_0001
Revises:
Create Date: 2026-11-24

The types are spelled out here rather than imported from ``flask_webchat.models``: a migration
records the schema as it was at this revision, and must not follow later edits to the models.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "webchat_0001"
down_revision = None
branch_labels = ("webchat",)
depends_on = None

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# MySQL's DATETIME drops fractions of a second unless asked to keep them.
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# utf8mb4 so that emoji and every CJK character round-trip on MySQL/MariaDB.
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "webchat_rooms",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("message_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_event_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        **MYSQL_TABLE,
    )
    op.create_table(
        "webchat_messages",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("room_id", BigId, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(1024), nullable=False),
        sa.Column("content", sa.String(1024), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("author_id", sa.String(255), nullable=True),
        sa.Column("author_session", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["room_id"], ["webchat_rooms.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("room_id", "seq", name="uq_webchat_messages_room_seq"),
        # Without AUTOINCREMENT, SQLite hands a deleted newest message's id to the next message.
        sqlite_autoincrement=True,
        **MYSQL_TABLE,
    )
    op.create_index("ix_webchat_messages_author_id", "webchat_messages", ["author_id"])
    op.create_table(
        "webchat_deletions",
        sa.Column("room_id", BigId, nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["webchat_rooms.id"]),
        sa.PrimaryKeyConstraint("room_id", "seq"),
        **MYSQL_TABLE,
    )
    op.create_table(
        "webchat_streams",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("room_id", BigId, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("active_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["webchat_rooms.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
        **MYSQL_TABLE,
    )
    op.create_index("ix_webchat_streams_owner", "webchat_streams", ["owner", "id"])
    op.create_index("ix_webchat_streams_active_at", "webchat_streams", ["active_at"])


def downgrade() -> None:
    op.drop_index("ix_webchat_streams_active_at", table_name="webchat_streams")
    op.drop_index("ix_webchat_streams_owner", table_name="webchat_streams")
    op.drop_table("webchat_streams")
    op.drop_table("webchat_deletions")
    op.drop_index("ix_webchat_messages_author_id", table_name="webchat_messages")
    op.drop_table("webchat_messages")
    op.drop_table("webchat_rooms")
