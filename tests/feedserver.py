"""Building RSS documents for the local feed server in tests, and a threaded local server
that answers with them (for tests and benchmarks that run ``newsbot`` processes)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape


@dataclass
class Item:
    guid: str
    title: str
    body: str = ""
    link: str | None = None
    published: datetime | None = None


def rss(title: str, items: list[Item]) -> str:
    """An RSS 2.0 document; ``link`` defaults to https://news.example/<guid>."""
    base = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    parts = []
    for n, item in enumerate(items):
        when = item.published or base + timedelta(minutes=n)
        link = item.link or f"https://news.example/{item.guid}"
        parts.append(
            "<item>"
            f'<guid isPermaLink="false">{escape(item.guid)}</guid>'
            f"<title>{escape(item.title)}</title>"
            f"<link>{escape(link)}</link>"
            f"<description>{escape(item.body)}</description>"
            f"<pubDate>{format_datetime(when)}</pubDate>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://news.example/</link>"
        f"<description>test feed</description>{''.join(parts)}</channel></rss>"
    )


BELARUS = Item(
    "belarus-1",
    "Belarus leader dampens hopes for mass prisoner release",
    "Alexander Lukashenko said on Tuesday that he would not free political prisoners en masse. "
    "Rights groups count more than 1,300 political prisoners in Belarus. "
    "The United States had pressed Minsk for a wider prisoner release after a deal in September. "
    "Opposition leaders in exile called the remarks a bargaining tactic.",
)
WEATHER = Item(
    "weather-1", "Sunny weekend ahead for the coast", "Forecasters expect sunshine and light winds."
)
MARKETS = Item(
    "markets-1", "Stocks edge higher as oil prices fall", "Markets rose modestly on Monday."
)


class RssServer:
    """A local HTTP server, in daemon threads, answering each GET with the RSS document
    ``answer(path)`` gives (404 for None). ``answer`` runs in the request's thread, so it
    may wait; a client that went away meanwhile (a killed process) is let go quietly."""

    def __init__(self, answer: Callable[[str], bytes | None]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                body = answer(self.path)
                try:
                    if body is None:
                        self.send_error(404)
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
