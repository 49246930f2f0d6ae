"""Feed claims held by a named worker until a short lease runs out, and a count of a
sent alert's edit attempts.

A feed's claim used to be its ``next_poll_at`` pushed past a long lease, which could
not tell a claim from a schedule: a restart had to wait the lease out. A claim of its
own (``claimed_by``, ``claimed_until``) can be released at start on SQLite and kept
alive by a heartbeat on PostgreSQL. Plain ADD COLUMNs, no table rebuild (see 0002).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("feeds", sa.Column("claimed_by", sa.String(100)))
    op.add_column("feeds", sa.Column("claimed_until", TS))
    op.add_column(
        "outbox", sa.Column("edit_attempts", sa.Integer, nullable=False, server_default="0")
    )
