"""Initial schema: feeds, chats, the chats' feeds and rules, stories, the alert outbox.

Migrations are append-only: change the schema with a new file, never by editing this one.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("name", sa.String(300)),
        sa.Column("title", sa.String(500)),
        sa.Column("interval_s", sa.Integer),
        sa.Column("full_text", sa.Boolean, nullable=False),
        sa.Column("from_config", sa.Boolean, nullable=False),
        sa.Column("etag", sa.String(500)),
        sa.Column("last_modified", sa.String(100)),
        sa.Column("initialised", sa.Boolean, nullable=False),
        sa.Column("error_count", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("last_polled_at", TS),
        sa.Column("last_ok_at", TS),
        sa.Column("next_poll_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feeds"),
        sa.UniqueConstraint("url", name="uq_feeds_url"),
    )
    op.create_table(
        "chats",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("chat_id", sa.String(100), nullable=False),
        sa.Column("title", sa.String(300)),
        sa.Column("subscribed", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("inactive_reason", sa.Text),
        sa.Column("muted_until", TS),
        sa.Column("digest", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chats"),
        sa.UniqueConstraint("platform", "chat_id", name="uq_chats_platform_chat"),
    )
    op.create_table(
        "chat_feeds",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("chat_pk", sa.Integer, nullable=False),
        sa.Column("feed_id", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chat_feeds"),
        sa.ForeignKeyConstraint(
            ["chat_pk"], ["chats.id"], ondelete="CASCADE", name="fk_chat_feeds_chat_pk_chats"
        ),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], ondelete="CASCADE", name="fk_chat_feeds_feed_id_feeds"
        ),
        sa.UniqueConstraint("chat_pk", "feed_id", name="uq_chat_feeds_chat_feed"),
    )
    op.create_table(
        "rules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("chat_pk", sa.Integer, nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rules"),
        sa.ForeignKeyConstraint(
            ["chat_pk"], ["chats.id"], ondelete="CASCADE", name="fk_rules_chat_pk_chats"
        ),
    )
    op.create_index("ix_rules_chat_pk", "rules", ["chat_pk"])
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("feed_id", sa.Integer, nullable=False),
        sa.Column("uid", sa.String(1024), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("link", sa.Text),
        sa.Column("author", sa.String(500)),
        sa.Column("published", TS),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("seen_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stories"),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], ondelete="CASCADE", name="fk_stories_feed_id_feeds"
        ),
        sa.UniqueConstraint("feed_id", "uid", name="uq_stories_feed_uid"),
    )
    op.create_index("ix_stories_seen_at", "stories", ["seen_at"])
    op.create_index("ix_stories_fingerprint", "stories", ["fingerprint"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("chat_pk", sa.Integer, nullable=False),
        sa.Column("story_id", sa.Integer, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.Integer),
        sa.Column("rule_query", sa.Text, nullable=False),
        sa.Column("terms", sa.JSON, nullable=False),
        sa.Column("spans", sa.JSON, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("also_reported_by", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("claimed_by", sa.String(100)),
        sa.Column("claimed_until", TS),
        sa.Column("last_error", sa.Text),
        sa.Column("message_id", sa.String(100)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.ForeignKeyConstraint(
            ["chat_pk"], ["chats.id"], ondelete="CASCADE", name="fk_outbox_chat_pk_chats"
        ),
        sa.ForeignKeyConstraint(
            ["story_id"], ["stories.id"], ondelete="CASCADE", name="fk_outbox_story_id_stories"
        ),
        sa.UniqueConstraint("chat_pk", "fingerprint", name="uq_outbox_chat_fingerprint"),
    )
    op.create_index("ix_outbox_status_not_before", "outbox", ["status", "not_before"])
