"""Stories late, lost or doubled when a real ``newsbot run`` on SQLite is killed with
SIGKILL again and again during a steady stream of stories.

Usage::

    .venv/bin/python benchmarks/restart.py [--kills 6] [--every 10] [--interval 15s] \
        [--feed-delay 3] [--json out.json]

A local feed publishes one matching story a second and takes ``--feed-delay`` seconds
to answer, so kills often land while a poll is in flight. ``newsbot run`` (console
adapter, alerts on stdout) is killed every ``--every`` seconds or so (seeded) and
restarted at once. At the end, each story's delay is the time from its publication to
its alert on stdout. Reported: stories published, alerts, stories lost, stories alerted
twice, the delay median and maximum, how many stories arrived more than 30 s after the
restart before them, and the outbox by status.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.feedserver import Item, RssServer, rss  # noqa: E402


class StoryStream:
    """A feed whose stories appear one a second, once ``started``."""

    def __init__(self, delay: float) -> None:
        self.published: dict[str, float] = {}
        self.lock = threading.Lock()
        self.running = False
        self.delay = delay
        self.server = RssServer(self._answer)

    def _answer(self, _path: str) -> bytes:
        time.sleep(self.delay)  # a slow feed: kills often land while a poll is in flight
        with self.lock:
            items = [
                Item(title, title, "Belarus news of the day.")
                for title in reversed(list(self.published))
            ][:100]
        return rss("Stream", items or [Item("calm", "A calm day", "Nothing.")]).encode()

    @property
    def url(self) -> str:
        return self.server.url("/feed.xml")

    def publish_every_second(self, stop: threading.Event) -> None:
        n = 0
        while not stop.wait(1.0):
            with self.lock:
                self.published[f"Belarus story {n:04d}"] = time.monotonic()
            n += 1


def read_alerts(stdout: IO[str], alerts: list[tuple[str, float]]) -> None:
    """Collects (title, time) of every alert the process prints."""
    for line in stdout:
        if line.startswith("🔔 "):
            alerts.append((line[2:].strip().strip("*").replace("*", ""), time.monotonic()))


def start(config: Path, alerts: list[tuple[str, float]]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    threading.Thread(target=read_alerts, args=(process.stdout, alerts), daemon=True).start()
    return process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument(
        "--every", type=float, default=10.0, help="mean seconds between kills (0.5-1.5 x)"
    )
    parser.add_argument("--seed", type=int, default=1, help="of the kill times")
    parser.add_argument("--interval", default="15s", help="the feed's poll interval")
    parser.add_argument("--feed-delay", type=float, default=3.0, help="seconds the feed takes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    stream = StoryStream(args.feed_delay)
    workdir = Path(tempfile.mkdtemp())
    config = workdir / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{workdir}/bot.db",
                "health": {"listen": None},
                "fetch": {"allow_private_addresses": True},
                "poll": {"interval": args.interval, "jitter": "1ms"},
                "feeds": [{"url": stream.url}],
                "subscriptions": [{"platform": "console", "chat": "desk", "rules": ["Belarus"]}],
            }
        )
    )
    alerts: list[tuple[str, float]] = []
    process = start(config, alerts)
    time.sleep(args.feed_delay + 5)  # the first poll (done by now) learns what is there
    stop = threading.Event()
    threading.Thread(target=stream.publish_every_second, args=(stop,), daemon=True).start()
    restarts: list[float] = []
    pace = random.Random(args.seed)
    for _ in range(args.kills):
        time.sleep(args.every * pace.uniform(0.5, 1.5))
        process.kill()
        process.wait()
        restarts.append(time.monotonic())
        process = start(config, alerts)
    time.sleep(args.every)
    stop.set()
    # Let the last stories' alerts arrive: two intervals and some.
    time.sleep(2 * float(args.interval.rstrip("s")) + 10)
    process.terminate()
    process.wait(30)

    with stream.lock:
        published = dict(stream.published)
    arrived: dict[str, list[float]] = {}
    for title, at in alerts:
        arrived.setdefault(title, []).append(at)
    delays = [arrived[t][0] - p for t, p in published.items() if t in arrived]
    late = 0
    for title, at in ((t, a[0]) for t, a in arrived.items() if t in published):
        before = [r for r in restarts if r <= at]
        if before and at - max(before) > 30 and published[title] < max(before):
            late += 1
    figures = {
        "kills": args.kills,
        "interval": args.interval,
        "feed_delay_s": args.feed_delay,
        "stories": len(published),
        "alerts": len(alerts),
        "lost": sum(1 for t in published if t not in arrived),
        "doubled": sum(1 for t in arrived if len(arrived[t]) > 1),
        "delay_median_s": round(statistics.median(delays), 1) if delays else None,
        "delay_max_s": round(max(delays), 1) if delays else None,
        "late_over_30s_after_a_restart": late,
    }
    with sqlite3.connect(workdir / "bot.db") as db:
        figures["outbox"] = dict(db.execute("SELECT status, count(*) FROM outbox GROUP BY status"))

    for key, value in figures.items():
        print(f"{key:32} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
