"""Event clusters in the database, on SQLite and the real PostgreSQL server alike:
decisions survive restarts, replicas agree, and the migration builds the table."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, delete, insert, select, update

from bot.events import EventClusters, Report
from bot.events import clusters as event_clusters
from bot.store import Store, make_engine, migrate
from bot.store.clusters import ClusterStore
from bot.store.schema import metadata, stories, story_clusters

NOW = datetime(2025, 8, 22, 18, 0, tzinfo=UTC)
WINDOW = timedelta(hours=48)

# Three outlets on the seed event, and one on another event of the same day.
REFUSAL = [
    (
        "Belarus leader dampens hopes for mass prisoner release after Trump's appeal",
        "Belarusian President Alexander Lukashenko on Friday played down freeing prisoners "
        "en masse, a week after Donald Trump asked him in a phone call. Rights groups count "
        "up to 1,300 political prisoners; Lukashenko called them bandits.",
    ),
    (
        "Lukashenko Stands Firm Amid U.S. Pressure for Prisoner Release",
        "Alexander Lukashenko on Friday rejected Donald Trump's request to free 1,300 "
        "political prisoners, dashing hopes of a mass release. He calls them bandits.",
    ),
    (
        "Lukashenko says no to mass release of political prisoners sought by Trump",
        "Alexander Lukashenko dashed hopes of the mass prisoner release that Donald Trump "
        "asked for in a phone call. Rights groups say 1,300 political prisoners are held.",
    ),
]
OTHER = (
    "Nepal's Prime Minister Oli resigns after deadly protests",
    "K.P. Sharma Oli stepped down after protests against a social media ban killed 19.",
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _stories(engine: Engine, count: int) -> list[int]:
    feed = Store(engine).ensure_feed("https://example.org/rss")
    with engine.begin() as conn:
        return [
            conn.execute(
                insert(stories)
                .values(
                    feed_id=feed.id,
                    uid=f"s{n}",
                    fingerprint=f"fp{n}",
                    title="t",
                    body="b",
                    seen_at=NOW,
                )
                .returning(stories.c.id)
            ).scalar_one()
            for n in range(count)
        ]


def _clusters(engine: Engine) -> EventClusters:
    return EventClusters(ClusterStore(engine), WINDOW, clock=lambda: NOW)


def _report(story_id: int, text: tuple[str, str], hours_ago: float) -> Report:
    return Report(story_id, text[0], text[1], NOW - timedelta(hours=hours_ago))


def test_reports_of_one_event_join_the_first_storys_cluster(engine: Engine) -> None:
    ids = _stories(engine, 4)
    found = _clusters(engine).assign_many(
        [
            _report(ids[0], REFUSAL[0], 5),
            _report(ids[1], OTHER, 4),
            _report(ids[2], REFUSAL[1], 3),
            _report(ids[3], REFUSAL[2], 2),
        ]
    )
    assert [a.cluster_id for a in found] == [ids[0], ids[1], ids[0], ids[0]]
    assert [a.joined for a in found] == [False, False, True, True]
    assert ClusterStore(engine).members(ids[0]) == [ids[0], ids[2], ids[3]]


def test_a_restarted_process_carries_on_with_the_stored_clusters(engine: Engine) -> None:
    ids = _stories(engine, 3)
    _clusters(engine).assign(ids[0], *REFUSAL[0], NOW - timedelta(hours=5))
    restarted = _clusters(engine)
    assert restarted.assign(ids[1], *OTHER, NOW - timedelta(hours=1)).cluster_id == ids[1]
    assert restarted.assign(ids[2], *REFUSAL[1], NOW).cluster_id == ids[0]


def test_a_restarted_process_reads_the_window_in_batches(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_clusters, "CATCH_UP_ROWS", 1)
    ids = _stories(engine, 3)
    first = _clusters(engine)
    first.assign(ids[0], *OTHER, NOW - timedelta(hours=5))
    first.assign(ids[1], *REFUSAL[0], NOW - timedelta(hours=4))
    restarted = _clusters(engine)  # its first batch holds the other event's story only
    assert restarted.assign(ids[2], *REFUSAL[1], NOW).cluster_id == ids[1]


def test_the_peers_of_a_story_are_read_from_the_database(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The window in memory holds no features: with none kept for recent stories, every
    # peer's come from its stored assignment.
    monkeypatch.setattr(event_clusters, "RECENT", 0)
    ids = _stories(engine, 4)
    clusters = _clusters(engine)
    clusters.assign(ids[0], *REFUSAL[0], NOW - timedelta(hours=5))
    clusters.assign(ids[1], *OTHER, NOW - timedelta(hours=4))
    assert clusters.assign(ids[2], *REFUSAL[1], NOW - timedelta(hours=3)).cluster_id == ids[0]
    # Stored by another version of the extraction: read again from the story.
    with engine.begin() as conn:
        conn.execute(
            update(stories)
            .where(stories.c.id.in_(ids[:3]))
            .values(title=REFUSAL[0][0], body=REFUSAL[0][1])
        )
        conn.execute(update(story_clusters).values(features={"v": 0}))
    assert clusters.assign(ids[3], *REFUSAL[2], NOW).cluster_id == ids[0]


def test_the_stories_of_one_call_meet_before_they_are_stored(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_clusters, "RECENT", 0)
    ids = _stories(engine, 3)
    found = _clusters(engine).assign_many(
        [_report(ids[0], REFUSAL[0], 3), _report(ids[1], OTHER, 2), _report(ids[2], REFUSAL[1], 1)]
    )
    assert [a.cluster_id for a in found] == [ids[0], ids[1], ids[0]]


def test_clues_of_an_older_extraction_are_read_again_from_the_story(engine: Engine) -> None:
    # An upgrade that changes the extraction: the window's stories still meet new reports.
    ids = _stories(engine, 2)
    with engine.begin() as conn:
        conn.execute(
            update(stories)
            .where(stories.c.id == ids[0])
            .values(title=REFUSAL[0][0], body=REFUSAL[0][1])
        )
    _clusters(engine).assign(ids[0], *REFUSAL[0], NOW - timedelta(hours=5))
    with engine.begin() as conn:
        conn.execute(update(story_clusters).values(features={"v": 0}))
    upgraded = _clusters(engine)
    assert upgraded.assign(ids[1], *REFUSAL[1], NOW).cluster_id == ids[0]


def test_replicas_see_each_others_decisions(engine: Engine) -> None:
    ids = _stories(engine, 3)
    one, two = _clusters(engine), _clusters(engine)
    assert one.assign(ids[0], *REFUSAL[0], NOW - timedelta(hours=2)).cluster_id == ids[0]
    assert two.assign(ids[1], *REFUSAL[1], NOW - timedelta(hours=1)).cluster_id == ids[0]
    assert one.assign(ids[2], *REFUSAL[2], NOW).cluster_id == ids[0]
    assert one.members(ids[0]) == two.members(ids[0]) == ids


def test_replicas_deciding_at_once_agree(engine: Engine) -> None:
    """Replicas take turns: whichever stores first, the other joins its cluster."""
    ids = _stories(engine, 2)
    replicas = [_clusters(engine), _clusters(engine)]
    results: list[int] = []

    def place(n: int) -> None:
        results.append(replicas[n].assign(ids[n], *REFUSAL[n], NOW).cluster_id)

    threads = [threading.Thread(target=place, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1


def test_placing_a_story_again_keeps_its_cluster(engine: Engine) -> None:
    ids = _stories(engine, 2)
    clusters = _clusters(engine)
    clusters.assign(ids[0], *REFUSAL[0], NOW - timedelta(hours=1))
    clusters.assign(ids[1], *REFUSAL[1], NOW)
    assert _clusters(engine).assign(ids[1], *OTHER, NOW).cluster_id == ids[0]
    with engine.connect() as conn:
        assert len(conn.execute(select(story_clusters)).all()) == 2


def test_stories_older_than_the_window_are_not_joined(engine: Engine) -> None:
    ids = _stories(engine, 2)
    clusters = _clusters(engine)
    clusters.assign(ids[0], *REFUSAL[0], NOW - timedelta(hours=49))
    assert _clusters(engine).assign(ids[1], *REFUSAL[1], NOW).cluster_id == ids[1]


def test_a_failed_turn_leaves_no_decision_behind(engine: Engine) -> None:
    ids = _stories(engine, 2)
    clusters = _clusters(engine)
    with pytest.raises(Exception, match=r"(?i)foreign key|violates"):
        clusters.assign(ids[1] + 1000, *REFUSAL[0], NOW - timedelta(hours=1))
    # The rolled-back story is not in the window: the next report starts its own cluster.
    assert clusters.assign(ids[0], *REFUSAL[1], NOW).cluster_id == ids[0]


def test_decisions_commit_with_the_callers_transaction(engine: Engine) -> None:
    ids = _stories(engine, 2)
    clusters = _clusters(engine)
    with engine.begin() as conn:  # the pipeline's: stories, clusters and alerts together
        clusters.assign_many([_report(ids[0], REFUSAL[0], 1)], conn=conn)
    assert clusters.cluster_of(ids[0]) == ids[0]
    assert _clusters(engine).assign(ids[1], *REFUSAL[1], NOW).cluster_id == ids[0]


def test_decisions_of_a_callers_transaction_that_rolls_back_are_forgotten(
    engine: Engine,
) -> None:
    ids = _stories(engine, 2)
    clusters = _clusters(engine)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        clusters.assign_many([_report(ids[0], REFUSAL[0], 1)], conn=conn)
        raise RuntimeError("recording the poll failed after the decision")
    assert clusters.cluster_of(ids[0]) is None
    # Had the process kept the undone decision, this report would join a cluster that
    # is in no database.
    assert clusters.assign(ids[1], *REFUSAL[1], NOW).cluster_id == ids[1]


def test_a_copy_of_a_placed_story_joins_its_cluster_whatever_it_says(engine: Engine) -> None:
    ids = _stories(engine, 2)
    clusters = _clusters(engine)
    month_ago = NOW - timedelta(days=30)
    clusters.assign_many([Report(ids[0], *REFUSAL[0], month_ago, fingerprint="fp0")])
    (copy,) = clusters.assign_many([Report(ids[1], *OTHER, NOW, fingerprint="fp0")])
    assert (copy.cluster_id, copy.matched_id) == (ids[0], ids[0])


def test_deleting_a_story_deletes_its_assignment(engine: Engine) -> None:
    ids = _stories(engine, 1)
    _clusters(engine).assign(ids[0], *REFUSAL[0], NOW)
    assert _clusters(engine).cluster_of(ids[0]) == ids[0]
    with engine.begin() as conn:
        conn.execute(delete(stories).where(stories.c.id == ids[0]))
    assert _clusters(engine).cluster_of(ids[0]) is None


def test_the_migration_builds_the_table_the_schema_describes(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if "story_clusters" in repr(d)] == []
