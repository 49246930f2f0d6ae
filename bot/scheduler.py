"""Our wrapper around APScheduler's AsyncIOScheduler.

Periodic jobs, never two runs of one job at once (``max_instances=1``): the sync with
other replicas. (Feed polls follow the database's schedule, see
:meth:`bot.app.App._tick_feeds`; the outbox is drained by one loop, woken when a poll
queues alerts, see :meth:`bot.app.App._drain_outbox`.)
Every job error reaches :func:`Scheduler._funnel`, which logs it with its context.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.errors import StoreBusy

log = logging.getLogger(__name__)


class Scheduler:
    """Periodic jobs of the service."""

    def __init__(self) -> None:
        self._scheduler = AsyncIOScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )
        self._scheduler.add_listener(self._funnel, EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def start(self) -> None:
        self._scheduler.start()

    def pause(self) -> None:
        """Start no more jobs; running ones go on (see :meth:`App.stop`)."""
        if self._scheduler.running:
            self._scheduler.pause()

    async def shutdown(self) -> None:
        # Jobs still running here are cancelled; a cancelled drain has settled what it sent.
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def every(
        self,
        job_id: str,
        seconds: float,
        func: Callable[..., Awaitable[Any]],
        *args: Any,
        first: bool = True,
    ) -> None:
        """Run ``func(*args)`` every ``seconds`` (replacing a job with the same id)."""
        self._scheduler.add_job(
            func,
            IntervalTrigger(seconds=seconds),
            args=args,
            id=job_id,
            name=job_id,
            replace_existing=True,
            next_run_time=datetime.now(UTC) if first else None,
        )

    def remove(self, job_id: str) -> None:
        """Stop running the job ``job_id`` (no error if there is none)."""
        if self._scheduler.get_job(job_id):
            self._scheduler.remove_job(job_id)

    @staticmethod
    def _funnel(event: JobExecutionEvent) -> None:
        context: dict[str, Any] = {"job": event.job_id}
        if isinstance(getattr(event, "exception", None), asyncio.CancelledError):
            return  # cancelled at shutdown, not a failure
        if isinstance(getattr(event, "exception", None), StoreBusy):
            # Waiting for the database is not a bug: one line, and the next run retries.
            log.warning("job %s: %s", event.job_id, event.exception, extra=context)
        elif getattr(event, "exception", None) is not None:
            log.error(
                "job %s failed: %r",
                event.job_id,
                event.exception,
                exc_info=(type(event.exception), event.exception, event.exception.__traceback__),
                extra=context,
            )
        else:
            log.warning("job %s missed its run time", event.job_id, extra=context)
