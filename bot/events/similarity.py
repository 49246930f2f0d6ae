"""How strongly two stories look like reports of one event. Pure functions.

The score of a pair is the cosine of their TF-IDF vectors (folded stems of title and lead,
weighed by how few stories of the window use each stem), plus a little for each number
and each name they share (these carry an event across languages, where the words differ),
minus a little for each day between them.

Two stories in two languages share almost no words, so the cosine of their words says
nothing of them: when it falls short, they are scored again on the cosine of their names
and numbers instead (:func:`score_across`). Names and numbers of one topic come back for
days, when reports of one event in other languages come within hours, so there time
counts ten times as much.

Two stories whose headlines name different rounds, votes or stages ("Merz fails in first
round", "Merz elected in second round") are never one event; nor are two whose headlines
give numbers, none shared, none found in the other story's lead either ("52 freed" and
"14 freed"). Headline numbers that the other story's lead repeats are only a different
choice of figure: "over 150 dead" and "7.7 quake" report one earthquake.

The weights were set on the labelled set in ``benchmarks/clusters_eval.json``
(``python benchmarks/clusters.py`` shows the scores they give).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from bot.events.features import EventFeatures, Terms


@dataclass(frozen=True, slots=True)
class Weights:
    """What a pair needs to count as one event.

    Attributes:
        threshold: The score a pair must reach.
        per_number: Added per number the pair shares, up to ``max_numbers`` of them.
        per_name: Added per name the pair shares, up to ``max_names`` of them.
        per_day: Taken off per day between the two stories' times.
        per_day_other_language: The same, for two stories scored on their names and
            numbers (:func:`score_across`).
    """

    threshold: float = 0.40
    per_number: float = 0.08
    max_numbers: int = 3
    per_name: float = 0.08
    max_names: int = 4
    per_day: float = 0.10
    per_day_other_language: float = 1.00


DEFAULT_WEIGHTS = Weights()


class Headline(Protocol):
    """What :func:`conflicting` reads of a story (its features, or what the window keeps)."""

    @property
    def title_numbers(self) -> frozenset[str]: ...

    @property
    def title_ordinals(self) -> frozenset[str]: ...

    @property
    def numbers(self) -> frozenset[str]: ...


def conflicting(a: Headline, b: Headline) -> bool:
    """True when the headlines name two events, however alike the stories (see above)."""
    if a.title_ordinals and b.title_ordinals and not a.title_ordinals & b.title_ordinals:
        return True
    return bool(
        a.title_numbers
        and b.title_numbers
        and not a.title_numbers & b.numbers
        and not b.title_numbers & a.numbers
    )


def weigh(terms: Terms | Mapping[str, int], idf: Callable[[str], float]) -> dict[str, float]:
    """A story's TF-IDF vector, of length one: log-scaled counts times ``idf``."""
    vector = {term: (1.0 + math.log(count)) * idf(term) for term, count in terms.items()}
    norm = math.sqrt(sum(x * x for x in vector.values()))
    return {term: x / norm for term, x in vector.items()} if norm else {}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """Cosine of two vectors made by :func:`weigh`."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return sum(weight * large.get(term, 0.0) for term, weight in small.items())


def clues(features: EventFeatures) -> dict[str, int]:
    """What a story shares with a story in another language: its names and numbers,
    keyed as the index files them."""
    found = {f"p:{name}": 1 for name in features.names}
    found.update((f"n:{number}", 1) for number in features.numbers)
    return found


def other_languages(a: EventFeatures, b: EventFeatures) -> bool:
    """True when two stories are known to be written in two languages."""
    return a.language is not None and b.language is not None and a.language != b.language


def score(
    a: EventFeatures,
    b: EventFeatures,
    hours_apart: float,
    vectors: tuple[dict[str, float], dict[str, float]],
    weights: Weights = DEFAULT_WEIGHTS,
) -> float:
    """How much two stories look like one event (see the module docstring).

    Args:
        a: One story's features.
        b: The other's.
        hours_apart: Time between the two stories.
        vectors: Their term vectors (:func:`weigh`) in the current window.
        weights: The score's weights.

    Returns:
        The score; compare it with ``weights.threshold``.
    """
    days = abs(hours_apart) / 24.0
    return cosine(*vectors) - weights.per_day * days + _shared(a, b, weights)


def score_across(
    a: EventFeatures,
    b: EventFeatures,
    hours_apart: float,
    clue_vectors: Callable[[], tuple[dict[str, float], dict[str, float]]],
    weights: Weights = DEFAULT_WEIGHTS,
) -> float:
    """How much two stories in two languages look like one event: :func:`score` with
    the cosine of their :func:`clues` for that of their words, and time counting
    ``per_day_other_language``.

    Args:
        a: One story's features.
        b: The other's, in another language (:func:`other_languages`).
        hours_apart: Time between the two stories.
        clue_vectors: Gives the vectors (:func:`weigh`) of their :func:`clues`; not
            called for a pair too far apart to reach the threshold with any cosine.
        weights: The score's weights.

    Returns:
        The score; or, for a pair that cannot reach ``weights.threshold``, a value
        below it.
    """
    rest = _shared(a, b, weights) - weights.per_day_other_language * abs(hours_apart) / 24.0
    if 1.0 + rest < weights.threshold:
        return 1.0 + rest
    return cosine(*clue_vectors()) + rest


def _shared(a: EventFeatures, b: EventFeatures, weights: Weights) -> float:
    """What the numbers and names two stories share add to their score."""
    shared_numbers = min(len(a.numbers & b.numbers), weights.max_numbers)
    shared_names = min(len(a.names & b.names), weights.max_names)
    return weights.per_number * shared_numbers + weights.per_name * shared_names
