"""What delivery needs from a chat platform: the adapter seam and its decisions.

An adapter converts platform updates into calls of the platform-free
:class:`~bot.commands.service.CommandService`, and renders and sends alerts. Platform
errors become one of the decisions below, which the dispatcher acts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.errors import DeliveryError

if TYPE_CHECKING:
    from bot.commands.service import CommandService
    from bot.delivery.alert import Alert


class RetryAfter(DeliveryError):
    """The platform asked us to wait (429); the alert is kept and retried."""

    def __init__(self, seconds: float, message: str = "rate limited") -> None:
        super().__init__(f"{message}, retry after {seconds:g}s")
        self.seconds = seconds


class TransientError(DeliveryError):
    """Network trouble or a 5xx before the request was delivered; retry with backoff."""


class UncertainDelivery(DeliveryError):
    """The request may have reached the platform (e.g. a read timeout); never re-sent blindly."""


class ChatGone(DeliveryError):
    """The bot was blocked, removed, or the channel is archived; the chat is deactivated."""


class ChatMigrated(DeliveryError):
    """The chat has a new id (Telegram group -> supergroup); rules follow it, alert is retried."""

    def __init__(self, new_chat_id: str) -> None:
        super().__init__(f"chat migrated to {new_chat_id}")
        self.new_chat_id = new_chat_id


class PermanentError(DeliveryError):
    """This alert can never be sent (e.g. the platform rejects it); it is marked failed."""


class AdapterFatal(DeliveryError):
    """The adapter cannot work at all (e.g. invalid token); stop it with a clear log line."""


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Platform send limits the dispatcher enforces for this adapter."""

    per_chat_interval: float = 1.0  # seconds between two messages to one chat
    group_per_minute: int = 20  # messages per minute to one group chat
    global_per_second: float = 30.0  # messages per second overall


class ChatAdapter(Protocol):
    """A chat platform: receive commands, send alerts."""

    platform: str
    limits: RateLimits

    async def start(self, service: CommandService) -> None:
        """Connect and begin receiving commands, which go to ``service``."""

    async def stop(self) -> None:
        """Disconnect; in-flight handlers finish."""

    async def connection_problem(self) -> str | None:
        """Why the adapter cannot receive commands or send now, or None when it is connected
        (``/readyz``)."""
        ...

    async def send_alert(self, chat_id: str, alert: Alert) -> str | None:
        """Deliver one alert; returns the platform's message id.

        Raises:
            RetryAfter, TransientError, UncertainDelivery, ChatGone, ChatMigrated,
            PermanentError, AdapterFatal: what the dispatcher should do next. Once the
            request may have reached the platform, any trouble (a timeout, an answer
            that cannot be read) must be UncertainDelivery: the dispatcher takes any
            other exception for a failure before the request left, and retries it.
        """
        ...

    async def send_digest(self, chat_id: str, alerts: list[Alert]) -> str | None:
        """Deliver several alerts as one digest message; raises as :meth:`send_alert`."""
        ...

    async def edit_alert(self, chat_id: str, message_id: str, alert: Alert) -> None:
        """Replace an alert's message with ``alert`` as it is now (it names more sources
        under "also reported by"); raises as :meth:`send_alert`."""
        ...

    def is_group(self, chat_id: str) -> bool:
        """Whether the chat is a group (for the per-group rate limit)."""
        ...
