"""The console adapter: alerts printed to stdout, commands read from stdin.

Used when no chat token is configured, and by tests. Lines typed on stdin are commands for
the chat ``console`` (e.g. ``/watch Belarus``), so the bot can be tried without any account.
A file sent with a reply (``export``'s OPML) is printed after the reply; ``import PATH``
reads the OPML file at PATH on this machine (``import URL`` fetches one).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import threading
from pathlib import Path
from typing import TextIO

from bot.commands import messages as msg
from bot.commands.parse import Attachment, Command, parse_slash, parse_words
from bot.commands.service import Caller, CommandService, Reply
from bot.delivery.alert import Alert, highlight, when
from bot.delivery.platform import RateLimits
from bot.i18n import tr, trn

CHAT_ID = "console"
MAX_FILE_BYTES = 1_000_000  # a larger file is not read; the reply says it is too large

log = logging.getLogger(__name__)


# Control characters other than newline and tab: a feed's ESC or CSI (0x9b) could move the
# cursor, recolour or retitle the operator's terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control characters shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def render(alert: Alert, *, in_digest: bool = False) -> str:
    """Plain text; the summary's key points as "• " lines (one line in a digest);
    matched words wrapped in ``*…*``."""

    def emphasise(text: str) -> str:
        return "".join(
            f"*{piece}*" if bold else piece for piece, bold in highlight(text, alert.words)
        )

    meta = " · ".join(part for part in (alert.source, when(alert.published)) if part)
    rule = tr(msg.RULE_LABEL_LOWER).format(rule=alert.rule)
    lines = [f"🔔 {emphasise(alert.title or tr(msg.UNTITLED))}", meta, rule]
    if in_digest and alert.summary:
        lines.append(emphasise(alert.summary.one_line()))
    elif alert.summary:
        lines.extend(f"• {emphasise(point)}" for point in alert.summary.points)
    if alert.link:
        lines.append(alert.link)
    if alert.also_reported_by:
        lines.append(tr(msg.ALSO_REPORTED).format(outlets=", ".join(alert.also_reported_by)))
    return printable("\n".join(lines))


class ConsoleAdapter:
    """Prints alerts; optionally reads commands from stdin."""

    platform = "console"
    limits = RateLimits(per_chat_interval=0.0001, group_per_minute=10_000, global_per_second=1000)

    def __init__(self, out: TextIO | None = None, *, read_stdin: bool = False) -> None:
        self.out = out or sys.stdout
        self.read_stdin = read_stdin
        self.sent: list[tuple[str, Alert]] = []
        self.edited: list[tuple[str, str, Alert]] = []  # (chat, message id, alert as now)
        self._service: CommandService | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, service: CommandService) -> None:
        if self.read_stdin and sys.stdin is not None and not sys.stdin.closed:
            self._service = service
            self._loop = asyncio.get_running_loop()
            # A daemon thread, not the loop's executor: a blocked readline() must not keep
            # the process alive after SIGINT/SIGTERM.
            threading.Thread(target=self._read_lines, name="console-stdin", daemon=True).start()

    async def stop(self) -> None:
        self._service = None

    async def connection_problem(self) -> str | None:
        return None  # the terminal is always there

    async def send_alert(self, chat_id: str, alert: Alert) -> str | None:
        self.sent.append((chat_id, alert))
        heading = tr(msg.CONSOLE_ALERT).format(chat=chat_id)
        print(f"{heading}\n{render(alert)}\n", file=self.out, flush=True)
        return str(len(self.sent))

    async def send_digest(self, chat_id: str, alerts: list[Alert]) -> str | None:
        for alert in alerts:
            self.sent.append((chat_id, alert))
        body = "\n\n".join(render(a, in_digest=True) for a in alerts)
        print(
            trn(msg.CONSOLE_DIGEST, len(alerts)).format(chat=chat_id, count=len(alerts))
            + f"\n{body}\n",
            file=self.out,
            flush=True,
        )
        return str(len(self.sent))

    async def edit_alert(self, chat_id: str, message_id: str, alert: Alert) -> None:
        self.edited.append((chat_id, message_id, alert))
        print(
            tr(msg.CONSOLE_UPDATED).format(message=message_id, chat=chat_id)
            + f"\n{render(alert)}\n",
            file=self.out,
            flush=True,
        )

    def is_group(self, chat_id: str) -> bool:
        return False

    def _read_lines(self) -> None:
        print(tr(msg.CONSOLE_HELLO), file=self.out)
        for line in sys.stdin:
            if self._service is None or self._loop is None or not line.strip():
                continue
            future = asyncio.run_coroutine_threadsafe(self._answer(line), self._loop)
            try:
                future.result()
            except Exception:
                # The service answers every command (CommandService.answer); what is left
                # is printing the reply. Logged, and the next line is still read.
                log.exception("console: answering %r failed", line.strip()[:80])

    async def _answer(self, line: str) -> None:
        if self._service is None:
            return
        command = with_local_file(parse_slash(line) or parse_words(line))
        reply = await self._service.answer(Caller("console", CHAT_ID, "console"), command)
        print(show_reply(reply), file=self.out, flush=True)


def show_reply(reply: Reply) -> str:
    """A reply as printed: its text, then the file sent with it (an OPML export is text)."""
    text = printable(reply.text)
    if reply.file is None:
        return text
    content = reply.file.data.decode("utf-8", errors="replace")
    return f"{text}\n--- file {printable(reply.file.name)} ---\n{printable(content)}"


def with_local_file(command: Command) -> Command:
    """``import PATH``: the command with the file at PATH attached (read by the adapter, as
    a chat platform's adapter downloads a file sent with a message); other commands as
    they are."""
    path = Path(command.args).expanduser() if command.args else None
    if command.name != "import" or path is None or command.args.startswith(("http://", "https://")):
        return command
    try:
        size = path.stat().st_size
        data = path.read_bytes() if size <= MAX_FILE_BYTES else b""
    except OSError as exc:
        log.warning("console: cannot read %s: %s", path, exc)
        return command  # the reply explains the usage
    return Command(command.name, "", (Attachment(path.name, data, size),))
