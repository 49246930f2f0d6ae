"""``/healthz``, ``/readyz`` and ``/metrics`` on ``health.listen``, for orchestrators and
Prometheus.

``/healthz`` is liveness: 200 once the service has started, until it stops. ``/readyz``
is readiness: 200 only while the database answers and every chat adapter is connected,
else 503 with one line per reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from bot.metrics import Metrics

log = logging.getLogger(__name__)

DB_TIMEOUT = 5.0  # seconds a readiness probe waits for the database


class HealthServer:
    """A small HTTP server: ``live()`` decides /healthz, ``ready()`` lists what keeps
    /readyz at 503."""

    def __init__(
        self,
        listen: str,
        *,
        live: Callable[[], bool],
        ready: Callable[[], Awaitable[list[str]]],
        metrics: Metrics,
    ) -> None:
        host, _, port = listen.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self.live = live
        self.ready = ready
        self.metrics = metrics
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        ok = self.live()
        return web.Response(status=200 if ok else 503, text="ok\n" if ok else "unhealthy\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        problems = await self.ready()
        if not problems:
            return web.Response(text="ready\n")
        body = "not ready:\n" + "".join(f"- {p}\n" for p in problems)
        return web.Response(status=503, text=body)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(self.metrics.exposition)  # it reads the database
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def database_problem(engine: Engine) -> str | None:
    """None when the database answers a ``SELECT 1`` within ``DB_TIMEOUT``, else why not."""

    def ping() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(asyncio.to_thread(ping), DB_TIMEOUT)
    except TimeoutError:
        return f"database: no answer within {DB_TIMEOUT:g}s"
    except SQLAlchemyError as exc:
        return f"database: {describe_db_error(exc)}"
    return None


def describe_db_error(exc: SQLAlchemyError) -> str:
    """The driver's own first line (SQLAlchemy's adds the statement and a link)."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
