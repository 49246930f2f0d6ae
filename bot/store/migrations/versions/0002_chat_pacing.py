"""Per-chat pacing shared by every replica: when a chat may next take a message, and
how many it took in its current minute (for groups).

Plain ADD COLUMNs (no table rebuild): on SQLite with foreign keys on, rebuilding
``chats`` would drop it, and the drop would cascade to rules, feeds and outbox.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("chats", sa.Column("pace_next_at", TS))
    op.add_column("chats", sa.Column("pace_window_at", TS))
    op.add_column(
        "chats", sa.Column("pace_window_count", sa.Integer, nullable=False, server_default="0")
    )
