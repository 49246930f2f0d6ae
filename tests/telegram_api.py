"""A local stand-in of the Telegram Bot API, served over HTTP on 127.0.0.1.

The real python-telegram-bot talks to it exactly as to api.telegram.org. It records every
call, serves queued updates to getUpdates (long polling included), answers getChatMember
from a table the test fills, and can be told to fail or stall the next calls of a method
(429 with ``retry_after``, 403, 400 with ``migrate_to_chat_id``, a slow answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")

BOT_ID = 777000111
# The placeholder user Telegram sends an anonymous group admin's messages from.
GROUP_ANONYMOUS_BOT = 1087968824
TEXT_FIELDS = {"text", "parse_mode", "url", "secret_token", "description", "first_name"}


@dataclass
class Call:
    """One request the bot made: the method and its decoded parameters."""

    method: str
    params: dict[str, Any]
    outcome: str = "ok"  # "ok", "failed 429", "stalled"
    at: float = field(default_factory=time.monotonic)
    # getUpdates only: came while another connection's getUpdates was open (Telegram
    # would answer 409 Conflict: two processes poll one token).
    overlapped: bool = False


@dataclass
class _Script:
    status: int = 200
    description: str = ""
    parameters: dict[str, Any] | None = None
    stall: float = 0.0  # seconds to wait before answering (the message is kept)
    garbled: str | None = None  # the call is carried out, answered with this body


@dataclass
class FakeBotAPI:
    """The Bot API of one bot; ``url`` is what goes into ``telegram.api_base_url``."""

    token: str = "123:ABC"
    username: str = "newsbot_test_bot"
    calls: list[Call] = field(default_factory=list)
    members: dict[tuple[int, int], str] = field(default_factory=dict)
    anonymous: set[tuple[int, int]] = field(default_factory=set)  # anonymous admins
    chats: dict[int, dict[str, Any]] = field(default_factory=dict)
    deleted_topics: set[tuple[int, int]] = field(default_factory=set)  # (chat, thread)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # file_id -> what getFile serves
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _scripts: dict[str, deque[_Script]] = field(default_factory=lambda: defaultdict(deque))
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _port: int = 0
    _closing: bool = False
    _polls: list[web.Request] = field(default_factory=list)  # getUpdates calls in flight

    # -- server -----------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._closing = True
        self._arrived.set()  # release long polls at once
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # -- what a test sets up ----------------------------------------------------

    def chat(
        self, chat_id: int, kind: str | None = None, title: str | None = None
    ) -> dict[str, Any]:
        """The Chat object of ``chat_id``; private for positive ids, else a (super)group."""
        if chat_id not in self.chats:
            if kind is None:
                kind = (
                    "private" if chat_id > 0 else "supergroup" if chat_id < -(10**12) else "group"
                )
            chat: dict[str, Any] = {"id": chat_id, "type": kind}
            if kind == "private":
                chat["first_name"] = f"User{chat_id}"
            else:
                chat["title"] = title or f"Chat {chat_id}"
            self.chats[chat_id] = chat
        return self.chats[chat_id]

    def set_member(
        self, chat_id: int, user_id: int, status: str, *, anonymous: bool = False
    ) -> None:
        """getChatMember answers ``status`` (creator, administrator, member, left);
        ``anonymous``: an admin who stays anonymous in the group (``is_anonymous``)."""
        self.members[(chat_id, user_id)] = status
        if anonymous:
            self.anonymous.add((chat_id, user_id))

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; returns its update_id."""
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **update})
        self._arrived.set()
        return update_id

    def message_update(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        kind: str | None = None,
        sender_chat: int | None = None,
        language_code: str | None = None,
        anonymous: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """A ``message`` (or, in a channel, ``channel_post``) update with ``text``; a leading
        ``/command`` gets its bot_command entity as Telegram sets it. ``anonymous``: sent by
        an anonymous admin of the group, as Telegram marks one: on behalf of the group
        itself (``sender_chat``), from the placeholder user GroupAnonymousBot."""
        chat = self.chat(chat_id, kind)
        if "reply_to_message" in extra:
            extra["reply_to_message"] = {**extra["reply_to_message"], "chat": chat}
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "text": text,
            **extra,
        }
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split(maxsplit=1)[0])}
            ]
        if sender_chat is not None:
            message["sender_chat"] = self.chat(
                sender_chat, "channel" if sender_chat == chat_id else None
            )
        if chat["type"] == "channel":
            message["sender_chat"] = chat
            return {"channel_post": message}
        uid = user_id if user_id is not None else abs(chat_id)
        message["from"] = {"id": uid, "is_bot": False, "first_name": f"User{uid}"}
        if anonymous:
            message["sender_chat"] = chat
            message["from"] = {
                "id": GROUP_ANONYMOUS_BOT,
                "is_bot": True,
                "first_name": "Group",
                "username": "GroupAnonymousBot",
            }
        if language_code is not None:  # the user's app language, as Telegram sends it
            message["from"]["language_code"] = language_code
        return {"message": message}

    def forum(self, chat_id: int, title: str = "Newsroom") -> dict[str, Any]:
        """A supergroup with topics (``is_forum``)."""
        chat = self.chat(chat_id, "supergroup", title)
        chat["is_forum"] = True
        return chat

    def in_topic(self, thread_id: int, name: str | None = None) -> dict[str, Any]:
        """The fields of a message sent inside forum topic ``thread_id``; with ``name``, as
        Telegram sends a user's message there: answering the topic's creation, which
        carries the name the topic was created with."""
        fields: dict[str, Any] = {"message_thread_id": thread_id, "is_topic_message": True}
        if name is not None:
            fields["reply_to_message"] = {
                "message_id": thread_id,
                "date": int(time.time()),
                "chat": {"id": 0, "type": "supergroup"},  # replaced by the chat below
                "message_thread_id": thread_id,
                "is_topic_message": True,
                "forum_topic_created": {"name": name, "icon_color": 7322096},
            }
        return fields

    def topic_update(
        self,
        chat_id: int,
        thread_id: int,
        *,
        created: str | None = None,
        renamed: str | None = None,
    ) -> int:
        """The service message of a forum topic created (``forum_topic_created``) or
        renamed (``forum_topic_edited``) by an admin, as a ``message`` update."""
        event = (
            {"forum_topic_created": {"name": created, "icon_color": 7322096}}
            if created is not None
            else {"forum_topic_edited": {"name": renamed}}
        )
        message = {
            "message_id": thread_id if created is not None else next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id),
            "from": {"id": 1, "is_bot": False, "first_name": "Admin"},
            "message_thread_id": thread_id,
            "is_topic_message": True,
            **event,
        }
        return self.push_update({"message": message})

    def press(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int,
        language_code: str | None = None,
    ) -> int:
        """``user_id`` presses the button carrying ``data`` under the bot's message
        ``message_id``: a ``callback_query`` update as Telegram sends it."""
        message = self.messages[(chat_id, message_id)]
        query_id = f"cq{next(self._update_ids)}"
        return self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": {
                        "id": user_id,
                        "is_bot": False,
                        "first_name": f"User{user_id}",
                        **({"language_code": language_code} if language_code else {}),
                    },
                    "message": message,
                    "chat_instance": f"ci{chat_id}",
                    "data": data,
                }
            }
        )

    def answers(self) -> list[dict[str, Any]]:
        """Parameters of every answerCallbackQuery."""
        return [c.params for c in self.calls_of("answerCallbackQuery")]

    def send_document(
        self,
        chat_id: int,
        caption: str,
        name: str,
        data: bytes,
        *,
        size: int | None = None,
        **sender: Any,
    ) -> int:
        """Someone sends a file ``name`` with ``caption`` (e.g. ``/import``) in ``chat_id``;
        getFile then serves ``data``. ``size`` is what Telegram reports, if not its length;
        ``sender`` as for :meth:`message_update`."""
        file_id = f"file{len(self.files) + 1}"
        self.files[file_id] = data
        document = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": name,
            "mime_type": "text/x-opml",
            "file_size": len(data) if size is None else size,
        }
        update = self.message_update(chat_id, caption, document=document, **sender)
        message = update.get("message") or update["channel_post"]
        message["caption"] = message.pop("text")
        if "entities" in message:
            message["caption_entities"] = message.pop("entities")
        return self.push_update(update)

    def documents(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Parameters of every sendDocument; ``document`` is {"filename", "data"}."""
        return [
            c.params
            for c in self.calls
            if c.method == "sendDocument" and (chat_id is None or c.params["chat_id"] == chat_id)
        ]

    def send_command(self, chat_id: int, text: str, **kwargs: Any) -> int:
        """Someone types ``text`` in ``chat_id``; see :meth:`message_update`."""
        return self.push_update(self.message_update(chat_id, text, **kwargs))

    def fail(
        self,
        method: str,
        status: int,
        description: str,
        parameters: dict[str, Any] | None = None,
        *,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls of ``method`` fail with this Bot API error."""
        for _ in range(times):
            self._scripts[method].append(_Script(status, description, parameters))

    def garble(self, method: str, body: str) -> None:
        """The next call of ``method`` is carried out, but answered with ``body`` (HTTP 200),
        which the chat library cannot read."""
        self._scripts[method].append(_Script(garbled=body))

    def stall(self, method: str, seconds: float) -> None:
        """The next call of ``method`` is carried out, but answered only after ``seconds``."""
        self._scripts[method].append(_Script(stall=seconds))

    # -- what a test reads ------------------------------------------------------

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Parameters of every sendMessage Telegram accepted, optionally to one chat."""
        return [
            c.params
            for c in self.calls
            if c.method == "sendMessage"
            and c.outcome in ("ok", "stalled", "garbled")
            and (chat_id is None or c.params["chat_id"] == chat_id)
        ]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [p["text"] for p in self.sent(chat_id)]

    @property
    def confirmed(self) -> bool:
        """Whether every queued update was fetched and confirmed (getUpdates offset)."""
        return not self._updates

    async def wait_for(self, check: Callable[[], T], within: float = 5.0) -> T:
        """Poll ``check`` until it returns something truthy; fail with the calls so far."""
        deadline = time.monotonic() + within
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                seen = "\n".join(f"{c.method} {c.outcome} {c.params}" for c in self.calls)
                raise AssertionError(f"condition not met within {within}s; calls:\n{seen}")
            await asyncio.sleep(0.02)

    # -- the API ----------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = _decode({k: _read(v) for k, v in (await request.post()).items()})
        call = Call(method, params)
        self.calls.append(call)
        if method == "getUpdates":
            return await self._poll(request, call)
        return await self._answer(call)

    async def _poll(self, request: web.Request, call: Call) -> web.Response:
        """A getUpdates call, noting whether another connection's was still open (a
        killed poller's connection is closed, so it does not count)."""
        self._polls = [
            r for r in self._polls if r.transport is not None and not r.transport.is_closing()
        ]
        call.overlapped = bool(self._polls)
        self._polls.append(request)
        try:
            return await self._answer(call)
        finally:
            self._polls = [r for r in self._polls if r is not request]

    async def _answer(self, call: Call) -> web.Response:
        method, params = call.method, call.params
        scripts = self._scripts.get(method)
        script = scripts.popleft() if scripts else None
        if script is not None and script.status != 200:
            call.outcome = f"failed {script.status}"
            return _error(script.status, script.description, script.parameters)
        answer = getattr(self, f"_api_{method}", None)
        if answer is None:
            call.outcome = "failed 404"
            return _error(404, "Not Found")
        try:
            result = await answer(params)
        except _Refused as refused:
            call.outcome = f"failed {refused.status}"
            return _error(refused.status, refused.description)
        if script is not None and script.stall:
            call.outcome = "stalled"
            await asyncio.sleep(script.stall)
        if script is not None and script.garbled is not None:
            call.outcome = "garbled"
            return web.Response(text=script.garbled, content_type="application/json")
        return web.json_response({"ok": True, "result": result})

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Newsbot",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _api_getMe(self, params: dict[str, Any]) -> Any:
        return self._bot_user()

    async def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        if offset:  # everything below the offset is confirmed, as on Telegram
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while not self._updates and not self._closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        return self._updates[: int(params.get("limit") or 100)]

    async def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = params["chat_id"]
        chat = (
            self.chat(chat_id)
            if isinstance(chat_id, int)
            else {"id": -1, "type": "channel", "title": chat_id}
        )
        thread = params.get("message_thread_id")
        if thread is not None and (chat["id"], int(thread)) in self.deleted_topics:
            raise _Refused(400, "Bad Request: message thread not found")
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self._bot_user(),
            "text": params["text"],
        }
        if thread is not None:
            message.update(self.in_topic(int(thread)))
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        chat_id = params["chat_id"]
        chat = self.chat(chat_id) if isinstance(chat_id, int) else {"id": -1, "type": "channel"}
        message = {
            **self.messages.get((chat["id"], int(params["message_id"])), {}),
            "message_id": int(params["message_id"]),
            "date": int(time.time()),
            "edit_date": int(time.time()),
            "chat": chat,
            "from": self._bot_user(),
            "text": params["text"],
        }
        message.pop("reply_markup", None)  # as on Telegram: an edit without it drops them
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    async def _api_getChatMember(self, params: dict[str, Any]) -> Any:
        user_id = int(params["user_id"])
        status = self.members.get((int(params["chat_id"]), user_id), "member")
        user = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if status == "creator":
            return {"status": status, "user": user, "is_anonymous": False}
        if status == "administrator":
            rights = (
                "can_be_edited is_anonymous can_manage_chat can_delete_messages "
                "can_manage_video_chats can_restrict_members can_promote_members can_change_info "
                "can_invite_users can_post_stories can_edit_stories can_delete_stories"
            )
            return {
                "status": status,
                "user": user,
                **{r: r != "is_anonymous" for r in rights.split()},
                "is_anonymous": (int(params["chat_id"]), user_id) in self.anonymous,
            }
        if status == "left":
            return {"status": status, "user": user}
        return {"status": "member", "user": user}

    async def _api_getFile(self, params: dict[str, Any]) -> Any:
        file_id = params["file_id"]
        if file_id not in self.files:
            return None
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(self.files[file_id]),
            "file_path": f"documents/{file_id}.opml",
        }

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        self.calls.append(Call("download", {"path": request.match_info["path"]}))
        file_id = request.match_info["path"].rsplit("/", 1)[-1].removesuffix(".opml")
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id])

    async def _api_sendDocument(self, params: dict[str, Any]) -> Any:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(params["chat_id"]),
            "from": self._bot_user(),
            "document": {
                "file_id": "sent",
                "file_unique_id": "usent",
                "file_name": params["document"]["filename"],
            },
        }

    async def _api_setMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        return True


class _Refused(Exception):
    """A Bot API error the stand-in decides from the call itself (a deleted topic)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _read(value: Any) -> Any:
    """A form field as a value: an uploaded file as {"filename", "data"}."""
    if isinstance(value, web.FileField):
        return {"filename": value.filename, "data": value.file.read()}
    return value


def _decode(form: dict[str, Any]) -> dict[str, Any]:
    """PTB posts form fields, JSON-encoding everything but strings; undo that."""
    decoded: dict[str, Any] = {}
    for key, value in form.items():
        if key in TEXT_FIELDS or not isinstance(value, str):
            decoded[key] = value
            continue
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value  # a plain string such as "@channelname"
    return decoded


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)
