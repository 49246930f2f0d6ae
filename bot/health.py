"""``/healthz`` and ``/metrics`` (Prometheus text format) on ``health.listen``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from bot.store import Store, utcnow


class HealthServer:
    """A tiny HTTP server; ``healthy()`` decides the /healthz status."""

    def __init__(self, store: Store, listen: str, healthy: Callable[[], bool]) -> None:
        self.store = store
        self.host, _, port = listen.rpartition(":")
        self.port = int(port)
        self.healthy = healthy
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        ok = self.healthy()
        return web.Response(status=200 if ok else 503, text="ok\n" if ok else "unhealthy\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        feeds = await asyncio.to_thread(self.store.list_feeds)
        day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        counts = await asyncio.to_thread(self.store.alert_counts, None, day)
        lines = [
            "# HELP newsbot_feeds Feeds known, by health.",
            "# TYPE newsbot_feeds gauge",
            f'newsbot_feeds{{state="ok"}} {sum(1 for f in feeds if not f.error_count)}',
            f'newsbot_feeds{{state="failing"}} {sum(1 for f in feeds if f.error_count)}',
            "# HELP newsbot_alerts_today Alerts since midnight UTC, by status.",
            "# TYPE newsbot_alerts_today gauge",
        ]
        for status in ("pending", "sending", "sent", "failed", "dropped", "uncertain"):
            lines.append(f'newsbot_alerts_today{{status="{status}"}} {counts.get(status, 0)}')
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")
