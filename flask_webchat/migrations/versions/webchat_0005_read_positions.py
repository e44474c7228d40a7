"""Remember how far each reader has read each room, for unread counts.

Revision ID: webchat_0005
Revises: webchat_0004
Create Date: 2026-12-01

The revision only adds a table of its own, so it applies after any other revision of the branch.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "webchat_0005"
down_revision = "webchat_0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "webchat_read_positions",
        sa.Column("reader", sa.String(300), nullable=False),
        sa.Column("room_id", BigId, autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["webchat_rooms.id"]),
        sa.PrimaryKeyConstraint("reader", "room_id"),
        **MYSQL_TABLE,
    )


def downgrade() -> None:
    op.drop_table("webchat_read_positions")
