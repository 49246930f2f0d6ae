"""Alerts keyed by news event: how much text each alert's summary was written from.

With event clustering on, ``outbox.fingerprint`` holds the key of the alert's event: the
fingerprint of the event's first story, the same for every report of it. So the unique
key (chat, fingerprint) gives one alert per event per chat, and alerts queued before this
revision (keyed by their story's fingerprint) stay the alerts of their stories' events:
the column and its constraint stay as they are.
``summary_chars`` lets a fuller report of the event replace a pending alert's summary.

A plain ADD COLUMN (no table rebuild): on SQLite with foreign keys on, rebuilding
``outbox`` is needless risk for one number.

Revision ID: 0007
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0009"


def upgrade() -> None:
    op.add_column(
        "outbox", sa.Column("summary_chars", sa.Integer, nullable=False, server_default="0")
    )
