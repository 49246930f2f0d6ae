"""A hash of each feed's last document, so that a feed served again byte for byte (by a
server that answers no conditional GET) is known unchanged without parsing it.

A plain ADD COLUMN, no table rebuild (see 0002).

Revision ID: 0005
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0007"


def upgrade() -> None:
    op.add_column("feeds", sa.Column("body_hash", sa.String(64)))
