"""Instructions per poll of an unchanged feed (a 304), counted by callgrind: a figure the
noise of a shared machine cannot move.

An App on a new SQLite file polls feeds of ``benchmarks/ingest.py``'s local server (its
own process, not counted), each known by its ETag, so every poll is a 304: claimed by the
tick's one UPDATE beforehand, then polled one after another as a running app polls them,
the outcomes written ``--per-tick`` at a time. The process runs twice under ``valgrind
--tool=callgrind``, with 50 and with 250 polls; the difference of the two counts over 200
polls leaves out the start-up::

    .venv/bin/python benchmarks/unchanged.py --per-tick 33 --per-tick 3 --per-tick 1
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent))

FEEDS = 300


async def polls(database: str, count: int, per_tick: int) -> None:
    """Runs inside valgrind: ``count`` polls of unchanged feeds."""
    from datetime import timedelta

    import ingest
    from sqlalchemy import update

    from bot.app import App
    from bot.config import settings_from_dict
    from bot.store import utcnow
    from bot.store.schema import feeds

    settings = settings_from_dict(
        {
            "database": database,
            "fetch": {"allow_private_addresses": True},
            "poll": {"interval": "300s", "jitter": "10s"},
            "health": {"listen": None},
        }
    )
    app = App(settings, adapters={"console": ingest.CountingAdapter()}, health=False)  # type: ignore[dict-item]
    await app.prepare()
    now = utcnow()
    with app.engine.begin() as conn:  # every feed known by its first version's ETag
        conn.execute(update(feeds).values(etag='"v0"', initialised=True, next_poll_at=now))
    later = now + timedelta(seconds=1)
    claimed = app.store.claim_due_feeds(app.worker, later, later, later, count)
    for feed in claimed:
        report = await app.pipeline.poll_claimed(feed)
        assert report.status == "not_modified", report
        if len(app.pipeline.unchanged) >= per_tick:
            await app.pipeline.unchanged.flush()
    await app.pipeline.unchanged.flush()
    await app.fetcher.aclose()
    app.engine.dispose()


def instructions(base_url: str, count: int, per_tick: int) -> int:
    """Instructions of one process that polls ``count`` unchanged feeds."""
    from ingest import populate

    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/unchanged.db"
        args = argparse.Namespace(feeds=FEEDS, chats=10, rules=100, seed=1)
        populate(args, database, base_url)
        out = Path(tmp) / "callgrind.out"
        run = [sys.executable, str(HERE), "--measure", database, str(count), str(per_tick)]
        subprocess.run(  # noqa: S603 - our own command line
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *run],  # noqa: S607
            check=True,
            capture_output=True,
        )
        summary = re.search(r"^summary: (\d+)", out.read_text(), re.MULTILINE)
        assert summary is not None
        return int(summary.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-tick", type=int, action="append", help="outcomes per write")
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        database, count, per_tick = args.measure
        asyncio.run(polls(database, int(count), int(per_tick)))
        return
    import ingest

    ctx = mp.get_context("spawn")
    port, go = ctx.Value("i", 0), ctx.Event()
    world = argparse.Namespace(feeds=FEEDS, unconditional=0.0, seed=1)
    server = ctx.Process(target=ingest.run_server, args=(world, port, go), daemon=True)
    server.start()
    while not port.value:
        time.sleep(0.05)
    base_url = f"http://127.0.0.1:{port.value}"
    for per_tick in args.per_tick or [33]:
        few, many = (instructions(base_url, n, per_tick) for n in (50, 250))
        print(f"{per_tick:>4} per tick: {(many - few) / 200:,.0f} instructions per 304")
    server.terminate()


if __name__ == "__main__":
    main()
