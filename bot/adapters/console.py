"""The console adapter: alerts printed to stdout, commands read from stdin.

Used when no chat token is configured, and by tests. Lines typed on stdin are commands for
the chat ``console`` (e.g. ``/watch Belarus``), so the bot can be tried without any account.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.adapters.base import RateLimits
from bot.commands.parse import parse_slash, parse_words
from bot.commands.service import Caller, CommandService
from bot.delivery.alert import Alert, highlight, when

CHAT_ID = "console"


def render(alert: Alert) -> str:
    """Plain text; matched words wrapped in ``*…*``."""

    def emphasise(text: str) -> str:
        return "".join(
            f"*{piece}*" if bold else piece for piece, bold in highlight(text, alert.words)
        )

    meta = " · ".join(part for part in (alert.source, when(alert.published)) if part)
    lines = [f"🔔 {emphasise(alert.title)}", meta, f"rule: {alert.rule}"]
    if alert.summary:
        lines.append(emphasise(alert.summary))
    if alert.link:
        lines.append(alert.link)
    if alert.also_reported_by:
        lines.append("also reported by " + ", ".join(alert.also_reported_by))
    return "\n".join(lines)


class ConsoleAdapter:
    """Prints alerts; optionally reads commands from stdin."""

    platform = "console"
    limits = RateLimits(per_chat_interval=0.0001, group_per_minute=10_000, global_per_second=1000)

    def __init__(self, out: TextIO | None = None, *, read_stdin: bool = False) -> None:
        self.out = out or sys.stdout
        self.read_stdin = read_stdin
        self.sent: list[tuple[str, Alert]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self, service: CommandService) -> None:
        if self.read_stdin and sys.stdin is not None and sys.stdin.isatty():
            self._task = asyncio.create_task(self._read_commands(service))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()

    async def send_alert(self, chat_id: str, alert: Alert) -> str | None:
        self.sent.append((chat_id, alert))
        print(f"--- alert for {chat_id} ---\n{render(alert)}\n", file=self.out, flush=True)
        return str(len(self.sent))

    async def send_digest(self, chat_id: str, alerts: list[Alert]) -> str | None:
        for alert in alerts:
            self.sent.append((chat_id, alert))
        body = "\n\n".join(render(a) for a in alerts)
        print(
            f"--- digest for {chat_id}: {len(alerts)} stories ---\n{body}\n",
            file=self.out,
            flush=True,
        )
        return str(len(self.sent))

    def is_group(self, chat_id: str) -> bool:
        return False

    async def _read_commands(self, service: CommandService) -> None:
        loop = asyncio.get_running_loop()
        print("console: type commands such as /help, /subscribe, /watch QUERY", file=self.out)
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            command = parse_slash(line) or parse_words(line)
            reply = await service.handle(Caller("console", CHAT_ID, "console"), command)
            print(reply.text, file=self.out, flush=True)
