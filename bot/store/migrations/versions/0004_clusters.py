"""Event clusters: which cluster each story joined, and the features it was compared on.

A new table only; nothing existing changes.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "story_clusters",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("story_id", sa.Integer, nullable=False),
        sa.Column("cluster_id", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("features", sa.JSON, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_story_clusters"),
        sa.ForeignKeyConstraint(
            ["story_id"],
            ["stories.id"],
            name="fk_story_clusters_story_id_stories",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("story_id", name="uq_story_clusters_story_id"),
    )
    op.create_index("ix_story_clusters_cluster_id", "story_clusters", ["cluster_id"])
    op.create_index("ix_story_clusters_at", "story_clusters", ["at"])
