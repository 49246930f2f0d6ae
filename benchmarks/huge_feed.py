"""One huge feed beside a good one: does the good feed keep flowing?

Usage::

    .venv/bin/python benchmarks/huge_feed.py [--items 100000] [--seconds 30]
        [--max-items 1000] [--json out.json]

Serves two RSS feeds from a local HTTP server: a huge one (by default 100,000 tiny items,
about 4.1 MB, under the default ``fetch.max_bytes``; every poll brings a fresh set of
items) and a good one scheduled every 2 s. Runs the real service (scheduler, pipeline,
SQLite store, health endpoint) for ``--seconds`` and prints:

* peak RSS of the process (``ru_maxrss``), and the RSS before the first poll;
* the longest gap between two finished polls of the good feed, and how long after
  start its first poll finished;
* the slowest ``/healthz`` answer, probed every 50 ms from another thread;
* how long each poll of the huge feed took, and how many stories it kept;
* error log lines (a ``database is locked`` would show here).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import resource
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.adapters.console import ConsoleAdapter  # noqa: E402
from bot.app import App  # noqa: E402
from bot.config import settings_from_dict  # noqa: E402


def huge_feed(items: int, generation: int) -> bytes:
    """An RSS document of ``items`` tiny items (about 41 bytes each, as in the report
    that found the problem), with new titles for each generation."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Huge</title><link>http://huge.example/</link>"
    ]
    for n in range(items):
        parts.append(f"<item><title>Story {generation}-{n}</title></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode()


GOOD_FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Good</title>'
    b"<link>http://good.example/</link><item><guid>good-1</guid>"
    b"<title>Belarus leader dampens hopes for mass prisoner release</title></item>"
    b"</channel></rss>"
)


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, items: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.items = items
        self.generation = 0
        self.huge_bytes = 0


class _Handler(BaseHTTPRequestHandler):
    server: FeedServer

    def do_GET(self) -> None:
        if self.path == "/huge":
            self.server.generation += 1
            body = huge_feed(self.server.items, self.server.generation)
            self.server.huge_bytes = len(body)
        else:
            body = GOOD_FEED
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ErrorCount(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage()[:200])


def probe_health(url: str, stop: threading.Event, latencies: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - local
                response.read()
        except OSError:
            pass
        else:
            latencies.append(time.perf_counter() - started)
        time.sleep(0.05)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(items: int, seconds: float, database: str, max_items: int) -> dict[str, Any]:
    server = FeedServer(items)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        health_port = probe.getsockname()[1]
    settings = settings_from_dict(
        {
            "database": database,
            "poll": {"interval": "2s", "jitter": "0.1s"},
            "fetch": {"allow_private_addresses": True, "timeout": "60s", "max_items": max_items},
            "feeds": [
                {"url": f"{base}/huge", "name": "Huge", "interval": "5s"},
                {"url": f"{base}/good", "name": "Good", "interval": "2s"},
            ],
            "subscriptions": [
                {"platform": "console", "chat": "desk", "rules": ['Belarus OR "story 7"']}
            ],
            "health": {"listen": f"127.0.0.1:{health_port}"},
        }
    )
    errors = ErrorCount()
    logging.getLogger().addHandler(errors)
    app = App(settings, adapters={"console": ConsoleAdapter(out=io.StringIO())})
    polls: dict[int, list[tuple[float, float, str, int]]] = {}
    poll = app.pipeline.poll

    async def timed_poll(feed_id: int, **kwargs: Any) -> Any:
        started = time.perf_counter()
        report = await poll(feed_id, **kwargs)
        if report.status != "skipped":
            polls.setdefault(feed_id, []).append(
                (started, time.perf_counter(), report.status, report.stories)
            )
        return report

    app.pipeline.poll = timed_poll  # type: ignore[method-assign]
    rss_before = rss_mb()
    stop = threading.Event()
    latencies: list[float] = []
    await app.prepare()
    by_name = {f.name: f.id for f in app.store.list_feeds()}
    huge_id, good_id = by_name["Huge"], by_name["Good"]
    t0 = time.perf_counter()
    await app.start()
    prober = threading.Thread(
        target=probe_health, args=(f"http://127.0.0.1:{health_port}/healthz", stop, latencies)
    )
    prober.start()
    await asyncio.sleep(seconds)
    t_end = time.perf_counter()
    stop.set()
    await asyncio.to_thread(prober.join)
    await app.stop()
    server.shutdown()
    logging.getLogger().removeHandler(errors)

    good_ends = [t0] + [end for _, end, status, _ in polls.get(good_id, []) if status == "ok"]
    # The wait since the last poll counts too: a feed starved to the end has one long gap.
    marks = [*good_ends, max(t_end, good_ends[-1])]
    gaps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    huge = polls.get(huge_id, [])
    return {
        "items": items,
        "max_items": max_items,
        "huge_feed_bytes": server.huge_bytes,
        "seconds": seconds,
        "rss_before_polls_mb": round(rss_before, 1),
        "peak_rss_mb": round(rss_mb(), 1),
        "good_polls": len(good_ends) - 1,
        "good_first_poll_s": round(good_ends[1] - t0, 2) if len(good_ends) > 1 else None,
        "good_longest_gap_s": round(max(gaps), 2) if gaps else None,
        "healthz_probes": len(latencies),
        "healthz_max_s": round(max(latencies), 3) if latencies else None,
        "huge_polls": [
            {"took_s": round(end - start, 2), "status": status, "stories": stories}
            for start, end, status, stories in huge
        ],
        "error_lines": errors.lines[:5],
        "error_count": len(errors.lines),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--max-items", type=int, default=1_000, help="fetch.max_items (100000: no bound)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/bench.db"
        result = asyncio.run(run(args.items, args.seconds, database, args.max_items))
    for key, value in result.items():
        print(f"{key:22} {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
