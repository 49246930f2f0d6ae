"""Polling at scale: CPU per fetch, feeds per core, peak RSS, story → alert latency, and
how evenly the fetches spread, for one ``newsbot`` App (or several replicas) polling many
local feeds against a large rule book.

Usage::

    .venv/bin/python benchmarks/ingest.py [--feeds 1000] [--interval 300] [--duration 300] \
        [--rules 10000] [--chats 100] [--database postgresql://…] [--replicas 1] \
        [--json out.json]

    # short mode, a couple of minutes:
    .venv/bin/python benchmarks/ingest.py --feeds 200 --interval 20 --duration 60

A local HTTP server (its own process, so its CPU is not counted) serves ``--feeds`` RSS
feeds of 20–50 items each. About ``--changing`` (5%) of the feeds gain a story per
interval, at random moments; most feeds answer conditional GET (ETag → 304), and
``--unconditional`` of them (20%) send the same bytes again with a 200. Stories use words
the rules use, so some match. The database gets ``--rules`` rules over ``--chats`` chats,
each feed added by one chat.

Each replica is a separate process running one App with a counting chat adapter (it
records when each alert is sent). A replica first catches up (every feed is new: the
cold start), then runs ``--duration`` seconds of steady polling, then measures the CPU of
single polls of an unchanged feed (304, and the same bytes with a 200) and of a changed
one, the unchanged feeds' outcomes written as many at a time as a tick finds at the run's
fetch rate. Reported: catch-up time, CPU of one core in the steady phase, CPU per fetch
by kind (a 304, a 200 with the same bytes, a 200 with one new story), feeds per second
per core, peak RSS, story → alert latency p50/p99 (a story appearing on the server → its
alert sent; only stories that appeared at least an interval before the end count), the
same from the first fetch of the story's feed after it appeared (the bot's own delay,
without the wait for the feed's slot), and fetches per window (a tenth of the interval:
30 s at 5 minutes) against their mean.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import multiprocessing as mp
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.feedserver import Item, rss  # noqa: E402

WORDS = [f"w{n:04d}" for n in range(1500)]  # the vocabulary of titles and rules
MATCHED = "belarus"  # a word in some titles and in one rule per chat: a share of stories alert


# --------------------------------------------------------------------------- feed server


class FeedWorld:
    """The feeds' items; a publisher adds stories at random moments."""

    def __init__(self, feeds: int, unconditional: float, seed: int) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.items: list[list[Item]] = []
        self.bodies: list[bytes] = []
        self.versions = [0] * feeds
        self.conditional = [self.rng.random() >= unconditional for _ in range(feeds)]
        self.published: dict[str, tuple[float, int]] = {}  # story title → (when, feed)
        self.fetches: list[tuple[float, int, int, str]] = []  # (when, status, feed, replica)
        for n in range(feeds):
            self.items.append([self._item(n, k) for k in range(self.rng.randint(20, 50))])
            self.bodies.append(rss(f"Feed {n}", self.items[n]).encode())

    def _item(self, feed: int, k: int, title: str | None = None) -> Item:
        words = " ".join(self.rng.sample(WORDS, 6))
        return Item(
            f"f{feed}-{k}", title or f"Story {feed}-{k} {words}", f"{words}. " * 5, None, None
        )

    def publish(self, feed: int, matching: bool) -> None:
        with self.lock:
            k = len(self.items[feed]) + self.versions[feed] * 1000
            title = f"Story {feed}-{k} {MATCHED} {' '.join(self.rng.sample(WORDS, 5))}"
            item = self._item(feed, k, title if matching else None)
            self.items[feed] = [item, *self.items[feed][:49]]
            self.bodies[feed] = rss(f"Feed {feed}", self.items[feed]).encode()
            self.versions[feed] += 1
            self.published[item.title] = (time.time(), feed)


def serve(world: FeedWorld) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            if self.path == "/stats":
                with world.lock:
                    body = json.dumps(
                        {"published": world.published, "fetches": world.fetches}
                    ).encode()
                return self._send(200, body, {})
            feed = int(self.path[2:-4])  # /f123.xml
            with world.lock:
                etag = f'"v{world.versions[feed]}"' if world.conditional[feed] else None
                body = world.bodies[feed]
                status = 304 if etag and self.headers.get("If-None-Match") == etag else 200
                who = self.headers.get("User-Agent", "")
                world.fetches.append((time.time(), status, feed, who))
            self._send(status, b"" if status == 304 else body, {"ETag": etag} if etag else {})

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def run_server(args: argparse.Namespace, port: Any, go: Any) -> None:
    """The feed server's process: serve, and once ``go`` is set publish stories."""
    world = FeedWorld(args.feeds, args.unconditional, args.seed)
    server = serve(world)
    port.value = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    go.wait()
    per_second = args.changing * args.feeds / args.interval
    while True:  # a Poisson stream of new stories, a share of them matching
        time.sleep(world.rng.expovariate(per_second))
        world.publish(world.rng.randrange(args.feeds), world.rng.random() < args.matching)


# --------------------------------------------------------------------------- database


def populate(args: argparse.Namespace, database: str, base_url: str) -> None:
    """Feeds, chats, rules and chat feeds, written in bulk."""
    from sqlalchemy import insert

    from bot.store import make_engine, migrate, utcnow
    from bot.store.schema import chat_feeds, chats, feeds, rules

    engine = make_engine(database)
    migrate(engine)
    now = utcnow()
    rng = random.Random(args.seed)
    with engine.begin() as conn:
        conn.execute(
            insert(chats),
            [
                {"platform": "console", "chat_id": f"chat{c}", "subscribed": True,
                 "active": True, "digest": "off", "created_at": now}
                for c in range(args.chats)
            ],
        )  # fmt: skip
        conn.execute(
            insert(feeds),
            [
                {"url": f"{base_url}/f{n}.xml", "full_text": False, "from_config": False,
                 "initialised": False, "error_count": 0, "next_poll_at": now, "created_at": now}
                for n in range(args.feeds)
            ],
        )  # fmt: skip
        chat_pks = [r.id for r in conn.execute(chats.select().order_by(chats.c.id))]
        feed_ids = [r.id for r in conn.execute(feeds.select().order_by(feeds.c.id))]
        conn.execute(
            insert(chat_feeds),
            [
                {"chat_pk": chat_pks[n % len(chat_pks)], "feed_id": feed_id, "created_at": now}
                for n, feed_id in enumerate(feed_ids)
            ],
        )
        queries = []
        for n in range(args.rules):
            chat = chat_pks[n % len(chat_pks)]
            if n < len(chat_pks):
                query = MATCHED
            else:
                a, b = rng.sample(WORDS, 2)
                query = rng.choice([f"{a} AND {b}", f'"{a} {b}"', f"{a} AND NOT {b}"])
            queries.append({"chat_pk": chat, "query": query, "created_at": now})
        conn.execute(insert(rules), queries)
    engine.dispose()


# --------------------------------------------------------------------------- replicas


class CountingAdapter:
    """The chat stand-in: records when each alert is sent, and what."""

    platform = "console"

    def __init__(self) -> None:
        from bot.delivery.platform import RateLimits

        self.limits = RateLimits()
        self.sent: list[tuple[float, str]] = []

    async def start(self, service: Any) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def connection_problem(self) -> str | None:
        return None

    async def send_alert(self, chat_id: str, alert: Any) -> str | None:
        self.sent.append((time.time(), alert.title))
        return str(len(self.sent))

    async def send_digest(self, chat_id: str, alerts: list[Any]) -> str | None:
        for alert in alerts:
            self.sent.append((time.time(), alert.title))
        return str(len(self.sent))

    async def edit_alert(self, chat_id: str, message_id: str, alert: Any) -> None:
        pass

    def is_group(self, chat_id: str) -> bool:
        return False


def run_replica(args: argparse.Namespace, database: str, number: int, out: Any) -> None:
    out.put(asyncio.run(replica(args, database, number)))


async def replica(args: argparse.Namespace, database: str, number: int) -> dict[str, Any]:
    from bot.app import App
    from bot.config import settings_from_dict

    settings = settings_from_dict(
        {
            "database": database,
            # Named in its requests, so the feed server counts each replica's fetches.
            "fetch": {"allow_private_addresses": True, "user_agent": f"replica {number}"},
            "poll": {
                "interval": f"{args.interval:g}s",
                "jitter": f"{args.interval / 30:g}s",  # the default 10 s at 5 minutes
                "concurrency": args.concurrency,
            },
            "health": {"listen": None},
        }
    )
    adapter = CountingAdapter()
    app = App(settings, adapters={"console": adapter}, health=False)  # type: ignore[dict-item]
    began = time.time()
    await app.start()
    store = app.store
    # ASYNC110: the database is what is watched, not an event of this process.
    while await asyncio.to_thread(lambda: any(not f.initialised for f in store.list_feeds())):  # noqa: ASYNC110
        await asyncio.sleep(1.0)
    caught_up = time.time()
    # The feeds polled first in the catch-up fell due again during it: the steady phase
    # begins once none is overdue (at most one interval later).
    while time.time() < caught_up + args.interval and await asyncio.to_thread(overdue, store):  # noqa: ASYNC110
        await asyncio.sleep(1.0)
    settled = time.time()
    cpu0, t0 = time.process_time(), time.time()
    await asyncio.sleep(args.duration)
    cpu1, t1 = time.process_time(), time.time()
    app.scheduler.pause()  # the steady phase is over: now single polls, one at a time
    if app._feeds_tick is not None:
        app._feeds_tick.cancel()
    while app._polling:  # noqa: ASYNC110 - let the polls in flight finish
        await asyncio.sleep(0.1)
    per_fetch = await single_polls(app, per_tick(args))
    await app.stop()
    return {
        "number": number,
        "began": began,
        "caught_up": caught_up,
        "settled": settled,
        "steady": [t0, t1],
        "cpu_s": cpu1 - cpu0,
        "per_fetch_ms": per_fetch,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sent": adapter.sent,
    }


LABELS = {
    "304": "304 (unchanged: no parse)",
    "200 same bytes": "200 with the same bytes (unchanged: no parse)",
    "200 new story": "200 with one new story (parse, dedup, match, record)",
}


def per_tick(args: argparse.Namespace) -> int:
    """Feeds a tick finds due, on average, at the run's fetch rate."""
    from bot.app import FEEDS_EVERY

    return max(1, round(args.feeds / args.interval * FEEDS_EVERY))


def overdue(store: Any) -> bool:
    from bot.store import utcnow

    late = utcnow() - timedelta(seconds=2)
    return any(feed.next_poll_at < late for feed in store.list_feeds())


async def single_polls(app: Any, per_tick: int, count: int = 200) -> dict[str, float]:
    """CPU of one poll of an unchanged feed (304, or the same bytes with a 200), and of a
    feed with one new story (parse, dedup, match, record), as the running app polls them:
    claimed beforehand by the tick (whose one UPDATE is not counted here). The unchanged
    feeds' outcomes are written ``per_tick`` at a time, as many as a tick finds at the
    run's fetch rate; each poll is charged its share of that write."""
    from datetime import timedelta

    from sqlalchemy import delete, select, update

    from bot.store import utcnow
    from bot.store.schema import feeds as table
    from bot.store.schema import stories

    def claimed(ids: list[int]) -> list[Any]:
        now = utcnow()
        with app.engine.begin() as conn:
            conn.execute(update(table).where(table.c.id.in_(ids)).values(next_poll_at=now))
        later = now + timedelta(seconds=1)
        return app.store.claim_due_feeds(app.worker, later, later, later, len(ids))

    unchanged = {"304": [0.0, 0], "200 same bytes": [0.0, 0]}  # CPU s, polls
    writes = [0.0, 0]  # CPU s, outcomes written
    feeds = await asyncio.to_thread(app.store.list_feeds)
    for feed in claimed([f.id for f in feeds[: count * 3]]):
        cpu = time.process_time()
        report = await app.pipeline.poll_claimed(feed)
        spent = time.process_time() - cpu
        if report.status == "not_modified":
            kind = unchanged["304" if feed.etag else "200 same bytes"]
            kind[0] += spent
            kind[1] += 1
        if len(app.pipeline.unchanged) >= per_tick:
            cpu = time.process_time()
            writes[1] += await app.pipeline.unchanged.flush()
            writes[0] += time.process_time() - cpu
    cpu = time.process_time()
    writes[1] += await app.pipeline.unchanged.flush()
    writes[0] += time.process_time() - cpu
    write = writes[0] / writes[1] if writes[1] else 0.0
    kinds = {
        kind: 1000 * (spent / polls + write) if polls else float("nan")
        for kind, (spent, polls) in unchanged.items()
    }
    new_story: list[float] = []
    # A changed feed: forget its newest story, body hash and ETag, so the next poll parses
    # the document and finds that story new.
    for feed in feeds[:count]:
        with app.engine.begin() as conn:
            newest = conn.execute(
                select(stories.c.id)
                .where(stories.c.feed_id == feed.id)
                .order_by(stories.c.id.desc())
                .limit(1)
            ).scalar()
            conn.execute(delete(stories).where(stories.c.id == newest))
            conn.execute(
                update(table).where(table.c.id == feed.id).values(body_hash=None, etag=None)
            )
    for feed in claimed([f.id for f in feeds[:count]]):
        cpu = time.process_time()
        report = await app.pipeline.poll_claimed(feed)
        if report.status == "ok" and report.new:
            new_story.append((time.process_time() - cpu) * 1000)
    kinds["200 new story"] = statistics.median(new_story) if new_story else float("nan")
    return kinds


# --------------------------------------------------------------------------- driver


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def first_fetches(
    fetches: list[tuple[float, int, int, str]], published: dict[str, tuple[float, int]]
) -> dict[str, float]:
    """Each story's first fetch of its feed after it appeared: the wait for the feed's
    slot, inherent to polling, is what lies before it; the bot's own delay after it."""
    by_feed: dict[int, list[float]] = {}
    for when, _, feed, _ in sorted(fetches):
        by_feed.setdefault(feed, []).append(when)
    first = {}
    for title, (when, feed) in published.items():
        times = by_feed.get(feed, [])
        at = bisect.bisect_right(times, when)
        if at < len(times):
            first[title] = times[at]
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=300.0, help="seconds")
    parser.add_argument("--duration", type=float, default=None, help="steady seconds (interval)")
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--changing", type=float, default=0.05, help="feeds changed/interval")
    parser.add_argument("--matching", type=float, default=0.5, help="new stories that match")
    parser.add_argument("--unconditional", type=float, default=0.2, help="feeds without ETag")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--database", default=None, help="default: a new SQLite file")
    parser.add_argument("--replicas", type=int, default=1, help="processes (PostgreSQL)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    args.duration = args.duration or args.interval
    if args.replicas > 1 and not (args.database or "").startswith("postgresql"):
        parser.error("--replicas > 1 needs --database postgresql://… (SQLite serves one process)")

    ctx = mp.get_context("spawn")
    port, go = ctx.Value("i", 0), ctx.Event()
    server = ctx.Process(target=run_server, args=(args, port, go), daemon=True)
    server.start()
    while not port.value:
        time.sleep(0.05)
    base_url = f"http://127.0.0.1:{port.value}"
    with tempfile.TemporaryDirectory() as tmp:
        database = args.database or f"sqlite:///{tmp}/ingest.db"
        populate(args, database, base_url)
        out = ctx.Queue()
        replicas = [
            ctx.Process(target=run_replica, args=(args, database, number, out))
            for number in range(args.replicas)
        ]
        for process in replicas:
            process.start()
        go.set()
        results = [out.get() for _ in replicas]
        for process in replicas:
            process.join()
    import urllib.request

    with urllib.request.urlopen(f"{base_url}/stats") as answer:  # noqa: S310 - our server
        stats = json.load(answer)
    server.terminate()
    report(args, results, stats)


def report(args: argparse.Namespace, results: list[dict[str, Any]], stats: dict[str, Any]) -> None:
    start = max(r["steady"][0] for r in results)
    end = min(r["steady"][1] for r in results)
    steady = end - start
    window = args.interval / 10
    fetches = [(t, s, who) for t, s, _, who in stats["fetches"] if start <= t < end]
    counts = Counter(int((t - start) // window) for t, _, _ in fetches)
    by_replica = Counter(who for _, _, who in fetches)
    results = sorted(results, key=lambda r: r["number"])
    own = {r["number"]: by_replica[f"replica {r['number']}"] for r in results}
    windows = [counts[n] for n in range(int(steady // window))]
    mean = statistics.mean(windows) if windows else float("nan")
    cpu = sum(r["cpu_s"] for r in results)
    # The first send of each story: the single polls after the steady phase forget a
    # feed's newest story and find it again, and its second alert is not its latency.
    sent: dict[str, float] = {}
    for when, title in sorted(item for r in results for item in r["sent"]):
        sent.setdefault(title, when)
    published = {
        title: (when, feed)
        for title, (when, feed) in stats["published"].items()
        if start <= when < end - args.interval - 5
    }
    latencies = [sent[title] - when for title, (when, _) in published.items() if title in sent]
    polled = first_fetches(stats["fetches"], published)
    from_poll = [sent[t] - polled[t] for t in published if t in sent and t in polled]
    per_fetch = {
        k: statistics.median(r["per_fetch_ms"][k] for r in results)
        for k in results[0]["per_fetch_ms"]
    }
    by_status = Counter(s for _, s, _ in fetches)
    figures = {
        "feeds": args.feeds,
        "interval_s": args.interval,
        "rules": args.rules,
        "replicas": args.replicas,
        "database": "postgresql" if (args.database or "").startswith("postgresql") else "sqlite",
        "catch_up_s": max(r["caught_up"] - r["began"] for r in results),
        "back_on_phase_s": max(r["settled"] - r["began"] for r in results),
        "steady_s": steady,
        "fetches": len(fetches),
        "fetches_304": by_status[304],
        "fetches_200": by_status[200],
        "cpu_share_of_one_core": cpu / steady,
        "cpu_ms_per_fetch_steady": 1000 * cpu / max(1, len(fetches)),
        "cpu_ms_per_fetch": per_fetch,
        "feeds_per_second_per_core": len(fetches) / cpu if cpu else float("nan"),
        "feeds_per_core_at_5_min": 300 * len(fetches) / cpu if cpu else float("nan"),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "per_process": [
            {
                "fetches": own[r["number"]],
                "cpu_s": r["cpu_s"],
                "cpu_ms_per_fetch": 1000 * r["cpu_s"] / max(1, own[r["number"]]),
                "cpu_share_of_one_core": r["cpu_s"] / (r["steady"][1] - r["steady"][0]),
                "peak_rss_mb": r["peak_rss_mb"],
            }
            for r in results
        ],
        "new_stories": len(published),
        "alerted": len(latencies),
        "latency_p50_s": percentile(latencies, 0.5),
        "latency_p99_s": percentile(latencies, 0.99),
        "from_poll_p50_s": percentile(from_poll, 0.5),
        "from_poll_p99_s": percentile(from_poll, 0.99),
        "latencies_s": sorted(latencies),
        "windows": windows,
        "window_s": window,
        "window_worst_vs_mean": max((abs(c - mean) / mean for c in windows), default=float("nan")),
    }  # fmt: skip
    f = figures
    setup = f"{args.feeds} × {args.interval:g} s, {args.rules} rules"
    setup += f", {args.replicas} process(es), {f['database']}"
    phase = f"{steady:.0f} s, {len(fetches)} fetches"
    phase += f" ({by_status[304]} × 304, {by_status[200]} × 200)"
    latency = f"{f['latency_p50_s']:.1f} s / {f['latency_p99_s']:.1f} s"
    latency += f" ({len(latencies)} alerted of {len(published)} new stories)"
    after_poll = f"{f['from_poll_p50_s']:.1f} s / {f['from_poll_p99_s']:.1f} s"
    shares = ", ".join(f"{100 * p['cpu_share_of_one_core']:.1f} %" for p in f["per_process"])
    rss_each = ", ".join(f"{p['peak_rss_mb']:.0f} MB" for p in f["per_process"])
    fetches_each = ", ".join(str(p["fetches"]) for p in f["per_process"])
    cpu_each = ", ".join(f"{p['cpu_ms_per_fetch']:.2f} ms" for p in f["per_process"])
    spread = f"{windows} (worst {100 * f['window_worst_vs_mean']:.0f}% from the mean)"
    rows = [
        ("feeds × interval", setup),
        ("cold start: every feed polled once", f"{f['catch_up_s']:.1f} s"),
        ("cold start: no feed overdue", f"{f['back_on_phase_s']:.1f} s"),
        ("steady phase", phase),
        ("CPU, share of one core", f"{100 * f['cpu_share_of_one_core']:.1f} %"),
        ("CPU per fetch, steady (all work)", f"{f['cpu_ms_per_fetch_steady']:.2f} ms"),
        *((f"CPU per {LABELS[k]}", f"{v:.2f} ms") for k, v in per_fetch.items()),
        ("unchanged feeds' outcomes written together", f"{per_tick(args)} per tick"),
        ("feeds per core at a 5-minute interval", f"{f['feeds_per_core_at_5_min']:,.0f}"),
        ("peak RSS, the largest process", f"{f['peak_rss_mb']:.0f} MB"),
        ("per process: CPU share of one core", shares),
        ("per process: peak RSS", rss_each),
        ("per process: fetches (steady phase)", fetches_each),
        ("per process: CPU per fetch", cpu_each),
        ("story → alert p50 / p99", latency),
        ("first fetch after the story → alert p50 / p99", after_poll),
        (f"fetches per {window:g}-s window", spread),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
