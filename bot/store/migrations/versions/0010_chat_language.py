"""A chat's language: the one chosen with ``language``, and the app language of the last
user who wrote there (followed while none is chosen). NULL in both means English.

Plain ADD COLUMNs, as in 0009: rebuilding ``chats`` on SQLite would cascade its drop.

Revision ID: 0010
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0006"


def upgrade() -> None:
    op.add_column("chats", sa.Column("language", sa.String(10)))
    op.add_column("chats", sa.Column("user_language", sa.String(10)))
