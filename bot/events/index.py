"""The stories of the window, indexed so a new story meets only its likely peers.

Each story is filed under its rarer clues (stems, numbers, names). A new story looks up
its own clues and scores only the stories that share at least two of them; clues carried
by a large part of the window ("president", "said") are not looked up at all. So the
cost of a story grows with the handful of stories about its topic, not with the window.

Decisions are precision first: a story joins the cluster of its best-scoring peer only if
the score reaches the threshold and no member of that cluster conflicts with it (see
:func:`bot.events.similarity.conflicting`); otherwise it starts a cluster of its own.

The index keeps of each story only what finding peers and weighing clues take: its place
in the postings (ids in arrays, four bytes each), its cluster and time, and the headline
numbers and ordinals the conflict rule reads. The stems, numbers and names of the few
peers a new story is scored against are read from a :data:`FeatureSource` (the database,
where every decision is stored with them), as are those of the stories leaving the window.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TypeAlias, TypeVar

from bot.events.features import EventFeatures
from bot.events.similarity import (
    DEFAULT_WEIGHTS,
    Weights,
    clues,
    conflicting,
    other_languages,
    score,
    score_across,
    weigh,
)

# A new story scores at most this many peers (those sharing the most clues).
MAX_CANDIDATES = 30
# Clues carried by more than this share of the window are too common to look up...
COMMON_SHARE = 0.05
# ...unless the window is small, when every clue below this count is looked up.
COMMON_FLOOR = 50

# The features of stories of the window, by id (those it has; the rest are skipped).
FeatureSource = Callable[[Sequence[int]], Mapping[int, EventFeatures]]


@dataclass(frozen=True, slots=True)
class Member:
    """A story of the window and the cluster it belongs to."""

    story_id: int
    cluster_id: int
    at: datetime
    features: EventFeatures


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where a new story goes.

    Attributes:
        story_id: The new story.
        cluster_id: Its cluster: the id of the cluster's first story (its own id when it
            starts one).
        matched_id: The member whose report it matched best, or None for a new cluster.
        score: That match's score, or None.
    """

    story_id: int
    cluster_id: int
    matched_id: int | None = None
    score: float | None = None

    @property
    def joined(self) -> bool:
        """True when the story joined an earlier story's cluster."""
        return self.matched_id is not None


class _Kept:
    """What the index keeps of a story: its cluster, its time, and what the conflict rule
    reads of it (its numbers only when its headline has some: they are read only then).
    Those are kept as tuples (one of two strings takes 56 bytes, a frozenset 216) and
    given back as sets, for the few stories of the clusters a new story may join."""

    __slots__ = ("_numbers", "_title_numbers", "_title_ordinals", "at", "cluster_id")

    def __init__(self, member: Member) -> None:
        features = member.features
        self.cluster_id = member.cluster_id
        self.at = member.at
        self._title_numbers = tuple(features.title_numbers)
        self._title_ordinals = tuple(features.title_ordinals)
        self._numbers = tuple(features.numbers) if features.title_numbers else ()

    @property
    def title_numbers(self) -> frozenset[str]:
        return frozenset(self._title_numbers)

    @property
    def title_ordinals(self) -> frozenset[str]:
        return frozenset(self._title_ordinals)

    @property
    def numbers(self) -> frozenset[str]:
        return frozenset(self._numbers)


class _Memo(dict[str, float]):
    """A stem's weight, worked out once per decision (candidates share many stems)."""

    def __init__(self, idf: Callable[[str], float]) -> None:
        super().__init__()
        self._idf = idf

    def __call__(self, term: str) -> float:
        found = self.get(term)
        if found is None:
            found = self[term] = self._idf(term)
        return found


def _pair(
    mine: dict[str, float], theirs: dict[str, int], idf: Callable[[str], float]
) -> tuple[dict[str, float], dict[str, float]]:
    return mine, weigh(theirs, idf)


# The stories filed under a clue: one story's id alone (the int the members are keyed
# by, so it takes no room of its own: most clues of a story are rare) or an array of
# 32-bit ids (story ids are a 32-bit column), 4 bytes each.
_Posting: TypeAlias = "int | array[int]"
_K = TypeVar("_K", str, int)
# The kinds of clue, each filed in postings of its own: stems, numbers, names.
_KINDS = ("t", "n", "p")


def _keys(features: EventFeatures) -> list[tuple[str, str]]:
    """A story's clues: (kind, stem, number or name)."""
    return (
        [("t", term) for term in features.terms]
        + [("n", number) for number in features.numbers]
        + [("p", name) for name in features.names]
    )


def _count(posting: _Posting | None) -> int:
    if posting is None:
        return 0
    return 1 if isinstance(posting, int) else len(posting)


def _ids(posting: _Posting | None) -> Sequence[int]:
    if posting is None:
        return ()
    return (posting,) if isinstance(posting, int) else posting


def _file(postings: dict[_K, _Posting], key: _K, story_id: int) -> None:
    posting = postings.get(key)
    if posting is None:
        postings[key] = story_id
    elif isinstance(posting, int):
        postings[key] = array("i", (posting, story_id))
    else:
        posting.append(story_id)


def _unfile(postings: dict[_K, _Posting], key: _K, story_id: int) -> None:
    posting = postings.get(key)
    if isinstance(posting, int):
        if posting == story_id:
            del postings[key]
    elif posting is not None and story_id in posting:
        posting.remove(story_id)  # among the first: the oldest go first
        if len(posting) == 1:
            postings[key] = posting[0]


class EventIndex:
    """The window's stories, their clusters, and the look-up of a new story's peers."""

    def __init__(self, window: timedelta, weights: Weights = DEFAULT_WEIGHTS) -> None:
        """Creates an empty index.

        Args:
            window: How far apart in time two reports of one event may be.
            weights: The scoring weights.
        """
        self.window = window
        self.weights = weights
        self._members: dict[int, _Kept] = {}
        # Per kind of clue, keyed by the clue itself (the stem strings of the analyzer's
        # cache, no copy). A story is filed once (see add), so no posting repeats an id.
        self._postings: dict[str, dict[str, _Posting]] = {kind: {} for kind in _KINDS}
        self._terms = self._postings["t"]
        # The stories of each cluster, filed as those of a clue (most have one story).
        self._clusters: dict[int, _Posting] = {}
        self._expiry: list[tuple[datetime, int]] = []

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, story_id: object) -> bool:
        return story_id in self._members

    def add(self, member: Member) -> None:
        """Files a story (already assigned to its cluster) in the window."""
        if member.story_id in self._members:
            return
        kept = self._members[member.story_id] = _Kept(member)
        for kind, key in _keys(member.features):
            _file(self._postings[kind], key, member.story_id)
        _file(self._clusters, member.cluster_id, member.story_id)
        heapq.heappush(self._expiry, (kept.at, member.story_id))

    def expire(self, now: datetime, source: FeatureSource) -> int:
        """Drops the stories older than the window before ``now``; returns how many.

        Args:
            now: The current time.
            source: Gives the features of the stories leaving (their clues, to take
                them out of the postings).
        """
        limit = now - self.window
        leaving: list[tuple[int, _Kept]] = []
        while self._expiry and self._expiry[0][0] < limit:
            _, story_id = heapq.heappop(self._expiry)
            kept = self._members.pop(story_id, None)
            if kept is not None:
                leaving.append((story_id, kept))
        if not leaving:
            return 0
        found = source([story_id for story_id, _ in leaving])
        lost = set()
        for story_id, kept in leaving:
            features = found.get(story_id)
            if features is None:  # its story was deleted: looked for everywhere below
                lost.add(story_id)
            else:
                for kind, key in _keys(features):
                    _unfile(self._postings[kind], key, story_id)
            _unfile(self._clusters, kept.cluster_id, story_id)
        if lost:
            for postings in self._postings.values():
                for key, posting in list(postings.items()):
                    for story_id in [i for i in _ids(posting) if i in lost]:
                        _unfile(postings, key, story_id)
        return len(leaving)

    def idf(self, term: str) -> float:
        """Weight of a stem: higher the fewer stories of the window use it."""
        posting = self._terms.get(term)  # not via weight or _count: hot
        frequency = 0 if posting is None else 1 if isinstance(posting, int) else len(posting)
        return math.log((len(self._members) + 1) / (frequency + 1)) + 1.0

    def weight(self, key: str) -> float:
        """Weight of a clue as filed (``t:`` stem, ``n:`` number, ``p:`` name): higher
        the fewer stories of the window carry it."""
        kind, _, clue = key.partition(":")
        frequency = _count(self._postings[kind].get(clue))
        return math.log((len(self._members) + 1) / (frequency + 1)) + 1.0

    def candidates(self, features: EventFeatures) -> list[int]:
        """The stories sharing at least two uncommon clues, most shared first."""
        common = max(COMMON_FLOOR, int(len(self._members) * COMMON_SHARE))
        hits: Counter[int] = Counter()
        for kind, key in _keys(features):
            posting = self._postings[kind].get(key)
            if isinstance(posting, int):
                hits[posting] += 1
            elif posting is not None and len(posting) <= common:
                hits.update(posting)
        ranked = [story_id for story_id, count in hits.most_common() if count >= 2]
        return ranked[:MAX_CANDIDATES]

    def decide(
        self, story_id: int, features: EventFeatures, at: datetime, source: FeatureSource
    ) -> Assignment:
        """Where a new story goes; the index is not changed (see :meth:`add`).

        Args:
            story_id: The new story's id.
            features: Its features.
            at: Its time (published, else first seen).
            source: Gives the features of the peers it is scored against (at most
                ``MAX_CANDIDATES``, in one call).

        Returns:
            The assignment: the best cluster it may join, or a new one.
        """
        best: dict[int, tuple[float, int]] = {}
        idf = _Memo(self.idf)
        vector = weigh(features.terms, idf)
        clue_idf = _Memo(self.weight)  # for peers in another language: a few names
        clue_vector = weigh(clues(features), clue_idf)  # and numbers
        hours = self.window.total_seconds() / 3600.0
        peers = []
        for peer_id in self.candidates(features):
            kept = self._members[peer_id]
            apart = (at - kept.at).total_seconds() / 3600.0
            if abs(apart) <= hours:
                peers.append((peer_id, kept.cluster_id, apart))
        found = source([peer_id for peer_id, _, _ in peers]) if peers else {}
        for peer_id, cluster_id, apart in peers:
            peer = found.get(peer_id)
            if peer is None:  # its story was deleted
                continue
            vectors = (vector, weigh(peer.terms, idf))
            value = score(features, peer, apart, vectors, self.weights)
            if value < self.weights.threshold and other_languages(features, peer):
                clue_vectors = partial(_pair, clue_vector, clues(peer), clue_idf)
                value = score_across(features, peer, apart, clue_vectors, self.weights)
            if value >= self.weights.threshold and value > best.get(cluster_id, (-1.0, 0))[0]:
                best[cluster_id] = (value, peer_id)
        for cluster_id, (value, peer_id) in sorted(best.items(), key=lambda item: -item[1][0]):
            members = _ids(self._clusters.get(cluster_id))
            if not any(conflicting(features, self._members[m]) for m in members):
                return Assignment(story_id, cluster_id, peer_id, value)
        return Assignment(story_id, story_id)
