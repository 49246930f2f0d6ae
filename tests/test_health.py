"""The health endpoint a container orchestrator and Prometheus read."""

from __future__ import annotations

import io

import httpx

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from tests.conftest import free_port, make_settings


async def test_healthz_and_metrics(sqlite_url: str) -> None:
    port = free_port()
    settings = make_settings(sqlite_url, health={"listen": f"127.0.0.1:{port}"})
    app = App(settings, adapters={"console": ConsoleAdapter(io.StringIO())})
    await app.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await client.get("/healthz")
            metrics = await client.get("/metrics")
    finally:
        await app.stop()
    assert (health.status_code, health.text) == (200, "ok\n")
    assert 'newsbot_feeds{state="failing"} 0' in metrics.text
    assert 'newsbot_alerts_today{status="sent"} 0' in metrics.text
