"""Remember the Idempotency-Key of each post, so that a retried post is stored once.

Revision ID: webchat_0003
Revises: webchat_0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "webchat_0003"
down_revision = "webchat_0002"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "webchat_post_keys",
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("scope"),
        **MYSQL_TABLE,
    )
    op.create_index("ix_webchat_post_keys_created_at", "webchat_post_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_webchat_post_keys_created_at", table_name="webchat_post_keys")
    op.drop_table("webchat_post_keys")
