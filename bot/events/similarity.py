"""How strongly two stories look like reports of one event. Pure functions.

The score of a pair is the cosine of their TF-IDF vectors (folded stems of title and lead,
weighed by how few stories of the window use each stem), plus a little for each number
and each name they share (these carry an event across languages, where the words differ),
minus a little for each day between them.

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
from collections.abc import Callable
from dataclasses import dataclass

from bot.events.features import EventFeatures, Terms


@dataclass(frozen=True, slots=True)
class Weights:
    """What a pair needs to count as one event.

    Attributes:
        threshold: The score a pair must reach.
        per_number: Added per number the pair shares, up to ``max_numbers`` of them.
        per_name: Added per name the pair shares, up to ``max_names`` of them.
        per_day: Taken off per day between the two stories' times.
    """

    threshold: float = 0.40
    per_number: float = 0.08
    max_numbers: int = 3
    per_name: float = 0.08
    max_names: int = 4
    per_day: float = 0.10


DEFAULT_WEIGHTS = Weights()


def conflicting(a: EventFeatures, b: EventFeatures) -> bool:
    """True when the headlines name two events, however alike the stories (see above)."""
    if a.title_ordinals and b.title_ordinals and not a.title_ordinals & b.title_ordinals:
        return True
    return bool(
        a.title_numbers
        and b.title_numbers
        and not a.title_numbers & b.numbers
        and not b.title_numbers & a.numbers
    )


def weigh(terms: Terms, idf: Callable[[str], float]) -> dict[str, float]:
    """A story's TF-IDF vector, of length one: log-scaled counts times ``idf``."""
    vector = {term: (1.0 + math.log(count)) * idf(term) for term, count in terms.items()}
    norm = math.sqrt(sum(x * x for x in vector.values()))
    return {term: x / norm for term, x in vector.items()} if norm else {}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """Cosine of two vectors made by :func:`weigh`."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return sum(weight * large.get(term, 0.0) for term, weight in small.items())


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
    shared_numbers = min(len(a.numbers & b.numbers), weights.max_numbers)
    shared_names = min(len(a.names & b.names), weights.max_names)
    return (
        cosine(*vectors)
        + weights.per_number * shared_numbers
        + weights.per_name * shared_names
        - weights.per_day * abs(hours_apart) / 24.0
    )
