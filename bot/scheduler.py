"""Our wrapper around APScheduler's AsyncIOScheduler.

One interval job per feed (never two polls of one feed at once: ``max_instances=1``), a job
that drains the outbox, and one that keeps the rule index in step with other replicas.
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
    """Feed polls at their intervals with jitter, plus periodic housekeeping jobs."""

    def __init__(self, *, jitter: float = 10.0) -> None:
        self._scheduler = AsyncIOScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )
        self._scheduler.add_listener(self._funnel, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        self.jitter = jitter

    def start(self) -> None:
        self._scheduler.start()

    def pause(self) -> None:
        """Start no more jobs; running ones go on (see :meth:`App.stop`)."""
        if self._scheduler.running:
            self._scheduler.pause()

    async def shutdown(self) -> None:
        # Jobs still running here are cancelled; a cancelled poll has committed nothing and
        # its feed is polled again once its claim lapses.
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
        trigger = IntervalTrigger(seconds=seconds, jitter=self.jitter if seconds > 30 else None)
        self._scheduler.add_job(
            func,
            trigger,
            args=args,
            id=job_id,
            name=job_id,
            replace_existing=True,
            next_run_time=datetime.now(UTC) if first else None,
        )

    def poll_feed(
        self, feed_id: int, interval: float, func: Callable[[int], Awaitable[Any]]
    ) -> None:
        """Schedule polls of one feed; the first one runs now."""
        self.every(f"feed:{feed_id}", interval, func, feed_id)

    def remove(self, job_id: str) -> None:
        if self._scheduler.get_job(job_id):
            self._scheduler.remove_job(job_id)

    def job_ids(self) -> list[str]:
        return [job.id for job in self._scheduler.get_jobs()]

    @staticmethod
    def _funnel(event: JobExecutionEvent) -> None:
        context: dict[str, Any] = {"job": event.job_id}
        if event.job_id.startswith("feed:"):
            context["feed_id"] = int(event.job_id.split(":", 1)[1])
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
