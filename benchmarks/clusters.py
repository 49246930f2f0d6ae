"""Event clustering: quality on the labelled set, and cost with 10,000 stories in the window.

Usage::

    .venv/bin/python benchmarks/clusters.py [--data FILE] [--background 10000] [--json out.json]
        [--misses]

Quality: the stories of ``benchmarks/clusters_eval.json`` (real events, each told by
2-6 outlets in their own words, plus near misses: same topic, another event) go through
the clustering in order of publication, with the default 48 h window. Reported:

* pairwise precision and recall: of the story pairs put together, how many report one
  event; of the pairs that report one event, how many were put together;
* the same over pairs written in one language, and over pairs written in two (these
  meet only through shared names and numbers, so they are the hard part);
* B-cubed precision, recall and F1 (per story: how pure and how complete its cluster is);
* every near-miss pair of events that ended up sharing a cluster (should be none);
* with ``--misses``, every pair of one event put apart and every pair of two events put
  together, with each story's language.

Cost: ``--background`` synthetic stories (drawn from the set's vocabulary, so their
stems, numbers and names collide with real ones) are stored as the bot stores them (their
assignments and features in ``story_clusters``, in a SQLite file) and fill the window;
then each labelled story is timed through feature extraction, the decision (reading its
peers' features back from the database, the ``--recent`` most recently used kept in
memory) and filing, one by one (CPU time of the process, so that other jobs on the
machine count less). The window's memory per story is what the index holds (traced by
tracemalloc while it fills, the word caches warmed first), the features kept for recent
stories aside.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine  # noqa: E402

from bot.events import EventFeatures, EventIndex, Member, extract  # noqa: E402
from bot.events.clusters import RECENT, StoredFeatures  # noqa: E402
from bot.rules.analysis import get_analyzer  # noqa: E402
from bot.store.clusters import ClusterStore, ClusterTurn, Decision  # noqa: E402
from bot.store.schema import metadata  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent / "clusters_eval.json"
WINDOW = timedelta(hours=48)


def load(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The stories (each with its ``event``) in order of publication, and the near misses."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    stories = []
    for event in doc["events"]:
        for story in event["stories"]:
            at = datetime.fromisoformat(story["published"].replace("Z", "+00:00"))
            stories.append({**story, "event": event["id"], "at": at})
    stories.sort(key=lambda s: (s["at"], s["id"]))
    return stories, doc["near_misses"]


def cluster(stories: list[dict[str, Any]], window: timedelta = WINDOW) -> dict[str, int]:
    """Runs the clustering over the stories in order; returns story id -> cluster id."""
    analyzer = get_analyzer("english")
    index = EventIndex(window)
    kept: dict[int, EventFeatures] = {}  # the bot reads them from the database

    def source(story_ids: Any) -> dict[int, EventFeatures]:
        return {story_id: kept[story_id] for story_id in story_ids}

    found: dict[str, int] = {}
    for number, story in enumerate(stories, start=1):
        features = extract(story["title"], story["text"], analyzer)
        index.expire(story["at"], source)
        assignment = index.decide(number, features, story["at"], source)
        index.add(Member(number, assignment.cluster_id, story["at"], features))
        kept[number] = features
        found[story["id"]] = assignment.cluster_id
    return found


def pairwise(truth: dict[str, str], found: dict[str, int], pairs: list[tuple[str, str]]) -> dict:
    """Pairwise precision and recall over the given story pairs."""
    together = [(a, b) for a, b in pairs if found[a] == found[b]]
    same = [(a, b) for a, b in pairs if truth[a] == truth[b]]
    hits = sum(1 for a, b in together if truth[a] == truth[b])
    precision = hits / len(together) if together else 1.0
    recall = hits / len(same) if same else 1.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "pairs_same_event": len(same),
        "pairs_put_together": len(together),
    }


def bcubed(truth: dict[str, str], found: dict[str, int]) -> dict[str, float]:
    """B-cubed precision, recall and F1."""
    by_event: dict[str, set[str]] = defaultdict(set)
    by_cluster: dict[int, set[str]] = defaultdict(set)
    for story, event in truth.items():
        by_event[event].add(story)
        by_cluster[found[story]].add(story)
    precision = recall = 0.0
    for story in truth:
        event, mine = by_event[truth[story]], by_cluster[found[story]]
        both = len(event & mine)
        precision += both / len(mine)
        recall += both / len(event)
    precision /= len(truth)
    recall /= len(truth)
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall)}


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def quality(path: Path) -> dict[str, Any]:
    """All quality figures for the labelled set."""
    stories, near_misses = load(path)
    found = cluster(stories)
    truth = {s["id"]: s["event"] for s in stories}
    lang = {s["id"]: s["lang"] for s in stories}
    pairs = list(itertools.combinations(truth, 2))
    one_language = [(a, b) for a, b in pairs if lang[a] == lang[b]]
    two_languages = [(a, b) for a, b in pairs if lang[a] != lang[b]]
    merged_near = []
    for near in near_misses:
        for a, b in itertools.product(truth, truth):
            if truth[a] == near["a"] and truth[b] == near["b"] and found[a] == found[b]:
                merged_near.append({"a": a, "b": b, "why": near["why"]})
    split = {
        event: sorted({found[s] for s in truth if truth[s] == event})
        for event in sorted(set(truth.values()))
    }
    events = {e: len([s for s in truth if truth[s] == e]) for e in split}
    return {
        "stories": len(stories),
        "events": len(events),
        "events_with_2_or_more_outlets": sum(1 for n in events.values() if n >= 2),
        "near_miss_pairs_of_events": len(near_misses),
        "pairwise": pairwise(truth, found, pairs),
        "pairwise_one_language": pairwise(truth, found, one_language),
        "pairwise_two_languages": pairwise(truth, found, two_languages),
        "bcubed": bcubed(truth, found),
        "near_misses_merged": merged_near,
        "events_split": {e: len(c) for e, c in split.items() if len(c) > 1},
        "pairs_missed": [
            f"{a} ({lang[a]}) / {b} ({lang[b]})"
            for a, b in pairs
            if truth[a] == truth[b] and found[a] != found[b]
        ],
        "pairs_wrongly_merged": [
            f"{a} ({lang[a]}) / {b} ({lang[b]})"
            for a, b in pairs
            if truth[a] != truth[b] and found[a] == found[b]
        ],
        "clusters_mixing_events": [
            sorted(s for s in truth if found[s] == c)
            for c in sorted(set(found.values()))
            if len({truth[s] for s in truth if found[s] == c}) > 1
        ],
    }


def background(stories: list[dict[str, Any]], count: int, seed: int = 7) -> list[tuple[str, str]]:
    """Synthetic stories whose words, numbers and names come from the labelled set."""
    rng = random.Random(seed)
    vocabulary = sorted({w for s in stories for w in (s["title"] + " " + s["text"]).split()})
    made = []
    for _ in range(count):
        title = " ".join(rng.choices(vocabulary, k=rng.randint(6, 12)))
        text = " ".join(rng.choices(vocabulary, k=rng.randint(40, 160)))
        made.append((title, text))
    return made


def cost(path: Path, count: int, recent: int = RECENT) -> dict[str, Any]:
    """Time per new story with ``count`` stories in the window, and the window's memory
    per story (traced by tracemalloc while it fills)."""
    stories, _ = load(path)
    analyzer = get_analyzer("english")
    index = EventIndex(WINDOW)
    now = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    made = [
        (title, text, now - WINDOW + timedelta(seconds=n * WINDOW.total_seconds() / (count + 1)))
        for n, (title, text) in enumerate(background(stories, count), start=1)
    ]
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{folder}/clusters.db")
        metadata.create_all(engine)
        with ClusterStore(engine).turn() as turn:  # also warms the word caches
            turn.record(
                [
                    _decision(number, number, at, extract(title, text, analyzer))
                    for number, (title, text, at) in enumerate(made, start=1)
                ]
            )
        gc.collect()
        tracemalloc.start()
        for number, (title, text, at) in enumerate(made, start=1):
            index.add(Member(number, number, at, extract(title, text, analyzer)))
        gc.collect()
        window_bytes = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        features = StoredFeatures(analyzer, recent)
        timings, candidates = [], []
        with engine.connect() as conn:
            turn = ClusterTurn(conn)
            for number, story in enumerate(stories, start=count + 1):
                started = time.process_time()
                found = extract(story["title"], story["text"], analyzer)
                assignment = index.decide(number, found, now, features.source(turn))
                index.add(Member(number, assignment.cluster_id, now, found))
                features.keep(number, found)
                timings.append(time.process_time() - started)
                turn.record([_decision(number, assignment.cluster_id, now, found)])
                candidates.append(len(index.candidates(found)))
        engine.dispose()
    timings.sort()
    return {
        "window_stories": count,
        "recent_features_kept": recent,
        "new_stories": len(stories),
        "ms_per_story_median": statistics.median(timings) * 1000,
        "ms_per_story_p90": timings[int(len(timings) * 0.9)] * 1000,
        "ms_per_story_max": timings[-1] * 1000,
        "candidates_scored_median": statistics.median(candidates),
        "window_bytes_per_story": window_bytes / count,
    }


def _decision(story_id: int, cluster_id: int, at: datetime, found: EventFeatures) -> Decision:
    return Decision(story_id, cluster_id, at, found.to_json(), None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled set (JSON)")
    parser.add_argument("--background", type=int, default=10_000, help="stories in the window")
    parser.add_argument(
        "--recent", type=int, default=RECENT, help="features of recent stories kept in memory"
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--misses", action="store_true", help="list every pair misplaced")
    args = parser.parse_args(argv)
    figures = {
        "quality": quality(args.data),
        "cost": cost(args.data, args.background, args.recent),
    }
    _print(figures, misses=args.misses)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    return 0


def _print(figures: dict[str, Any], *, misses: bool = False) -> None:
    q, c = figures["quality"], figures["cost"]
    print(
        f"labelled set: {q['stories']} stories, {q['events']} events "
        f"({q['events_with_2_or_more_outlets']} told by 2-6 outlets), "
        f"{q['near_miss_pairs_of_events']} near-miss pairs of events"
    )
    print(f"{'measure':<34}{'precision':>10}{'recall':>10}{'F1':>10}")
    for label, key in (
        ("pairwise", "pairwise"),
        ("pairwise, pairs in one language", "pairwise_one_language"),
        ("pairwise, pairs in two languages", "pairwise_two_languages"),
        ("B-cubed", "bcubed"),
    ):
        row = q[key]
        print(f"{label:<34}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}")
    print(f"near-miss story pairs merged: {len(q['near_misses_merged'])}")
    for merged in q["near_misses_merged"]:
        print(f"  {merged['a']} + {merged['b']} ({merged['why']})")
    for mixed in q["clusters_mixing_events"]:
        print(f"  cluster mixing events: {', '.join(mixed)}")
    print(f"events split over several clusters: {len(q['events_split'])}")
    for event, parts in q["events_split"].items():
        print(f"  {event}: {parts} clusters")
    if misses:
        print(f"pairs of one event put apart: {len(q['pairs_missed'])}")
        for pair in q["pairs_missed"]:
            print(f"  {pair}")
        print(f"pairs of two events put together: {len(q['pairs_wrongly_merged'])}")
        for pair in q["pairs_wrongly_merged"]:
            print(f"  {pair}")
    print(
        f"cost with {c['window_stories']:,} stories in the window: "
        f"{c['ms_per_story_median']:.2f} ms CPU per new story (median), "
        f"p90 {c['ms_per_story_p90']:.2f} ms, max {c['ms_per_story_max']:.2f} ms; "
        f"{c['candidates_scored_median']} candidates scored (median), their features read "
        f"from SQLite, {c['recent_features_kept']:,} recent ones kept; "
        f"{c['window_bytes_per_story'] / 1000:.2f} KB of memory per story in the window"
    )


if __name__ == "__main__":
    raise SystemExit(main())
