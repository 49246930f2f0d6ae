"""Time of one /metrics scrape as the outbox grows, on SQLite and PostgreSQL.

Usage::

    .venv/bin/python benchmarks/scrape.py [--alerts 10000 200000] [--pg URL] [--json out.json]

Each size gets a fresh database: 1,000 chats on two platforms, 10,000 rules, 500 feeds
(a tenth failing), and the given number of outbox rows over every status (5% pending,
half of those due). A scrape is ``Metrics.exposition()``: the process series plus every
query of ``bot/store/stats.py``. The median of 7 scrapes is reported, after one warm-up.
``--pg`` takes an admin URL; a scratch database is created and dropped beside it.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.metrics import Metrics  # noqa: E402
from bot.store import make_engine, migrate, utcnow  # noqa: E402
from bot.store.schema import chats, feeds, outbox, rules, stories  # noqa: E402

STATUSES = ["sent"] * 80 + ["dropped"] * 8 + ["failed", "uncertain"] * 2 + ["pending"] * 5
SCRAPES = 7


def fill(engine: Engine, alerts: int) -> None:
    """Chats, rules, feeds, one story per alert, and the alerts."""
    rng = random.Random(7)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(chats),
            [
                {
                    "platform": "telegram" if i % 3 else "slack",
                    "chat_id": str(i),
                    "subscribed": i % 10 != 0,
                    "active": i % 50 != 0,
                    "digest": "off",
                    "created_at": now,
                }
                for i in range(1, 1001)
            ],
        )
        conn.execute(
            insert(rules),
            [
                {"chat_pk": 1 + i % 1000, "query": f"word{i}", "created_at": now}
                for i in range(10_000)
            ],
        )
        conn.execute(
            insert(feeds),
            [
                {
                    "url": f"https://feeds.example/{i}.xml",
                    "error_count": 1 if i % 10 == 0 else 0,
                    "next_poll_at": now,
                    "created_at": now,
                }
                for i in range(500)
            ],
        )
        for start in range(0, alerts, 20_000):
            batch = range(start, min(start + 20_000, alerts))
            conn.execute(
                insert(stories),
                [
                    {
                        "id": i + 1,
                        "feed_id": 1 + i % 500,
                        "uid": f"s{i}",
                        "fingerprint": f"f{i}",
                        "title": "t",
                        "body": "",
                        "seen_at": now,
                    }
                    for i in batch
                ],
            )
            conn.execute(
                insert(outbox),
                [
                    {
                        "chat_pk": 1 + i % 1000,
                        "story_id": i + 1,
                        "fingerprint": f"f{i}",
                        "rule_query": "q",
                        "terms": [],
                        "spans": {},
                        "summary": "",
                        "also_reported_by": [],
                        "status": rng.choice(STATUSES),
                        "not_before": now + timedelta(minutes=rng.choice([-5, 60])),
                        "created_at": now - timedelta(minutes=10),
                    }
                    for i in batch
                ],
            )


def measure(url: str, alerts: int) -> dict[str, Any]:
    engine = make_engine(url)
    migrate(engine)
    started = time.perf_counter()
    fill(engine, alerts)
    filled = time.perf_counter() - started
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    metrics = Metrics()
    metrics.read_store(engine)
    size = len(metrics.exposition())  # warm-up
    times = []
    for _ in range(SCRAPES):
        t0 = time.perf_counter()
        metrics.exposition()
        times.append(time.perf_counter() - t0)
    engine.dispose()
    return {
        "engine": engine.dialect.name,
        "alerts": alerts,
        "scrape_ms_median": round(statistics.median(times) * 1000, 1),
        "scrape_ms_max": round(max(times) * 1000, 1),
        "exposition_bytes": size,
        "fill_s": round(filled, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument(
        "--pg", help="PostgreSQL admin URL, e.g. postgresql://postgres@127.0.0.1/test"
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    results = []
    for alerts in args.alerts:
        with TemporaryDirectory() as tmp:
            results.append(measure(f"sqlite:///{tmp}/bench.db", alerts))
        if args.pg:
            name = f"newsbot_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                results.append(measure(f"{args.pg.rsplit('/', 1)[0]}/{name}", alerts))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    print(f"{'engine':<11}{'alerts':>9}{'scrape ms (median)':>20}{'max':>8}{'bytes':>8}")
    for r in results:
        print(
            f"{r['engine']:<11}{r['alerts']:>9,}{r['scrape_ms_median']:>20}"
            f"{r['scrape_ms_max']:>8}{r['exposition_bytes']:>8}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
