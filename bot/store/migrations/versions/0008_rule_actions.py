"""Per-rule mute and forum topic: ``rules.muted_until`` (the "Mute this rule for a day"
button) and ``rules.thread_id`` (the Telegram forum topic a rule's alerts go to).

Plain ADD COLUMNs, no table rebuild: on SQLite with foreign keys on, rebuilding
``rules`` would drop it first.

Revision ID: 0008
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0004"


def upgrade() -> None:
    op.add_column("rules", sa.Column("muted_until", sa.DateTime(timezone=True)))
    op.add_column("rules", sa.Column("thread_id", sa.String(100)))
