"""The console adapter: commands read from stdin, alerts printed safely to a terminal."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.adapters.console import ConsoleAdapter, render
from bot.app import App
from bot.commands import messages as msg
from bot.delivery.alert import Alert
from tests.conftest import make_settings


@pytest.fixture
async def app(sqlite_url: str) -> AsyncIterator[App]:
    instance = App(make_settings(sqlite_url), adapters={}, health=False)
    await instance.prepare()
    yield instance
    await instance.stop()


async def test_a_command_that_crashes_is_answered_and_the_next_one_too(
    app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(query: str) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(app.rulebook, "compile", crash)
    nested = "(" * 300 + "x" + ")" * 300
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"/watch {nested}\n/rules\n"))
    out = io.StringIO()
    adapter = ConsoleAdapter(out, read_stdin=True)
    await adapter.start(app.service)
    for _ in range(200):
        if msg.NO_RULES in out.getvalue():
            break
        await asyncio.sleep(0.02)
    await adapter.stop()
    lines = out.getvalue().splitlines()
    assert lines[1:] == [msg.FAILED, msg.NO_RULES]  # after the greeting: both answered
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.exc_info is not None and isinstance(record.exc_info[1], RecursionError)


def test_feed_text_cannot_drive_the_terminal() -> None:
    alert = Alert(
        title="Belarus \x1b[2J\x1b]0;owned\x07 news\tend\r",
        link="https://news.example/1\x9b31m",
        source="World\x1b[31m",
        published=datetime(2026, 11, 29, 14, 5, tzinfo=UTC),
        rule="Belarus",
        summary="",  # none: how a summary is laid out is not at issue here
        words=("Belarus",),
    )
    shown = render(alert)
    assert not any(char in shown for char in "\x1b\x07\x9b\r")
    assert "🔔 *Belarus* \\x1b[2J\\x1b]0;owned\\x07 news\tend\\x0d\n" in shown
    assert "https://news.example/1\\x9b31m" in shown
