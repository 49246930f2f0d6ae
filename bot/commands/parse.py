"""Chat text -> a command value. Pure: no I/O, no platform types."""

from __future__ import annotations

import re
from dataclasses import dataclass

COMMANDS = (
    "start",
    "help",
    "subscribe",
    "unsubscribe",
    "watch",
    "rules",
    "unwatch",
    "test",
    "feeds",
    "addfeed",
    "removefeed",
    "mute",
    "unmute",
    "digest",
    "status",
    "timezone",
    "quiet",
    "export",
    "import",
    "language",
)

_TELEGRAM = re.compile(
    r"^/(?P<name>[A-Za-z0-9_]+)(?:@(?P<bot>[A-Za-z0-9_]+))?(?:\s+(?P<args>.*))?$", re.S
)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that came with a command, or goes with a reply: its name and content.

    The adapter fetches a file from its platform; one larger than it would fetch comes
    with no ``data`` and its ``size``, so the reply can say so.
    """

    name: str
    data: bytes
    size: int | None = None

    @property
    def too_large(self) -> bool:
        """Whether the adapter left the file on the platform for its size."""
        return self.size is not None and self.size > len(self.data)


@dataclass(frozen=True, slots=True)
class Command:
    """A command name (lower case, possibly unknown), its raw argument text, and the files
    sent with it (``import`` reads one)."""

    name: str
    args: str = ""
    files: tuple[Attachment, ...] = ()


def parse_slash(text: str, bot_username: str | None = None) -> Command | None:
    """Parse ``/cmd args`` or ``/cmd@BotName args``.

    Returns None when the text is not a command, or is addressed to another bot.
    """
    match = _TELEGRAM.match(text.strip())
    if not match:
        return None
    addressed = match.group("bot")
    if addressed and bot_username and addressed.lower() != bot_username.lower():
        return None
    return Command(match.group("name").lower(), (match.group("args") or "").strip())


def parse_words(text: str) -> Command:
    """Parse ``cmd args`` (Slack's ``/newsbot cmd args`` or a mention); empty means help."""
    stripped = text.strip()
    if not stripped:
        return Command("help")
    name, _, args = stripped.partition(" ")
    return Command(name.lower().lstrip("/"), args.strip())
