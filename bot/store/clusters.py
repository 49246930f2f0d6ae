"""Event clusters in the database: the one record every process and replica reads.

A story's cluster is decided once, under a lock that every replica takes
(``pg_advisory_xact_lock`` on PostgreSQL, the database's write lock on SQLite), by a
process that first reads every assignment made since it last looked. So two replicas
never decide with different windows, and a decision, once stored, is what everyone sees
from then on: nothing is re-decided on restart.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, text, union_all
from sqlalchemy.engine import Connection

from bot.store.schema import stories, story_clusters

# Any constant shared by all replicas: the key of the advisory lock on cluster decisions.
_LOCK_KEY = 0x6E657773  # "news"


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ClusterRow:
    """One story's stored assignment."""

    row_id: int
    story_id: int
    cluster_id: int
    at: datetime
    features: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Decision:
    """One story's assignment, to store."""

    story_id: int
    cluster_id: int
    at: datetime
    features: dict[str, Any]
    score: float | None


def _row(row: Any) -> ClusterRow:
    m = row._mapping
    return ClusterRow(m["id"], m["story_id"], m["cluster_id"], _aware(m["at"]), m["features"])


class ClusterTurn:
    """Reads and writes inside one locked transaction (see :meth:`ClusterStore.turn`)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def rows_after(self, row_id: int, since: datetime, limit: int) -> list[ClusterRow]:
        """The first ``limit`` assignments stored after ``row_id`` whose time is ``since``
        or later, in order."""
        rows = self._conn.execute(
            select(story_clusters)
            .where(story_clusters.c.id > row_id, story_clusters.c.at >= since)
            .order_by(story_clusters.c.id)
            .limit(limit)
        )
        return [_row(row) for row in rows]

    def features_of(self, story_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The stored features of these stories, by id (those that have an assignment)."""
        if not story_ids:
            return {}
        rows = self._conn.execute(
            select(story_clusters.c.story_id, story_clusters.c.features).where(
                story_clusters.c.story_id.in_(list(story_ids))
            )
        )
        return {int(row.story_id): row.features for row in rows}

    def texts(self, story_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """(headline, text) of stored stories, by id: what their clues are read from."""
        if not story_ids:
            return {}
        rows = self._conn.execute(
            select(stories.c.id, stories.c.title, stories.c.body).where(stories.c.id.in_(story_ids))
        )
        return {int(row.id): (row.title, row.body) for row in rows}

    def cluster_of(self, story_id: int) -> int | None:
        """The stored cluster of a story, or None when it has none yet."""
        return self.clusters_of([story_id]).get(story_id)

    def clusters_of(self, story_ids: Sequence[int]) -> dict[int, int]:
        """The stored cluster of each of these stories that has one."""
        rows = self._conn.execute(
            select(story_clusters.c.story_id, story_clusters.c.cluster_id).where(
                story_clusters.c.story_id.in_(list(story_ids))
            )
        )
        return {int(row.story_id): int(row.cluster_id) for row in rows}

    def copies_of(self, fingerprints: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(story id, cluster id) of the first placed story with each of these
        fingerprints that has one (the same link, or no link and the same title): a copy
        of it belongs to its event whatever its text or date says, as a copy got no
        alert of its own before clustering either."""
        # One equality per fingerprint, joined by UNION ALL, and the first of each picked
        # here: every part is planned on the fingerprint index whatever the statistics
        # say. PostgreSQL without fresh ones (a cold start fills the tables faster than
        # autovacuum analyses them, and it may be off) planned an IN list as a scan of
        # stories, and ORDER BY … LIMIT 1 as a walk of story_clusters in id order: every
        # story of the window read for each new one, under the lock every replica takes.
        join = story_clusters.join(stories, stories.c.id == story_clusters.c.story_id)
        wanted = list(dict.fromkeys(fingerprints))
        first: dict[str, tuple[int, int, int]] = {}
        for start in range(0, len(wanted), 100):
            parts = [
                select(
                    stories.c.fingerprint,
                    story_clusters.c.id,
                    story_clusters.c.story_id,
                    story_clusters.c.cluster_id,
                )
                .select_from(join)
                .where(stories.c.fingerprint == fingerprint)
                for fingerprint in wanted[start : start + 100]
            ]
            for row in self._conn.execute(union_all(*parts)):
                known = first.get(row.fingerprint)
                if known is None or row.id < known[0]:
                    first[row.fingerprint] = (row.id, row.story_id, row.cluster_id)
        return {key: (int(story), int(cluster)) for key, (_, story, cluster) in first.items()}

    def record(self, decisions: Sequence[Decision]) -> int:
        """Stores the stories' assignments in one statement; returns the last row's id."""
        now = datetime.now(UTC)
        ids = self._conn.execute(
            story_clusters.insert().returning(story_clusters.c.id, sort_by_parameter_order=True),
            [
                {
                    "story_id": d.story_id,
                    "cluster_id": d.cluster_id,
                    "at": d.at,
                    "features": d.features,
                    "score": d.score,
                    "created_at": now,
                }
                for d in decisions
            ],
        ).scalars()
        return max(int(row_id) for row_id in ids)


def _locked(conn: Connection) -> Connection:
    """Takes the lock on cluster decisions for the rest of the connection's transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    else:
        # A write statement, even one that changes nothing, takes SQLite's write lock
        # now rather than at the first insert, after the window was read.
        conn.execute(text("UPDATE story_clusters SET id = id WHERE 0 = 1"))
    return conn


class ClusterStore:
    """Stored event clusters on one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def turn(self, conn: Connection | None = None) -> Iterator[ClusterTurn]:
        """One transaction holding the lock on cluster decisions, for every replica.

        Args:
            conn: A connection in a transaction of the caller's (the one recording the
                stories, so stories, clusters and alerts commit together); the lock is
                then held until that transaction ends. None: a transaction of its own.

        Yields:
            The turn to read and record assignments with; committed on exit when the
            transaction is its own.
        """
        if conn is not None:
            yield ClusterTurn(_locked(conn))
            return
        with self.engine.begin() as own:
            yield ClusterTurn(_locked(own))

    def cluster_of(self, story_id: int) -> int | None:
        """The cluster of a story, or None when it has none."""
        with self.engine.connect() as conn:
            return ClusterTurn(conn).cluster_of(story_id)

    def members(self, cluster_id: int) -> list[int]:
        """The stories of a cluster, in the order they joined it."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(story_clusters.c.story_id)
                .where(story_clusters.c.cluster_id == cluster_id)
                .order_by(story_clusters.c.id)
            )
            return [int(story_id) for story_id in rows.scalars()]
