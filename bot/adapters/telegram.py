"""The Telegram adapter, on python-telegram-bot's Application.

Updates arrive by long polling (default) or by webhook (an aiohttp server checking
Telegram's secret-token header); commands go to the platform-free
:class:`~bot.commands.service.CommandService` and replies go back as plain text. Alerts are
sent as HTML (see :mod:`bot.adapters.telegram_render`), and every Telegram error of a send
becomes one of the decisions in :mod:`bot.delivery.platform`, which the dispatcher acts on.

PTB's Application is started inside our running loop (``initialize``/``start`` and the
updater), never ``run_polling``, which would own the loop. PTB retries nothing on sends
(no rate limiter is installed), so every retry is the dispatcher's decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    Document,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram import error as tg
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    Updater,
    filters,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.adapters.telegram_render import (
    alert_keyboard,
    digest_keyboard,
    keyboard,
    render_alert,
    render_digest,
    split_text,
)
from bot.commands import messages as msg
from bot.commands.actions import Action, Verb, parse_action
from bot.commands.parse import COMMANDS, Attachment, Command, parse_slash
from bot.commands.service import Caller, CommandService, Reply
from bot.config import TelegramSettings
from bot.delivery.alert import Alert
from bot.delivery.platform import (
    AdapterFatal,
    ChatGone,
    ChatMigrated,
    PermanentError,
    RateLimits,
    RetryAfter,
    TransientError,
    UncertainDelivery,
)
from bot.errors import DeliveryError
from bot.i18n import DEFAULT as DEFAULT_LANGUAGE
from bot.i18n import LANGUAGES, speaking, supported, tr
from bot.lease import Lease

# PTB 22 reports time periods (retry_after, ...) as int with a deprecation warning, raised
# even while it builds its own RetryAfter; opting in to timedelta, the future default,
# silences that. Read at each use by PTB, so setting it here at import is enough.
os.environ.setdefault("PTB_TIMEDELTA", "true")

log = logging.getLogger(__name__)

PLATFORM = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
ALLOWED_UPDATES = ("message", "channel_post", "callback_query")
# A forum topic deleted since a rule was added there: its alerts go to the general topic.
THREAD_GONE = "message thread not found"
CALLBACK_TEXT_LIMIT = 200  # characters of an answerCallbackQuery text
REPLY_RETRY_LIMIT = 30.0  # seconds; a reply that must wait longer is dropped (and logged)
MAX_FILE_BYTES = 1_000_000  # a larger file sent with a command is not downloaded


# 400 answers that mean the bot can never post in this chat, not that this message is bad.
_CHAT_UNUSABLE = (
    "chat not found",
    "have no rights to send",
    "not enough rights to send",
    "need administrator rights in the channel",
)


def retry_seconds(exc: tg.RetryAfter) -> float:
    """Seconds to wait from a PTB RetryAfter, whichever type PTB hands out (int or timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def to_decision(exc: tg.TelegramError) -> DeliveryError:
    """What the dispatcher should do about a failed send.

    A timeout after the request may have reached Telegram is *uncertain*: re-sending it
    could post the alert twice, so it is never retried blindly. A failure before the
    request left (no connection, pool exhausted) is transient and retried.
    """
    if isinstance(exc, tg.RetryAfter):
        return RetryAfter(retry_seconds(exc), "telegram: flood control")
    if isinstance(exc, tg.ChatMigrated):
        return ChatMigrated(str(exc.new_chat_id))
    if isinstance(exc, tg.Forbidden):
        return ChatGone(f"telegram: {exc.message} (send /subscribe there to resume)")
    if isinstance(exc, tg.InvalidToken):
        # str(exc) may quote the token: never put it in a message that is logged.
        return AdapterFatal(
            "telegram: the bot token was refused — check TELEGRAM_BOT_TOKEN (BotFather: /token) "
            "and telegram.api_base_url"
        )
    if exc.message == "Invalid server response":
        # Telegram answered, but not in a form PTB can read: the message may have arrived.
        return UncertainDelivery("telegram: unreadable answer, the message may have arrived")
    if isinstance(exc, tg.EndPointNotFound):
        return AdapterFatal(f"telegram: {exc.message} — check telegram.api_base_url")
    if isinstance(exc, tg.BadRequest):  # before NetworkError: PTB derives it from that
        if any(phrase in exc.message.lower() for phrase in _CHAT_UNUSABLE):
            return ChatGone(f"telegram: {exc.message}")
        return PermanentError(f"telegram refused the message: {exc.message}")
    if isinstance(exc, tg.NetworkError):
        cause = exc.__cause__
        not_sent = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError)
        if isinstance(exc, tg.TimedOut) and not isinstance(cause, not_sent):
            return UncertainDelivery(
                f"telegram: no answer in time, the message may have arrived ({exc.message})"
            )
        if isinstance(cause, httpx.ReadError | httpx.RemoteProtocolError):
            return UncertainDelivery(f"telegram: connection lost after sending ({exc.message})")
        return TransientError(f"telegram: {exc.message}")
    return TransientError(f"telegram: {exc.message}")


def topic_name(message: Message) -> str | None:
    """The name of the forum topic a message was sent in, when Telegram shows it: a
    message in a topic answers the topic's creation, which carries the name it was
    created with."""
    if not message.is_topic_message or message.reply_to_message is None:
        return None
    created = message.reply_to_message.forum_topic_created
    return created.name if created is not None else None


def webhook_secret(settings: TelegramSettings, token: str) -> str:
    """The secret Telegram puts in every webhook request's header.

    Without a configured one it is derived from the token, so every replica behind a load
    balancer computes the same value (a random one per process would lock the others out).
    """
    if settings.webhook_secret and settings.webhook_secret.get_secret_value():
        return settings.webhook_secret.get_secret_value()
    return hmac.new(token.encode(), b"newsbot telegram webhook", hashlib.sha256).hexdigest()


def chat_key(chat_id: str) -> int | str:
    """Telegram wants numeric chat ids as numbers; ``@channelname`` stays text."""
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


class PollingRequest(HTTPXRequest):
    """The connection getUpdates uses, remembering how its last call ended (``/readyz``).

    python-telegram-bot retries a failing long poll on its own and tells nothing when it
    succeeds again; the outcome of the last call is the truth about "connected".
    """

    problem: str | None = None

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        try:
            code, payload = await super().do_request(*args, **kwargs)
        except tg.TelegramError as exc:
            # The class only: a transport error's text may quote the URL, which holds the token.
            self.problem = f"getUpdates failed ({type(exc).__name__})"
            raise
        if code == 409:
            self.problem = "getUpdates answered 409 Conflict: another process polls this token"
        elif code != 200:
            self.problem = f"getUpdates answered HTTP {code}"
        else:
            self.problem = None
        return code, payload


class TelegramAdapter:
    """Commands in, alerts out, for one bot token."""

    platform = PLATFORM
    limits = RateLimits(per_chat_interval=1.0, group_per_minute=20, global_per_second=30.0)

    def __init__(
        self,
        settings: TelegramSettings,
        *,
        request_timeout: float = 10.0,
        poll_timeout: float = 30.0,
        start_attempts: int = 3,
        updates_lease: Lease | None = None,
    ) -> None:
        """Args:
        settings: The ``telegram`` settings.
        request_timeout: Seconds a Bot API call may take.
        poll_timeout: Seconds a long poll (getUpdates) waits for updates.
        start_attempts: Tries of getMe (and of the first getUpdates) at start.
        updates_lease: With several replicas, the lease on getUpdates: only its holder
            polls (Telegram answers 409 Conflict to a second poller); the others stand
            by, sending alerts. None: this process polls whenever it runs.
        """
        if settings.token is None or not settings.token.get_secret_value():
            raise AdapterFatal("telegram: no token — set telegram.token (TELEGRAM_BOT_TOKEN)")
        self.settings = settings
        self.request_timeout = request_timeout
        self.poll_timeout = poll_timeout
        self.start_attempts = max(start_attempts, 1)
        self.username: str | None = None
        self._token = settings.token.get_secret_value()
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._service: CommandService | None = None
        self._webhook: web.AppRunner | None = None
        self._chat_locks: dict[int, tuple[asyncio.Lock, int]] = {}
        self._migrations = asyncio.Lock()
        self._polling: PollingRequest | None = None
        self._updates_lease = updates_lease
        self._lease_keeper: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------

    async def start(self, service: CommandService) -> None:
        """Check the token, register the command menu, and start receiving updates.

        Raises:
            AdapterFatal: the token is refused, or Telegram cannot be reached at all.
        """
        self._service = service
        app = self._build_application()
        self._app = app
        await self._initialize(app)
        self.username = app.bot.username
        await app.start()
        await self._register_commands()
        if self.settings.mode == "webhook":
            await self._start_webhook()
        elif self._updates_lease is None:
            await self._start_polling()
        else:
            await self._poll_while_leased(self._updates_lease)  # first look before "started"
            self._lease_keeper = asyncio.create_task(
                self._keep_lease(self._updates_lease), name="telegram-updates-lease"
            )
        log.info(
            "telegram: @%s receiving updates by %s",
            self.username,
            self.settings.mode,
            extra={"platform": PLATFORM},
        )

    async def _start_polling(self) -> None:
        updater = self._updater()
        await updater.start_polling(
            timeout=timedelta(seconds=self.poll_timeout),
            allowed_updates=list(ALLOWED_UPDATES),
            bootstrap_retries=self.start_attempts,
            error_callback=self._on_polling_error,
        )

    def _updater(self) -> Updater:
        assert self._app is not None and self._app.updater is not None  # polling mode
        return self._app.updater

    async def _keep_lease(self, lease: Lease) -> None:
        """Poll while this replica holds the lease on getUpdates, stand by while another
        does; renewed every beat, taken over when its holder died."""
        while True:
            await asyncio.sleep(lease.beat)
            try:
                await self._poll_while_leased(lease)
            except Exception:
                log.exception("telegram: starting or stopping getUpdates failed")

    async def _poll_while_leased(self, lease: Lease) -> None:
        held, updater = await lease.hold(), self._updater()
        if held and not updater.running:
            log.info("telegram: polling for updates (this replica holds the lease)")
            await self._start_polling()
        elif not held and updater.running:
            log.info("telegram: another replica polls for updates; standing by")
            await updater.stop()

    async def stop(self) -> None:
        """Stop receiving, let running handlers finish (they still reply), close connections."""
        if self._lease_keeper is not None:
            self._lease_keeper.cancel()
            await asyncio.gather(self._lease_keeper, return_exceptions=True)
            self._lease_keeper = None
        if self._webhook is not None:
            # The webhook stays registered on purpose: Telegram keeps updates while we are
            # down, and other replicas may still be serving it.
            await self._webhook.cleanup()
            self._webhook = None
        app = self._app
        if app is None:
            return
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()  # waits for the handlers in flight
        await app.shutdown()
        self._app = None
        if self._updates_lease is not None:
            # Once the connections are closed: a long poll the updater abandoned may
            # still be open until then, and the next holder's poll must not overlap it.
            await self._updates_lease.release()

    @property
    def polls(self) -> bool:
        """Whether this process polls Telegram for updates now (with a lease on
        getUpdates, only the replica holding it does)."""
        app = self._app
        return app is not None and app.updater is not None and app.updater.running

    async def connection_problem(self) -> str | None:
        """None while updates arrive: the webhook is served, or the last getUpdates
        succeeded (one in flight after a success counts as connected), or another
        replica holds the lease on getUpdates and this one stands by."""
        app = self._app
        if app is None or not app.running:
            return "telegram: not started"
        if self.settings.mode == "webhook":
            return None if self._webhook is not None else "telegram: webhook not served"
        if app.updater is None or not app.updater.running:
            if self._updates_lease is not None and self._lease_keeper is not None:
                return None  # standing by: another replica polls; sending works here
            return "telegram: not polling for updates"
        if self._polling is not None and self._polling.problem:
            return f"telegram: {self._polling.problem}"
        return None

    def _build_application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        base = self.settings.api_base_url.rstrip("/")
        timeout = self.request_timeout
        self._polling = PollingRequest(connection_pool_size=2, read_timeout=timeout)
        builder = (
            Application.builder()
            .token(self._token)
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            .request(
                HTTPXRequest(
                    connection_pool_size=64,
                    connect_timeout=timeout,
                    read_timeout=timeout,
                    write_timeout=timeout,
                    pool_timeout=timeout,
                )
            )
            .get_updates_request(self._polling)
            # Commands of different chats run side by side (an addfeed may take seconds);
            # within one chat they keep their order through _chat_turn.
            .concurrent_updates(True)
            .job_queue(None)
        )
        if self.settings.mode == "webhook":
            builder = builder.updater(None)  # our aiohttp server feeds the update queue
        app = builder.build()
        app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self._on_migrate))
        app.add_handler(
            MessageHandler(
                filters.StatusUpdate.FORUM_TOPIC_CREATED | filters.StatusUpdate.FORUM_TOPIC_EDITED,
                self._on_topic,
            )
        )
        app.add_handler(
            MessageHandler(
                filters.COMMAND & (filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST),
                self._on_command,
            )
        )
        app.add_handler(CallbackQueryHandler(self._on_button))
        # A file sent with a command in its caption ("/import" on an OPML document).
        app.add_handler(
            MessageHandler(
                filters.Document.ALL
                & filters.CaptionRegex(r"^/")
                & (filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST),
                self._on_command,
            )
        )
        app.add_error_handler(self._on_error)
        return app

    async def _initialize(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """getMe, with a few retries when Telegram is briefly unreachable at boot."""
        for attempt in range(1, self.start_attempts + 1):
            try:
                await app.initialize()
                return
            except tg.InvalidToken:
                await app.bot.shutdown()
                # from None: PTB's message and traceback quote the token.
                raise to_decision(tg.InvalidToken()) from None
            except tg.TelegramError as exc:
                if attempt == self.start_attempts:
                    await app.bot.shutdown()
                    raise AdapterFatal(
                        f"telegram: cannot reach {self.settings.api_base_url} ({exc.message}) "
                        "— check the network or telegram.api_base_url"
                    ) from exc
                log.warning(
                    "telegram: getMe failed (%s), retrying",
                    exc.message,
                    extra={"platform": PLATFORM},
                )
                await asyncio.sleep(min(2.0**attempt, 30.0))

    async def _register_commands(self) -> None:
        """The "/" menu in Telegram clients. Failing here is not fatal: commands still work."""
        try:
            # The default menu in English, and one for each user whose app speaks another
            # language the bot does.
            for language in LANGUAGES:
                with speaking(language):
                    commands = [BotCommand(name, tr(msg.COMMAND_MENU[name])) for name in COMMANDS]
                code = None if language == DEFAULT_LANGUAGE else language
                await self._bot().set_my_commands(commands, language_code=code)
        except tg.TelegramError as exc:
            log.warning(
                "telegram: setMyCommands failed: %s; the command menu may be outdated",
                exc.message,
                extra={"platform": PLATFORM},
            )

    # -- webhook ----------------------------------------------------------------

    async def _start_webhook(self) -> None:
        host, _, port = self.settings.listen.rpartition(":")
        url = self.settings.webhook_url
        assert url is not None  # the settings refuse webhook mode without it
        server = web.Application(client_max_size=1 << 20)
        server.router.add_post(urlsplit(url).path or "/", self._on_webhook)
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host.strip("[]"), int(port)).start()
        except OSError as exc:
            await runner.cleanup()
            raise AdapterFatal(
                f"telegram: cannot listen on {self.settings.listen} ({exc.strerror or exc}): "
                "change telegram.listen or stop what uses that port"
            ) from exc
        self._webhook = runner
        try:
            await self._bot().set_webhook(
                url=url,
                secret_token=webhook_secret(self.settings, self._token),
                allowed_updates=list(ALLOWED_UPDATES),
            )
        except tg.TelegramError as exc:
            raise AdapterFatal(f"telegram: setWebhook {url} refused: {exc.message}") from exc

    async def _on_webhook(self, request: web.Request) -> web.Response:
        """One update POSTed by Telegram; anything without the secret header is refused."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(
            given.encode(), webhook_secret(self.settings, self._token).encode()
        ):
            log.warning(
                "telegram: webhook request without the right secret from %s",
                request.remote,
                extra={"platform": PLATFORM},
            )
            return web.Response(status=403)
        app = self._app
        if app is None:
            return web.Response(status=503)  # stopping: Telegram delivers it again later
        try:
            data = await request.json()
            update = Update.de_json(data, app.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning(
                "telegram: unreadable webhook update: %r", exc, extra={"platform": PLATFORM}
            )
            return web.Response(status=400)
        await app.update_queue.put(update)
        return web.Response()

    # -- commands ---------------------------------------------------------------

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        chat = update.effective_chat
        text = message.text or message.caption if message else None
        if message is None or chat is None or not text or self._service is None:
            return
        command = parse_slash(text, self.username)
        if command is None:
            return  # addressed to another bot
        private = chat.type == ChatType.PRIVATE
        addressed = "@" in text.split(maxsplit=1)[0]
        if command.name not in COMMANDS and not (private or addressed):
            return  # a group's "/other" may be for another bot; only answer when named
        caller = Caller(
            platform=PLATFORM,
            chat_id=str(chat.id),
            user_id=str(message.from_user.id) if message.from_user else None,
            chat_title=chat.effective_name,
            may_edit=self._permission(message),
            thread_id=str(message.message_thread_id) if message.is_topic_message else None,
            topic_name=topic_name(message),
            language=message.from_user.language_code if message.from_user else None,
        )
        async with self._chat_turn(chat.id):
            if command.name == "import":
                command = await self._with_document(message, command)
            reply = await self._service.answer(caller, command)  # never raises
            await self._reply(message, reply)  # a failure here goes to _on_error

    async def _with_document(self, message: Message, command: Command) -> Command:
        """The command with the document sent with it, or with the message it answers,
        downloaded (getFile); one over ``MAX_FILE_BYTES`` is left on Telegram."""
        replied = message.reply_to_message
        document: Document | None = message.document or (replied.document if replied else None)
        if document is None:
            return command
        name = document.file_name or "file"
        size = document.file_size or 0
        if size > MAX_FILE_BYTES:
            return Command(command.name, command.args, (Attachment(name, b"", size),))
        file = await self._bot().get_file(document.file_id)
        data = bytes(await file.download_as_bytearray())
        return Command(command.name, command.args, (Attachment(name, data),))

    def _permission(self, message: Message) -> Callable[[], Awaitable[bool]] | None:
        """Who may change this chat: anyone in a private chat, else its administrators."""
        chat = message.chat
        if chat.type == ChatType.PRIVATE:
            return None
        sender_chat = message.sender_chat
        if sender_chat is not None or message.from_user is None:
            # Sent on behalf of a chat: the chat itself means an anonymous admin of a group,
            # or a channel post (only admins can post in a channel). Any other chat, e.g. a
            # linked channel or a user posting as their channel, is not an admin here.
            allowed = sender_chat is not None and sender_chat.id == chat.id

            async def fixed() -> bool:
                return allowed

            return fixed
        return self._admin_check(chat.id, message.from_user.id)

    def _admin_check(self, chat_id: int, user_id: int) -> Callable[[], Awaitable[bool]]:
        async def is_admin() -> bool:
            member = await self._bot().get_chat_member(chat_id, user_id)
            return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)

        return is_admin

    # -- buttons ----------------------------------------------------------------

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press of a button under an alert, a digest or a "stop this rule?" question.

        Answers that concern only the presser (a refusal, "that rule is gone") come back
        as the callback's toast; a change is announced in the chat, replying to the
        alert; the answer to "stop this rule?" replaces the question.
        """
        query = update.callback_query
        if query is None or self._service is None:
            return
        message = query.message
        if not isinstance(message, Message):  # too old for Telegram to show us
            # No chat to read a language from: the presser's app language, if spoken.
            with speaking(supported(query.from_user.language_code)):
                await query.answer(tr(msg.BUTTON_UNKNOWN))
            return
        chat = message.chat
        action = parse_action(query.data)
        caller = Caller(
            platform=PLATFORM,
            chat_id=str(chat.id),
            user_id=str(query.from_user.id),
            chat_title=chat.effective_name,
            may_edit=None
            if chat.type == ChatType.PRIVATE
            else self._admin_check(chat.id, query.from_user.id),
            language=query.from_user.language_code,
        )
        async with self._chat_turn(chat.id):
            reply = await self._service.act(caller, action)  # never raises
            await self._answer_button(query, message, action, reply)

    async def _answer_button(
        self, query: CallbackQuery, message: Message, action: Action | None, reply: Reply
    ) -> None:
        if reply.brief:
            await query.answer(reply.text[:CALLBACK_TEXT_LIMIT], show_alert=False)
            return
        await query.answer()
        if action is not None and action.verb in (Verb.STOP_YES, Verb.STOP_NO):
            await message.edit_text(reply.text, reply_markup=None)
            return
        await self._reply(message, reply)

    async def _reply(self, message: Message, reply: Reply) -> None:
        """Plain text back to the chat (no parse mode, so nothing needs escaping), its
        buttons under the last message, then the file sent with the reply as a document
        (sendDocument)."""
        quote = (
            None
            if message.chat.type in (ChatType.PRIVATE, ChatType.CHANNEL)
            else ReplyParameters(message.message_id, allow_sending_without_reply=True)
        )
        buttons = keyboard(reply.actions)
        chunks = split_text(reply.text)
        for number, chunk in enumerate(chunks):
            last = number == len(chunks) - 1
            await self._send_reply_chunk(
                message, chunk, quote if number == 0 else None, buttons if last else None
            )
        if reply.file is not None:
            await self._bot().send_document(
                chat_id=message.chat.id,
                document=InputFile(reply.file.data, filename=reply.file.name),
                message_thread_id=message.message_thread_id if message.is_topic_message else None,
            )

    async def _send_reply_chunk(
        self,
        message: Message,
        text: str,
        quote: ReplyParameters | None,
        buttons: InlineKeyboardMarkup | None = None,
    ) -> None:
        send = lambda: self._bot().send_message(  # noqa: E731 - sent twice at most
            chat_id=message.chat.id,
            text=text,
            reply_parameters=quote,
            message_thread_id=message.message_thread_id if message.is_topic_message else None,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_markup=buttons,
        )
        try:
            await send()
        except tg.RetryAfter as exc:
            seconds = retry_seconds(exc)
            if seconds > REPLY_RETRY_LIMIT:
                raise
            await asyncio.sleep(seconds)
            await send()

    @contextlib.asynccontextmanager
    async def _chat_turn(self, chat_id: int) -> AsyncIterator[None]:
        """One command at a time per chat, so "/watch" then "/rules" answer in order."""
        lock, users = self._chat_locks.get(chat_id, (asyncio.Lock(), 0))
        self._chat_locks[chat_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._chat_locks[chat_id]
            if users <= 1:
                del self._chat_locks[chat_id]
            else:
                self._chat_locks[chat_id] = (lock, users - 1)

    async def _on_topic(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A forum topic was created or renamed (a service message in it): ``rules``
        names the topic's rules by it. An edit that changes only the icon has no name."""
        message = update.effective_message
        if message is None or self._service is None or message.message_thread_id is None:
            return
        changed = message.forum_topic_created or message.forum_topic_edited
        name = changed.name if changed is not None else None
        if name:
            await self._service.name_topic(
                PLATFORM, str(message.chat.id), str(message.message_thread_id), name
            )

    async def _on_migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A group became a supergroup: its rules and feeds follow it to the new id now,
        not only when the next alert bounces, so commands there see them at once."""
        message = update.effective_message
        if message is None or self._service is None:
            return
        if message.migrate_to_chat_id:
            old, new = message.chat.id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id:
            old, new = message.migrate_from_chat_id, message.chat.id
        else:
            return
        async with self._migrations:  # both service messages arrive; the second finds nothing
            await self._service.follow_migration(PLATFORM, str(old), str(new))
        log.info(
            "telegram: chat %s migrated to %s; rules follow it",
            old,
            new,
            extra={"platform": PLATFORM, "chat": str(new)},
        )

    # -- the error funnel -------------------------------------------------------

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every exception of a handler ends here and is logged with its chat."""
        chat = update.effective_chat if isinstance(update, Update) else None
        log.error(
            "telegram: handling an update failed: %r",
            context.error,
            exc_info=context.error,
            extra={"platform": PLATFORM, "chat": str(chat.id) if chat else "-"},
        )

    def _on_polling_error(self, exc: tg.TelegramError) -> None:
        if isinstance(exc, tg.Conflict):
            log.error(
                "telegram: another process is polling this bot token — run one poller, "
                "or use telegram.mode: webhook for several replicas",
                extra={"platform": PLATFORM},
            )
        else:
            log.warning(
                "telegram: getUpdates failed: %s", exc.message, extra={"platform": PLATFORM}
            )

    # -- alerts -----------------------------------------------------------------

    async def send_alert(self, chat_id: str, alert: Alert) -> str | None:
        """Send one alert as HTML with its buttons, into its rule's forum topic if it has
        one; see :func:`to_decision` for the errors raised."""
        buttons = alert_keyboard(alert)
        text = render_alert(alert)
        if alert.thread_id is None or not alert.thread_id.isdigit():
            return await self._send_html(chat_id, text, buttons, silent=alert.silent)
        try:
            return await self._send_html(
                chat_id, text, buttons, int(alert.thread_id), silent=alert.silent
            )
        except PermanentError as exc:
            if THREAD_GONE not in str(exc).lower():
                raise
            log.warning(
                "telegram: forum topic %s is gone; alert sent to the general topic "
                "(send watch in a topic to route the rule again)",
                alert.thread_id,
                extra={"platform": PLATFORM, "chat": chat_id},
            )
        return await self._send_html(chat_id, text, buttons, silent=alert.silent)

    async def send_digest(self, chat_id: str, alerts: list[Alert]) -> str | None:
        """Send several alerts as one message, with a "mute all" button; raises as
        :meth:`send_alert`."""
        silent = all(alert.silent for alert in alerts)  # in the chat's quiet hours
        return await self._send_html(
            chat_id, render_digest(alerts), digest_keyboard(), silent=silent
        )

    async def edit_alert(self, chat_id: str, message_id: str, alert: Alert) -> None:
        """Replace an alert's text (it names more sources); an unchanged text is no error."""
        try:
            await self._bot().edit_message_text(
                chat_id=chat_key(chat_id),
                message_id=int(message_id),
                text=render_alert(alert),
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=not self.settings.link_preview),
                reply_markup=alert_keyboard(alert),  # an edit without it would drop them
            )
        except tg.BadRequest as exc:
            if "message is not modified" not in exc.message.lower():
                raise to_decision(exc) from exc
        except tg.TelegramError as exc:
            raise to_decision(exc) from exc

    def is_group(self, chat_id: str) -> bool:
        """Groups, supergroups and channels have negative ids (or an @name for channels)."""
        return chat_id.startswith(("-", "@"))

    async def _send_html(
        self,
        chat_id: str,
        text: str,
        buttons: InlineKeyboardMarkup | None = None,
        thread_id: int | None = None,
        *,
        silent: bool = False,
    ) -> str:
        if self._app is None:
            raise TransientError("telegram: the adapter is not running")
        try:
            message = await self._app.bot.send_message(
                chat_id=chat_key(chat_id),
                text=text,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=not self.settings.link_preview),
                reply_markup=buttons,
                message_thread_id=thread_id,
                disable_notification=silent or None,
            )
        except tg.TelegramError as exc:
            raise to_decision(exc) from exc
        except Exception as exc:
            # The request went out; PTB could not make a Message of the answer.
            raise UncertainDelivery(
                f"telegram: unreadable answer ({type(exc).__name__}), the message may have arrived"
            ) from exc
        return str(message.message_id)

    def _bot(self) -> Bot:
        if self._app is None:
            raise TransientError("telegram: the adapter is not running")
        return self._app.bot
