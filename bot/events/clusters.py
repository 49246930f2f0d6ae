"""Event clusters kept in the database: what the pipeline calls for each new story.

``EventClusters.assign_many`` takes a poll's new stories (already stored, so they have
ids), and for each one decides the cluster it joins (an earlier story's, when it reports
the same event within the window) or starts. Decisions are taken in turn across every
process and replica (see :mod:`bot.store.clusters`), each after reading what the others
decided, and are stored with the features they were based on; a restarted process
rebuilds its window from those rows, so it carries on with the same clusters. The window
in memory holds only the index (see :mod:`bot.events.index`); the features of the peers a
story is scored against are read back from those rows, the most recently used kept.

The pipeline places a poll's stories inside the transaction that records them and their
alerts (``conn``), so an alert is keyed by its event from the start and nothing is
recorded without its cluster. Should that transaction roll back, the decisions it held
are forgotten: the next call reads the window again from the database.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection

from bot.events.features import EventFeatures, extract
from bot.events.index import Assignment, EventIndex, FeatureSource, Member
from bot.events.similarity import DEFAULT_WEIGHTS, Weights
from bot.rules.analysis import Analyzer, get_analyzer
from bot.store.clusters import ClusterStore, ClusterTurn, Decision

# The features of this many recently used stories are kept (about 2 KB each): a story's
# peers are mostly the recent stories of its topic, scored again by each new report.
RECENT = 1000
# The window is read back on start in batches of this many rows, not all at once.
CATCH_UP_ROWS = 1000


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StoredFeatures:
    """The features of the window's stories, read from their stored assignments as the
    decisions need them; the most recently used kept in memory."""

    def __init__(self, analyzer: Analyzer, recent: int) -> None:
        """Creates an empty cache.

        Args:
            analyzer: Reads the clues again of a story stored by another version.
            recent: How many stories' features to keep.
        """
        self._analyzer = analyzer
        self._size = recent
        self._recent: OrderedDict[int, EventFeatures] = OrderedDict()

    def keep(self, story_id: int, features: EventFeatures) -> None:
        """Remembers a story's features (one just decided, read or filed)."""
        self._recent[story_id] = features
        self._recent.move_to_end(story_id)
        while len(self._recent) > self._size:
            self._recent.popitem(last=False)

    def clear(self) -> None:
        """Forgets everything kept (the window is read again)."""
        self._recent.clear()

    def source(self, turn: ClusterTurn, *, remember: bool = True) -> FeatureSource:
        """What the index reads features from during ``turn``.

        Args:
            turn: The turn whose connection reads the stored features.
            remember: Keep what is read (not for the stories leaving the window).
        """

        def read(story_ids: Sequence[int]) -> Mapping[int, EventFeatures]:
            found = {}
            missing = []
            for story_id in story_ids:
                got = self._recent.get(story_id)
                if got is None:
                    missing.append(story_id)
                else:
                    self._recent.move_to_end(story_id)
                    found[story_id] = got
            for story_id, got in self.read(turn, missing).items():
                found[story_id] = got
                if remember:
                    self.keep(story_id, got)
            return found

        return read

    def read(self, turn: ClusterTurn, story_ids: Sequence[int]) -> dict[int, EventFeatures]:
        """The stored features of these stories, in one statement."""
        return self.parse(turn, turn.features_of(story_ids))

    def parse(
        self, turn: ClusterTurn, stored: Mapping[int, dict[str, Any]]
    ) -> dict[int, EventFeatures]:
        """Stored features, by story id. Clues stored by another version of the
        extraction are read again from the story itself, so an upgrade neither forgets
        the window nor compares unlike clues."""
        found = {}
        for story_id, data in stored.items():
            got = EventFeatures.from_json(data)
            if got is not None:
                found[story_id] = got
        outdated = [story_id for story_id in stored if story_id not in found]
        for story_id, (title, body) in turn.texts(outdated).items():
            found[story_id] = extract(title, body, self._analyzer)
        return found


@dataclass(frozen=True, slots=True)
class Report:
    """A stored story to place in a cluster.

    Attributes:
        story_id: Its id in ``stories``.
        title: Its headline.
        text: Its fullest text (only the lead is read).
        at: When it was published, else when it was first seen (timezone-aware).
        fingerprint: Its link (or, without one, title) fingerprint: a copy of a placed
            story joins that story's cluster whatever its text.
    """

    story_id: int
    title: str
    text: str
    at: datetime
    fingerprint: str | None = None


class EventClusters:
    """Places new stories in event clusters shared by every replica."""

    def __init__(
        self,
        store: ClusterStore,
        window: timedelta,
        *,
        language: str = "english",
        weights: Weights = DEFAULT_WEIGHTS,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """Creates the service; the window is read from the database at first use.

        Args:
            store: Where clusters are kept.
            window: How far apart two reports of one event may be (``clusters.window``).
            language: The stemmer language of the rules (``rules.language``).
            weights: The scoring weights.
            clock: The current time (tests set it).
        """
        self._store = store
        self._window = window
        self._weights = weights
        self._analyzer = get_analyzer(language)
        self._clock = clock
        self._lock = threading.Lock()
        self._index = EventIndex(window, weights)
        self._features = StoredFeatures(self._analyzer, RECENT)
        self._last_row = 0
        # Set when a caller's transaction holding decisions rolled back. A flag, not a
        # reset: the rollback may run while another thread holds the lock, waiting for
        # the database lock that this rollback is about to release.
        self._stale = False

    def assign(self, story_id: int, title: str, text: str, at: datetime) -> Assignment:
        """Places one stored story; see :meth:`assign_many`."""
        return self.assign_many([Report(story_id, title, text, at)])[0]

    def assign_many(
        self, reports: Sequence[Report], *, conn: Connection | None = None
    ) -> list[Assignment]:
        """Places stored stories in clusters, in the given order, and stores the decisions.

        A story placed before keeps its stored cluster, so calling again is harmless.

        Args:
            reports: The stories, oldest first.
            conn: The caller's connection, in the transaction that stored the stories;
                the decisions commit (or roll back) with it. None: a transaction of
                its own.

        Returns:
            One assignment per story, in the same order.
        """
        if not reports:
            return []
        features = [extract(r.title, r.text, self._analyzer) for r in reports]
        with self._lock:
            if conn is not None:
                event.listen(conn, "rollback", self._forget, once=True)
            try:
                with self._store.turn(conn) as turn:
                    return self._decide_all(turn, reports, features)
            except BaseException:
                self._forget()
                raise

    def members(self, cluster_id: int) -> list[int]:
        """The stories of a cluster, in the order they joined it."""
        return self._store.members(cluster_id)

    def cluster_of(self, story_id: int) -> int | None:
        """The stored cluster of a story, or None when it was never placed."""
        return self._store.cluster_of(story_id)

    def _forget(self, *_: object) -> None:
        """The index may hold decisions a rollback undid: read them all again."""
        self._stale = True

    def _decide_all(
        self, turn: ClusterTurn, reports: Sequence[Report], features: Sequence[EventFeatures]
    ) -> list[Assignment]:
        now = self._clock()
        if self._stale:  # checked under the database lock, after any rollback's end
            self._index = EventIndex(self._window, self._weights)
            self._features.clear()
            self._last_row = 0
            self._stale = False
        self._index.expire(now, self._features.source(turn, remember=False))
        self._catch_up(turn, now)
        # Decided in this call, not stored yet: peers of the stories after them.
        pending: dict[int, EventFeatures] = {}
        stored_source = self._features.source(turn)

        def source(story_ids: Sequence[int]) -> Mapping[int, EventFeatures]:
            found = {i: pending[i] for i in story_ids if i in pending}
            found.update(stored_source([i for i in story_ids if i not in pending]))
            return found

        stored = turn.clusters_of([report.story_id for report in reports])
        # Fingerprint → its first placed story (then also those placed in this call).
        firsts = turn.copies_of([r.fingerprint for r in reports if r.fingerprint])
        decided, decisions = [], []
        for report, found in zip(reports, features, strict=True):
            if report.story_id in stored:
                decided.append(Assignment(report.story_id, stored[report.story_id]))
                continue
            # A feed may date a story in the future; it cannot be newer than now.
            at = min(report.at, now)
            copy = report.fingerprint and firsts.get(report.fingerprint)
            if copy:
                assignment = Assignment(report.story_id, copy[1], matched_id=copy[0])
            else:
                assignment = self._index.decide(report.story_id, found, at, source)
            if report.fingerprint:
                firsts.setdefault(report.fingerprint, (report.story_id, assignment.cluster_id))
            decisions.append(
                Decision(
                    report.story_id, assignment.cluster_id, at, found.to_json(), assignment.score
                )
            )
            self._index.add(Member(report.story_id, assignment.cluster_id, at, found))
            pending[report.story_id] = found
            self._features.keep(report.story_id, found)
            decided.append(assignment)
        if decisions:  # one statement, while every replica waits for the lock
            self._last_row = turn.record(decisions)
        return decided

    def _catch_up(self, turn: ClusterTurn, now: datetime) -> None:
        """Files the decisions stored since this process last looked (its own on restart,
        other replicas' always)."""
        while True:
            rows = turn.rows_after(self._last_row, now - self._window, CATCH_UP_ROWS)
            read = self._features.parse(turn, {row.story_id: row.features for row in rows})
            for row in rows:
                self._last_row = row.row_id
                found = read.get(row.story_id)
                if found is not None:
                    self._index.add(Member(row.story_id, row.cluster_id, row.at, found))
            if len(rows) < CATCH_UP_ROWS:
                return
