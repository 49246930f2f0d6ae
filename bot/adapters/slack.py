"""The Slack adapter: ``/newsbot`` commands and mentions in, Block Kit alerts out.

Built on slack-bolt's asyncio app. Commands arrive over Socket Mode (``slack.app_token``)
or, with only ``slack.signing_secret``, as signed HTTP requests at ``listen/slack/events``
(bolt verifies the signature and the timestamp: a bad or stale one gets 401 and nothing
runs). A slash command is acknowledged within Slack's 3 seconds: with the reply itself
when the service answers quickly, otherwise with "working on it" and the reply follows
through the command's response URL.

Sends use their own Web API client without slack_sdk's retry handlers, so every failure
reaches the dispatcher as a decision (:func:`delivery_error`); a retried post could be a
duplicate alert.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import replace
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.adapters.slack_render import (
    ACTION_ID_PREFIX,
    Message,
    render_alert,
    render_digest,
    render_reply,
    render_update,
    to_plain_text,
)
from bot.commands import messages as msg
from bot.commands.actions import Action, Verb, parse_action
from bot.commands.parse import COMMANDS, Attachment, Command, parse_words
from bot.commands.service import READ_ONLY, Caller, CommandService, Reply
from bot.config import SlackSettings
from bot.delivery.alert import Alert
from bot.delivery.platform import (
    AdapterFatal,
    ChatGone,
    PermanentError,
    RateLimits,
    RetryAfter,
    TransientError,
    UncertainDelivery,
)
from bot.errors import DeliveryError
from bot.i18n import speaking, tr

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"  # bolt's default; the manifest's request URLs end in it
ACK_BUDGET = 2.0  # seconds to wait for a reply before acknowledging without it (Slack: 3)
LANGUAGE_BUDGET = 0.5  # seconds then to read the language the acknowledgement is in
SEND_TIMEOUT = 20  # seconds for one Web API call
ADMIN_CACHE_SECONDS = 300.0
LOCALE_CACHE_SECONDS = 86400.0  # a user's locale (users.info) is asked again after a day
LOCALE_RETRY_SECONDS = 600.0  # after a failed users.info, English until it is asked again
LOCALE_TIMEOUT = 3.0  # seconds a command waits for users.info before answering in English
USERS_CACHED = 5000  # users whose admin flag and locale are remembered, most recent kept
STOP_GRACE = 10.0  # seconds in-flight commands get to finish at stop
SEEN_EVENTS = 1000  # event ids remembered to drop Slack's redelivered events
MAX_FILE_BYTES = 1_000_000  # a larger file shared with a command is not downloaded


# Web API errors that mean this channel will not take messages from us.
CHAT_GONE = {
    "channel_not_found": "the channel is gone or the bot cannot see it",
    "not_in_channel": "the bot is not in this channel: /invite the bot, then /newsbot subscribe",
    "is_archived": "the channel is archived",
    "restricted_action": "the workspace does not let the bot post here",
    "restricted_action_read_only_channel": "the channel is read-only",
    "restricted_action_thread_only_channel": "the channel only allows thread replies",
    "restricted_action_non_threadable_channel": "the workspace does not let the bot post here",
    "team_access_not_granted": "the bot has no access to this channel's workspace",
    "ekm_access_denied": "the workspace's key management denies access",
    "user_not_found": "the user of this direct message is gone",
    "messages_tab_disabled": "the user turned off direct messages from apps",
    "cannot_dm_bot": "bots cannot be sent direct messages",
}

# Web API errors that mean the bot cannot post anywhere until its owner fixes the app.
FATAL = {
    "invalid_auth": "the bot token was refused: check SLACK_BOT_TOKEN (xoxb-…)",
    "not_authed": "no bot token was sent: set SLACK_BOT_TOKEN",
    "account_inactive": "the bot user or its workspace was deactivated: reinstall the app",
    "token_revoked": "the bot token was revoked: reinstall the app and update SLACK_BOT_TOKEN",
    "token_expired": "the bot token expired: reinstall the app and update SLACK_BOT_TOKEN",
    "no_permission": "the token lacks a permission: compare the app with slack-manifest.yaml",
    "missing_scope": "a scope is missing: add the scopes in slack-manifest.yaml and reinstall",
    "not_allowed_token_type": "SLACK_BOT_TOKEN must be a bot token (xoxb-…)",
    "org_login_required": "the workspace is migrating: retry once it is done",
    "team_is_restricted": "the workspace restricts this app",
}

# Slack itself failed; the message may have been posted before it did.
UNCERTAIN = {"fatal_error", "internal_error"}
TRANSIENT = {"service_unavailable", "request_timeout", "team_added_to_org"}
RATE_LIMITED = {"ratelimited", "rate_limited", "message_limit_exceeded"}
DEFAULT_RETRY_AFTER = 30.0

_LEADING_MENTIONS = re.compile(r"^\s*(?:<@[A-Z0-9]+(?:\|[^>]*)?>[\s:,]*)+")


# -- pure converters -----------------------------------------------------------------


def delivery_error(exc: BaseException) -> DeliveryError | None:
    """What a failed Web API call means for the alert, or None if it is not a platform error.

    Args:
        exc: what ``chat.postMessage`` raised.

    Returns:
        The dispatcher's decision: RetryAfter (429), AdapterFatal (the token or app is
        broken), ChatGone (this channel refuses us), UncertainDelivery (the post may have
        happened), TransientError (it did not; retry with backoff), PermanentError.
    """
    if isinstance(exc, SlackApiError):
        status, error, headers = _response_parts(exc.response)
        if status == 429 or error in RATE_LIMITED:
            return RetryAfter(_retry_after(headers), f"slack: {error or 'HTTP 429'}")
        if error in FATAL:
            return AdapterFatal(f"slack: {error} — {FATAL[error]}")
        if error in CHAT_GONE:
            return ChatGone(f"slack: {error} — {CHAT_GONE[error]}")
        if error in UNCERTAIN:
            return UncertainDelivery(f"slack: {error} — the message may have been posted")
        if error in TRANSIENT or status == 503:
            return TransientError(f"slack: {error or f'HTTP {status}'}")
        if status is not None and status >= 500:
            return UncertainDelivery(f"slack: HTTP {status} — the message may have been posted")
        return PermanentError(f"slack refused the message: {error or f'HTTP {status}'}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransientError(f"slack: cannot connect: {exc}")
    if isinstance(exc, TimeoutError):
        return UncertainDelivery("slack: no answer in time — the message may have been posted")
    if isinstance(exc, aiohttp.ClientError):
        return UncertainDelivery(f"slack: connection broke mid-request ({exc!r})")
    return None


def _response_parts(response: Any) -> tuple[int | None, str, Mapping[str, str]]:
    """Status, ``error`` code and headers of whatever slack_sdk attached to its error."""
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    data = getattr(response, "data", None)
    error = data.get("error", "") if isinstance(data, dict) else ""
    headers = getattr(response, "headers", None) or {}
    return status, str(error), headers


def _retry_after(headers: Mapping[str, str]) -> float:
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(float(value), 1.0) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER


def command_text(text: str) -> Command:
    """The command in a slash command's text or a mention (leading @-mentions dropped)."""
    return parse_words(to_plain_text(_LEADING_MENTIONS.sub("", text)))


def visibility(command: Command, reply: Reply) -> str:
    """``ephemeral`` for replies meant for the caller, ``in_channel`` for changes the
    channel should see (subscribe, watch, mute…)."""
    if reply.private or command.name in READ_ONLY or command.name not in COMMANDS:
        return "ephemeral"
    return "in_channel"


def is_slack_file(url: str, api_base_url: str) -> bool:
    """Whether a shared file's address is Slack's own (``files.slack.com``, or the Web API's
    host), so the bot token may go with its download and nowhere else."""
    host = urlsplit(url).hostname or ""
    return urlsplit(url).scheme in ("http", "https") and (
        host == "slack.com"
        or host.endswith(".slack.com")
        or host == urlsplit(api_base_url).hostname
    )


def is_direct_message(channel_id: str) -> bool:
    """A conversation of one person with the bot: a ``D…`` id, or a user id (``U…``,
    ``W…``), which chat.postMessage takes as the user's direct message with the app."""
    return channel_id.startswith(("D", "U", "W"))


def _listen(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _log_connected(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    if task.exception() is not None:
        log.error(
            "slack: Socket Mode connection failed: %r",
            task.exception(),
            extra={"platform": "slack"},
        )
    else:
        log.info("slack: Socket Mode connected", extra={"platform": "slack"})


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


T = TypeVar("T")


class Expiring(Generic[T]):
    """A bounded map of user id to a value that expires: at most ``size`` entries, the
    least recently used dropped first, so a large workspace cannot grow it without end."""

    def __init__(self, size: int = USERS_CACHED) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def get(self, key: str, now: float) -> tuple[bool, T | None]:
        """``(True, value)`` while ``key``'s value is fresh, else ``(False, None)``."""
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            return False, None
        self._entries.move_to_end(key)
        return True, entry[1]

    def put(self, key: str, value: T, ttl: float, now: float) -> None:
        """Remember ``value`` for ``ttl`` seconds from ``now``."""
        self._entries[key] = (now + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


# -- the adapter -----------------------------------------------------------------------


class SlackAdapter:
    """newsbot in one Slack workspace."""

    platform = "slack"
    # chat.postMessage allows about one message per second per channel, short bursts over.
    limits = RateLimits(per_chat_interval=1.0, group_per_minute=60, global_per_second=20.0)

    def __init__(self, settings: SlackSettings) -> None:
        self.settings = settings
        self.token = _secret(settings.bot_token)
        self.app_token = _secret(settings.app_token)
        self.signing_secret = _secret(settings.signing_secret)
        if self.app_token:
            self.mode = "socket"
        elif self.signing_secret:
            self.mode = "http"
        else:
            self.mode = "send-only"
        # Alerts: no built-in retries, the dispatcher decides (see delivery_error).
        self.client = AsyncWebClient(
            token=self.token,
            base_url=settings.api_base_url,
            timeout=SEND_TIMEOUT,
            retry_handlers=[],
        )
        # Commands and replies: slack_sdk's default retry of a dropped connection is fine.
        self.command_client = AsyncWebClient(
            token=self.token, base_url=settings.api_base_url, timeout=SEND_TIMEOUT
        )
        self.bot_user_id: str | None = None
        self.bolt: AsyncApp | None = None
        self._service: CommandService | None = None
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._admins: Expiring[bool] = Expiring()
        self._locales: Expiring[str | None] = Expiring()
        self._locale_failed = False  # the first failure is a warning, the rest debug
        self._seen: OrderedDict[str, None] = OrderedDict()

    # -- lifecycle -----------------------------------------------------------------

    async def start(self, service: CommandService) -> None:
        """Check the token, then listen for commands in the configured mode.

        Raises:
            AdapterFatal: the token or app token was refused (the message says which).
        """
        self._service = service
        await self._check_token()
        self.bolt = self._build_bolt()
        if self.mode == "socket":
            await self._connect_socket(self.bolt)
        elif self.mode == "http":
            await self._serve_http()
        else:
            log.warning(
                "slack: neither app_token (Socket Mode) nor signing_secret (HTTP mode) is set; "
                "alerts are sent but /newsbot commands are not received",
                extra={"platform": "slack"},
            )

    async def stop(self) -> None:
        """Stop receiving, then let in-flight commands finish (up to STOP_GRACE seconds)."""
        if self._socket is not None:
            await self._socket.close_async()  # also ends a connect() still retrying
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=STOP_GRACE)

    async def connection_problem(self) -> str | None:
        """None when commands can arrive: the Socket Mode session is open, or the HTTP
        server listens (send-only has nothing to connect)."""
        if self.bolt is None:
            return "slack: not started"
        if self.mode == "socket":
            if self._socket is None or not await self._socket.client.is_connected():
                return "slack: Socket Mode is not connected"
        elif self.mode == "http" and self._runner is None:
            return "slack: not listening for HTTP requests"
        return None

    async def _check_token(self) -> None:
        try:
            answer = await self.command_client.auth_test()
        except SlackApiError as exc:
            decision = delivery_error(exc)
            if isinstance(decision, AdapterFatal):
                raise decision from exc
            log.warning(
                "slack: auth.test failed (%s); continuing", exc, extra={"platform": "slack"}
            )
            return
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "slack: cannot reach the Web API yet (%r); continuing",
                exc,
                extra={"platform": "slack"},
            )
            return
        self.bot_user_id = answer.get("user_id")
        log.info(
            "slack: signed in as %s in %s (%s mode)",
            answer.get("user"),
            answer.get("team"),
            self.mode,
            extra={"platform": "slack"},
        )

    def _build_bolt(self) -> AsyncApp:
        app = AsyncApp(
            name="newsbot",
            client=self.command_client,
            signing_secret=self.signing_secret,
            process_before_response=False,
            logger=log,
        )
        app.command("/newsbot")(self._on_slash_command)
        app.event("app_mention")(self._on_mention)
        app.event("message")(self._on_direct_message)
        app.action(re.compile("^" + ACTION_ID_PREFIX))(self._on_button)
        app.error(self._on_error)
        return app

    async def _serve_http(self) -> None:
        web_app = web.Application()
        web_app.router.add_post(EVENTS_PATH, self._http_request)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        host, port = _listen(self.settings.listen)
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise AdapterFatal(
                f"slack: cannot listen on {self.settings.listen} ({exc.strerror or exc}): "
                "change slack.listen or stop what uses that port"
            ) from exc
        log.info(
            "slack: HTTP mode, requests at http://%s%s",
            self.settings.listen,
            EVENTS_PATH,
            extra={"platform": "slack"},
        )

    async def _http_request(self, request: web.Request) -> web.Response:
        assert self.bolt is not None
        bolt_response = await self.bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def _connect_socket(self, bolt: AsyncApp) -> None:
        """Check the app token, then connect in the background.

        slack_sdk's ``connect()`` retries forever on any failure, a refused token included,
        so the token is checked here first (a refused one stops start-up with a clear
        message) and the connection itself never holds up start-up.
        """
        try:
            await self.command_client.apps_connections_open(app_token=self.app_token)
        except SlackApiError as exc:
            decision = delivery_error(exc)
            if isinstance(decision, AdapterFatal | PermanentError):
                _, error, _ = _response_parts(exc.response)
                raise AdapterFatal(
                    f"slack: Socket Mode refused the app token ({error}): set SLACK_APP_TOKEN "
                    "to an app-level token (xapp-…) with the connections:write scope"
                ) from exc
            log.warning(
                "slack: Socket Mode not available yet (%s); connecting in the background",
                decision,
                extra={"platform": "slack"},
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "slack: cannot reach Slack yet (%r); connecting in the background",
                exc,
                extra={"platform": "slack"},
            )
        self._socket = AsyncSocketModeHandler(bolt, app_token=self.app_token)
        self._connecting = asyncio.create_task(self._socket.connect_async())
        self._connecting.add_done_callback(_log_connected)

    # -- alerts ----------------------------------------------------------------------

    async def send_alert(self, chat_id: str, alert: Alert) -> str | None:
        """Post one alert as Block Kit; returns the message ``ts``."""
        return await self._post(chat_id, render_alert(alert))

    async def send_digest(self, chat_id: str, alerts: list[Alert]) -> str | None:
        """Post several alerts as one message; returns its ``ts``."""
        return await self._post(chat_id, render_digest(alerts))

    async def edit_alert(self, chat_id: str, message_id: str, alert: Alert) -> None:
        """Replace an alert's message, found by its ``ts`` (it names more sources), buttons
        and all; with ``slack.updates_in_thread`` the names also go to the alert's thread,
        where people following it are notified."""
        message = render_alert(alert)
        await self._call(
            self.client.chat_update(
                channel=chat_id, ts=message_id, text=message.text, blocks=message.blocks
            )
        )
        if self.settings.updates_in_thread and alert.also_reported_by:
            update = render_update(alert)
            await self._call(
                self.client.chat_postMessage(
                    channel=chat_id,
                    thread_ts=message_id,
                    text=update.text,
                    blocks=update.blocks,
                    unfurl_links=False,
                    unfurl_media=False,
                )
            )

    def is_group(self, chat_id: str) -> bool:
        """Channels are groups; a direct message with the bot is not."""
        return not is_direct_message(chat_id)

    async def _post(self, chat_id: str, message: Message) -> str | None:
        answer = await self._call(
            self.client.chat_postMessage(
                channel=chat_id,
                text=message.text,
                blocks=message.blocks,
                # The alert already carries title and summary; a preview would repeat them.
                unfurl_links=False,
                unfurl_media=False,
            )
        )
        ts = answer.get("ts")
        return str(ts) if ts else None

    @staticmethod
    async def _call(request: Awaitable[AsyncSlackResponse]) -> AsyncSlackResponse:
        """Awaits a Web API call; a platform error becomes the dispatcher's decision."""
        try:
            return await request
        except Exception as exc:
            decision = delivery_error(exc)
            if decision is None:
                # The request went out; slack_sdk could not read the answer (odd JSON).
                decision = UncertainDelivery(
                    f"slack: unreadable answer ({type(exc).__name__}), "
                    "the message may have been posted"
                )
            raise decision from exc

    # -- commands --------------------------------------------------------------------

    async def _on_slash_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        parsed = command_text(command.get("text", ""))
        channel_name = command.get("channel_name")
        caller = self._caller(
            command["channel_id"],
            command.get("user_id"),
            None if channel_name in ("directmessage", "privategroup") else channel_name,
        )
        task = self._track(self._handle(caller, parsed))
        done, _ = await asyncio.wait({task}, timeout=ACK_BUDGET)
        if done:
            reply = task.result()
            message = render_reply(reply.text)
            await ack(
                text=message.text, blocks=message.blocks, response_type=visibility(parsed, reply)
            )
            if reply.file is not None:
                self._track(self._upload(command["channel_id"], reply.file))
            return
        with speaking(await self._language_now(caller)):
            await ack(text=tr(msg.WORKING), response_type="ephemeral")
        self._track(self._respond_later(task, parsed, respond, command["channel_id"]))

    async def _respond_later(
        self, task: asyncio.Task[Reply], command: Command, respond: AsyncRespond, channel: str
    ) -> None:
        reply = await task
        if reply.file is not None:
            self._track(self._upload(channel, reply.file))
        message = render_reply(reply.text)
        try:
            await respond(
                text=message.text, blocks=message.blocks, response_type=visibility(command, reply)
            )
        except Exception:
            log.exception(
                "slack: answering /newsbot %s through the response URL failed",
                command.name,
                extra={"platform": "slack"},
            )

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if self._redelivered(body):
            return
        await self._answer_event(event, thread_ts=event.get("thread_ts") or event.get("ts"))

    async def _on_direct_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        # Only plain messages people send to the bot directly; edits, joins and bots are not.
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        if self._redelivered(body):
            return
        await self._answer_event(event, thread_ts=event.get("thread_ts"))

    async def _answer_event(self, event: dict[str, Any], thread_ts: str | None) -> None:
        channel, user = event["channel"], event.get("user")
        parsed = command_text(event.get("text", ""))
        if parsed.name == "import" and event.get("files"):
            parsed = await self._with_file(parsed, event["files"][0])
        reply = await self._track(self._handle(self._caller(channel, user, None), parsed))
        if reply.file is not None:
            self._track(self._upload(channel, reply.file, thread_ts))
        message = render_reply(reply.text)
        try:
            if visibility(parsed, reply) == "ephemeral" and user and not is_direct_message(channel):
                await self.command_client.chat_postEphemeral(
                    channel=channel,
                    user=user,
                    text=message.text,
                    blocks=message.blocks,
                    thread_ts=thread_ts,
                )
            else:
                await self.command_client.chat_postMessage(
                    channel=channel,
                    text=message.text,
                    blocks=message.blocks,
                    thread_ts=thread_ts,
                    unfurl_links=False,
                    unfurl_media=False,
                )
        except Exception:
            log.exception(
                "slack: replying to %s in %s failed",
                parsed.name,
                channel,
                extra={"chat": channel, "platform": "slack"},
            )

    async def _on_button(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """A press of a button under an alert, a digest or a "stop this rule?" question
        (``block_actions``, over Socket Mode or signed HTTP alike).

        What concerns only the presser (a refusal, "that rule is gone", the story's
        longer text, the question) is ephemeral; a change is posted in the alert's thread
        for the channel to see; the answer to the question replaces it.
        """
        await ack()
        pressed = (body.get("actions") or [{}])[0]
        action = parse_action(pressed.get("value"))
        channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get(
            "channel_id"
        )
        user = (body.get("user") or {}).get("id")
        if not channel:
            return
        reply = await self._track(self._act(self._caller(channel, user, None), action))
        message = render_reply(reply.text, reply.actions)
        try:
            await self._answer_button(channel, user, body, action, reply, message, respond)
        except Exception:
            log.exception(
                "slack: answering a button press in %s failed",
                channel,
                extra={"chat": channel, "platform": "slack"},
            )

    async def _with_file(self, command: Command, shared: dict[str, Any]) -> Command:
        """The command with the file shared in its message downloaded (with the bot token,
        from Slack only); one over ``MAX_FILE_BYTES`` is left on Slack."""
        name = str(shared.get("name") or "file")
        url = str(shared.get("url_private_download") or shared.get("url_private") or "")
        size = int(shared.get("size") or 0)
        if size > MAX_FILE_BYTES:
            return Command(command.name, command.args, (Attachment(name, b"", size),))
        if not is_slack_file(url, self.settings.api_base_url):
            log.warning("slack: file %s is not on Slack, not fetched", name)
            return command
        headers = {"Authorization": f"Bearer {self.token}"}
        timeout = aiohttp.ClientTimeout(total=SEND_TIMEOUT)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, headers=headers) as response,
            ):
                response.raise_for_status()
                data = await response.content.read(MAX_FILE_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack: downloading file %s failed: %s", name, exc)
            return command  # the reply says how to import
        if len(data) > MAX_FILE_BYTES:
            return Command(command.name, command.args, (Attachment(name, b"", len(data)),))
        return Command(command.name, command.args, (Attachment(name, data),))

    async def _upload(self, channel: str, file: Attachment, thread_ts: str | None = None) -> None:
        """Post a reply's file (files_upload_v2); a failure is logged, the reply was sent."""
        try:
            await self.command_client.files_upload_v2(
                channel=channel,
                file=file.data,
                filename=file.name,
                title=file.name,
                thread_ts=thread_ts,
            )
        except Exception:
            log.exception(
                "slack: uploading %s to %s failed",
                file.name,
                channel,
                extra={"chat": channel, "platform": "slack"},
            )

    async def _answer_button(
        self,
        channel: str,
        user: str | None,
        body: dict[str, Any],
        action: Action | None,
        reply: Reply,
        message: Message,
        respond: AsyncRespond,
    ) -> None:
        verb = action.verb if action is not None else None
        if verb in (Verb.STOP_YES, Verb.STOP_NO) and not reply.brief:
            await respond(delete_original=True)  # the question goes; its answer follows
            if verb is Verb.STOP_YES:  # a change: the channel sees it
                await self.command_client.chat_postMessage(
                    channel=channel, text=message.text, blocks=message.blocks
                )
                return
        elif not (reply.private or reply.actions):  # a change, in the alert's thread
            await self.command_client.chat_postMessage(
                channel=channel,
                thread_ts=(body.get("message") or {}).get("ts"),
                text=message.text,
                blocks=message.blocks,
            )
            return
        if user:  # refusals, "gone", the story's longer text, the question, "kept"
            await self.command_client.chat_postEphemeral(
                channel=channel, user=user, text=message.text, blocks=message.blocks
            )

    async def _language_now(self, caller: Caller) -> str | None:
        """The language of the command's reply, for what is said before it, within
        ``LANGUAGE_BUDGET`` (the acknowledgement cannot wait longer): the user's locale if
        ``users.info`` already told it (the command asked), else the channel's language;
        None (English) when the database is slower than that."""
        assert self._service is not None
        _, locale = self._locales.get(caller.user_id or "", time.monotonic())
        try:
            async with asyncio.timeout(LANGUAGE_BUDGET):
                return await self._service.language_for(replace(caller, language=locale))
        except Exception as exc:  # a nicety: "Working on it…" goes out in English
            log.warning("slack: reading the language of %s failed: %r", caller.chat_id, exc)
            return None

    async def _act(self, caller: Caller, action: Action | None) -> Reply:
        assert self._service is not None
        caller = replace(caller, language=await self.user_locale(caller.user_id))
        return await self._service.act(caller, action)  # never raises

    async def _handle(self, caller: Caller, command: Command) -> Reply:
        assert self._service is not None
        # Inside the task the slash command's acknowledgement waits for, so a slow
        # users.info delays the reply, not the acknowledgement.
        caller = replace(caller, language=await self.user_locale(caller.user_id))
        return await self._service.answer(caller, command)  # never raises

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error(
            "slack: unhandled error in a bolt listener: %r",
            error,
            exc_info=error,
            extra={"platform": "slack"},
        )

    def _redelivered(self, body: dict[str, Any]) -> bool:
        """Slack redelivers an event it thinks we missed; answer each event id once."""
        event_id = body.get("event_id")
        if not event_id:
            return False
        if event_id in self._seen:
            return True
        self._seen[event_id] = None
        while len(self._seen) > SEEN_EVENTS:
            self._seen.popitem(last=False)
        return False

    def _track(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- permissions -----------------------------------------------------------------

    def _caller(self, channel_id: str, user_id: str | None, title: str | None) -> Caller:
        return Caller(
            platform=self.platform,
            chat_id=channel_id,
            user_id=user_id,
            chat_title=title,
            may_edit=self._editor_check(channel_id, user_id),
        )

    def _editor_check(
        self, channel_id: str, user_id: str | None
    ) -> Callable[[], Awaitable[bool]] | None:
        """Who may change a channel's rules (``slack.editors``); None means anyone.

        In a direct message the user is the only member, so it is theirs to change.
        """
        if self.settings.editors == "anyone" or is_direct_message(channel_id):
            return None
        if self.settings.editors == "list":
            allowed = user_id is not None and user_id in self.settings.editor_ids

            async def listed() -> bool:
                return allowed

            return listed

        async def admin() -> bool:
            return user_id is not None and await self.is_workspace_admin(user_id)

        return admin

    async def is_workspace_admin(self, user_id: str) -> bool:
        """Whether ``users.info`` says the user is a workspace admin or owner (cached)."""
        known, allowed = self._admins.get(user_id, time.monotonic())
        if known:
            return bool(allowed)
        try:
            await self._user_info(user_id)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "slack: users.info for %s failed (%r); treating as not an admin",
                user_id,
                exc,
                extra={"platform": "slack"},
            )
            return False
        return bool(self._admins.get(user_id, time.monotonic())[1])

    async def user_locale(self, user_id: str | None) -> str | None:
        """The user's Slack locale (``de-DE``) from ``users.info``, cached for a day.

        Slack's events and slash commands do not carry it. Never raises: without the
        ``users:read`` scope, or when Slack does not answer within ``LOCALE_TIMEOUT``, it
        is None (the chat's own language, English unless set) and asked again later.
        """
        if not user_id:
            return None
        known, locale = self._locales.get(user_id, time.monotonic())
        if known:
            return locale
        try:
            async with asyncio.timeout(LOCALE_TIMEOUT):
                return await self._user_info(user_id)
        # Any failure: a language is a nicety, the command must still be answered.
        except Exception as exc:
            self._locales.put(user_id, None, LOCALE_RETRY_SECONDS, time.monotonic())
            level = logging.DEBUG if self._locale_failed else logging.WARNING
            self._locale_failed = True
            log.log(
                level,
                "slack: users.info for %s failed (%r); replies follow the chat's language, "
                "not the user's locale (users.info needs the users:read scope)",
                user_id,
                exc,
                extra={"platform": "slack"},
            )
            return None

    async def _user_info(self, user_id: str) -> str | None:
        """Ask ``users.info`` once and remember both the admin flag and the locale."""
        answer = await self.command_client.users_info(user=user_id, include_locale=True)
        user = answer.get("user") or {}
        allowed = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        locale = user.get("locale") if isinstance(user.get("locale"), str) else None
        now = time.monotonic()
        self._admins.put(user_id, allowed, ADMIN_CACHE_SECONDS, now)
        self._locales.put(user_id, locale, LOCALE_CACHE_SECONDS, now)
        return locale
