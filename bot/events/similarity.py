"""How strongly two stories look like reports of one event. Pure functions.

The score of a pair is the cosine of their TF-IDF vectors (folded stems of title and lead,
weighed by how few stories of the window use each stem), plus a little for each number
and each name they share (these carry an event across languages, where the words differ),
minus a little for each day between them. A pair whose headlines both hold numbers and
share none is never the same event: "Merz fails in first round" and "Merz elected in
second round" are two events of one morning.

The weights were set on the labelled set in ``benchmarks/clusters_eval.json``
(``python benchmarks/clusters.py`` shows the scores they give).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from bot.events.features import EventFeatures


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
    per_name: float = 0.05
    max_names: int = 4
    per_day: float = 0.05


DEFAULT_WEIGHTS = Weights()


def conflicting(a: EventFeatures, b: EventFeatures) -> bool:
    """True when both headlines hold numbers and share none: two events, however alike."""
    return bool(a.title_numbers and b.title_numbers and not a.title_numbers & b.title_numbers)


def cosine(a: dict[str, int], b: dict[str, int], idf: Callable[[str], float]) -> float:
    """Cosine of two term-count mappings weighed by ``idf`` (log-scaled counts)."""
    va = {term: (1.0 + math.log(count)) * idf(term) for term, count in a.items()}
    vb = {term: (1.0 + math.log(count)) * idf(term) for term, count in b.items()}
    norm = math.sqrt(sum(x * x for x in va.values())) * math.sqrt(sum(x * x for x in vb.values()))
    if not norm:
        return 0.0
    small, large = (va, vb) if len(va) <= len(vb) else (vb, va)
    return sum(weight * large.get(term, 0.0) for term, weight in small.items()) / norm


def score(
    a: EventFeatures,
    b: EventFeatures,
    hours_apart: float,
    idf: Callable[[str], float],
    weights: Weights = DEFAULT_WEIGHTS,
) -> float:
    """How much two stories look like one event (see the module docstring).

    Args:
        a: One story's features.
        b: The other's.
        hours_apart: Time between the two stories.
        idf: Weight of a stem in the current window.
        weights: The score's weights.

    Returns:
        The score; compare it with ``weights.threshold``.
    """
    shared_numbers = min(len(a.numbers & b.numbers), weights.max_numbers)
    shared_names = min(len(a.names & b.names), weights.max_names)
    return (
        cosine(a.terms, b.terms, idf)
        + weights.per_number * shared_numbers
        + weights.per_name * shared_names
        - weights.per_day * abs(hours_apart) / 24.0
    )
