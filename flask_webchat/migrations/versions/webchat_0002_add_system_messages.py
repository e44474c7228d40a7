"""Mark system messages: notices the site posts itself, with no author.

Revision ID: webchat_0002
Revises: webchat_0001
Create Date: 2026-12-01

Existing messages were all posted by someone, so they get ``false``; the server default fills
them in one statement, whatever the table holds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "webchat_0002"
down_revision = "webchat_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "webchat_messages",
        sa.Column("system", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    # A batch: SQLite rebuilds the table (keeping AUTOINCREMENT, which reflection does not
    # see), the others drop the column in place.
    with op.batch_alter_table(
        "webchat_messages", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.drop_column("system")
