"""Two things a chat reads in its own language:

- ``topics``: the name of each Telegram forum topic a chat's rules send to, so ``rules``
  says topic “Belarus” rather than a number. Keyed by the chat and the topic's thread id,
  as ``rules.thread_id`` names it, so a renamed topic is one row to update.
- ``feeds.last_error_text``: the feed's last error as a message id and its fields (JSON),
  so ``status`` words it in each chat's language; ``last_error`` keeps the English text.
  NULL (every error recorded before this) shows ``last_error`` as it is.

A new table and a plain ADD COLUMN; nothing existing changes.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "topics",
        sa.Column("chat_pk", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_pk"], ["chats.id"], name="fk_topics_chat_pk_chats", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("chat_pk", "thread_id", name="pk_topics"),
    )
    op.add_column("feeds", sa.Column("last_error_text", sa.JSON()))
