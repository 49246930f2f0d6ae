"""A chat's time zone (digest times and alert times are read in it) and quiet hours.

Plain ADD COLUMNs (no table rebuild): on SQLite with foreign keys on, rebuilding
``chats`` would drop it, and the drop would cascade to rules, feeds and outbox. Every
chat so far lived in UTC, which the server default keeps.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.add_column(
        "chats", sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC")
    )
    op.add_column("chats", sa.Column("quiet", sa.String(40)))
