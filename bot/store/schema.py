"""Table definitions. Migrations in ``migrations/versions`` create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

UTC_DATETIME = DateTime(timezone=True)

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", String(2048), nullable=False, unique=True),
    Column("name", String(300)),
    Column("title", String(500)),
    Column("interval_s", Integer),
    Column("full_text", Boolean, nullable=False, default=False),
    Column("from_config", Boolean, nullable=False, default=False),
    Column("etag", String(500)),
    Column("last_modified", String(100)),
    Column("initialised", Boolean, nullable=False, default=False),
    Column("error_count", Integer, nullable=False, default=0),
    Column("last_error", Text),
    # The same error as a message id and its fields, worded in each chat's language (0011).
    Column("last_error_text", JSON),
    Column("last_polled_at", UTC_DATETIME),
    Column("last_ok_at", UTC_DATETIME),
    Column("next_poll_at", UTC_DATETIME, nullable=False),
    Column("created_at", UTC_DATETIME, nullable=False),
    # The worker polling the feed now, and until when its claim holds (renewed while
    # it lives); see migration 0003.
    Column("claimed_by", String(100)),
    Column("claimed_until", UTC_DATETIME),
    # SHA-256 of the last document parsed: the same bytes again are not parsed (0005).
    Column("body_hash", String(64)),
)

chats = Table(
    "chats",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(20), nullable=False),
    Column("chat_id", String(100), nullable=False),
    Column("title", String(300)),
    Column("subscribed", Boolean, nullable=False, default=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("inactive_reason", Text),
    Column("muted_until", UTC_DATETIME),
    Column("digest", String(20), nullable=False, default="off"),
    Column("created_at", UTC_DATETIME, nullable=False),
    # Pacing shared by every replica: the chat takes no message before pace_next_at,
    # and a group at most N in the minute that began at pace_window_at.
    Column("pace_next_at", UTC_DATETIME),
    Column("pace_window_at", UTC_DATETIME),
    Column("pace_window_count", Integer, nullable=False, default=0, server_default="0"),
    Column("timezone", String(64), nullable=False, default="UTC", server_default="UTC"),
    Column("quiet", String(40)),  # quiet hours, "22:00-07:00" or "22:00-07:00 hold"
    Column("language", String(10)),  # chosen with the language command ("de"), else NULL
    Column("user_language", String(10)),  # the app language of the last user who wrote
    UniqueConstraint("platform", "chat_id", name="uq_chats_platform_chat"),
)

chat_feeds = Table(
    "chat_feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("chat_pk", Integer, ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTC_DATETIME, nullable=False),
    UniqueConstraint("chat_pk", "feed_id", name="uq_chat_feeds_chat_feed"),
)

rules = Table(
    "rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("chat_pk", Integer, ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
    Column("query", Text, nullable=False),
    Column("created_at", UTC_DATETIME, nullable=False),
    # No alerts for this rule before then ("Mute this rule for a day"); see migration 0008.
    Column("muted_until", UTC_DATETIME),
    # The Telegram forum topic the rule was added in, where its alerts go.
    Column("thread_id", String(100)),
    Index("ix_rules_chat_pk", "chat_pk"),
)

# The names of a chat's Telegram forum topics, as far as the bot has seen them: shown by
# ``rules`` beside each rule's topic. See migration 0011.
topics = Table(
    "topics",
    metadata,
    Column("chat_pk", Integer, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True),
    Column("thread_id", String(100), primary_key=True),
    Column("name", String(128), nullable=False),
)

stories = Table(
    "stories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("uid", String(1024), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("link", Text),
    Column("author", String(500)),
    Column("published", UTC_DATETIME),
    Column("body", Text, nullable=False),
    Column("seen_at", UTC_DATETIME, nullable=False),
    UniqueConstraint("feed_id", "uid", name="uq_stories_feed_uid"),
    Index("ix_stories_seen_at", "seen_at"),
    Index("ix_stories_fingerprint", "fingerprint"),
)

# One row per (chat, fingerprint): the unique key is what makes "one alert per story per
# chat" hold across rules, feeds, restarts and replicas. ``fingerprint`` is the alert's
# key: when clustering is on, that of the first story of its news event (see bot/events
# and migration 0007), else its own story's.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("chat_pk", Integer, ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("rule_id", Integer),
    Column("rule_query", Text, nullable=False),
    Column("terms", JSON, nullable=False),
    Column("spans", JSON, nullable=False),
    Column("summary", Text, nullable=False),
    Column("also_reported_by", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", UTC_DATETIME, nullable=False),
    Column("claimed_by", String(100)),
    Column("claimed_until", UTC_DATETIME),
    Column("last_error", Text),
    Column("message_id", String(100)),
    Column("created_at", UTC_DATETIME, nullable=False),
    Column("sent_at", UTC_DATETIME),
    Column("edit_attempts", Integer, nullable=False, default=0, server_default="0"),
    # Characters of the text the summary was written from: a fuller report of the event
    # replaces the summary while the alert is pending.
    Column("summary_chars", Integer, nullable=False, default=0, server_default="0"),
    UniqueConstraint("chat_pk", "fingerprint", name="uq_outbox_chat_fingerprint"),
    Index("ix_outbox_status_not_before", "status", "not_before"),
)

# The event cluster of each story (see bot/events). cluster_id is the id of the cluster's
# first story; features are what the story was compared on, kept so that a restarted
# process or another replica rebuilds the same window without analysing text again.
story_clusters = Table(
    "story_clusters",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), nullable=False),
    Column("cluster_id", Integer, nullable=False),
    Column("at", UTC_DATETIME, nullable=False),
    Column("features", JSON, nullable=False),
    Column("score", Float),
    Column("created_at", UTC_DATETIME, nullable=False),
    UniqueConstraint("story_id", name="uq_story_clusters_story_id"),
    Index("ix_story_clusters_cluster_id", "cluster_id"),
    Index("ix_story_clusters_at", "at"),
)

# Work that one replica at a time does (Telegram's getUpdates): who holds it, and until
# when its lease holds (renewed while the holder lives). See Store.take_lease.
leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("until", UTC_DATETIME, nullable=False),
)

# A platform's message rate shared by every replica: when its next message may go out.
# See Store.reserve_send_slot.
send_pacing = Table(
    "send_pacing",
    metadata,
    Column("platform", String(50), primary_key=True),
    Column("next_at", UTC_DATETIME, nullable=False),
)
