"""A local stand-in of the Slack Web API, and a signer of requests Slack would send.

Like bolt's own ``tests/mock_web_api_server``: a real HTTP server on 127.0.0.1 that the real
slack_sdk client talks to. It records every call, answers the methods newsbot uses, and
lets a test script failures (a 429 with ``Retry-After``, an ``ok: false`` error, a 5xx).
It also serves ``/respond/...`` so a slash command's ``response_url`` can point at it,
the upload URLs of ``files_upload_v2`` (``/upload/<id>``) and the downloads of files
people share (``/files/<id>``, with the bot token).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

BOT_USER = "UBOT"
TEAM = "T0TEST"


@dataclass
class Call:
    """One request the stand-in received."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Scripted:
    """A canned answer for the next call of one method."""

    status: int = 200
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class SlackApiStandIn:
    """The Web API at ``{url}/api/``, response URLs at ``{url}/respond/<id>``."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []  # JSON posted to response URLs
        self._arrived = asyncio.Event()  # set whenever a call or a response arrives
        self.admins: set[str] = set()
        self.locales: dict[str, str] = {}  # user id -> locale users.info gives ("de-DE")
        self.token = "xoxb-test"
        self.app_token = "xapp-test"
        self.socket_acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_opened = asyncio.Event()
        self._script: dict[str, deque[Scripted]] = {}
        self._ts = 0
        self.uploads: dict[str, bytes] = {}  # file id -> bytes posted to its upload URL
        self.shared: dict[str, bytes] = {}  # file id -> bytes of a file someone shared
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- test controls -----------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        body: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Make the next call of ``method`` fail: ``ok: false`` with ``error``, a bare status,
        or (``delay``) an answer slower than the client waits."""
        payload: dict[str, Any] | str | None = body
        if error is not None:
            payload = {"ok": False, "error": error}
        scripted = Scripted(status, payload, headers or {}, delay)
        self._script.setdefault(method, deque()).append(scripted)

    def called(self, method: str) -> list[Call]:
        """The calls of one method, oldest first."""
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1) -> list[Call]:
        """The calls of ``method`` once there are at least ``count`` (the bot answers
        events after acknowledging them, so the test waits for the call)."""
        while len(self.called(method)) < count:
            self._arrived.clear()
            await self._arrived.wait()
        return self.called(method)

    async def wait_for_response(self, count: int = 1) -> list[dict[str, Any]]:
        """What was posted to response URLs, once there are at least ``count`` posts."""
        while len(self.responses) < count:
            self._arrived.clear()
            await self._arrived.wait()
        return self.responses

    def share_file(self, name: str, data: bytes, *, size: int | None = None) -> dict[str, Any]:
        """A file someone shares in a message: the ``files`` entry of its event."""
        file_id = f"FSHARED{len(self.shared) + 1}"
        self.shared[file_id] = data
        return {
            "id": file_id,
            "name": name,
            "filetype": "xml",
            "size": len(data) if size is None else size,
            "url_private": f"{self.url}/files/{file_id}",
            "url_private_download": f"{self.url}/files/{file_id}?download=1",
        }

    def uploaded(self) -> list[tuple[dict[str, Any], bytes]]:
        """Each completed upload: the files.completeUploadExternal call's params (``files``
        decoded) and the bytes posted for it."""
        done = []
        for call in self.called("files.completeUploadExternal"):
            files = call.params["files"]
            files = json.loads(files) if isinstance(files, str) else files
            for entry in files:
                done.append(({**call.params, "files": files}, self.uploads.get(entry["id"], b"")))
        return done

    def response_url(self, name: str = "cmd") -> str:
        return f"{self.url}/respond/{name}"

    # -- server --------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files/{file_id}", self._download)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base_url(self) -> str:
        return f"{self.url}/api/"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(dict(await request.post()))
        self.calls.append(Call(method, params, dict(request.headers)))
        self._arrived.set()
        queued = self._script.get(method)
        if queued:
            scripted = queued.popleft()
            if scripted.delay:
                await asyncio.sleep(scripted.delay)
            if isinstance(scripted.body, dict):
                return web.json_response(
                    scripted.body, status=scripted.status, headers=scripted.headers
                )
            return web.Response(
                text=scripted.body or "", status=scripted.status, headers=scripted.headers
            )
        expected = self.app_token if method == "apps.connections.open" else self.token
        if request.headers.get("Authorization") != f"Bearer {expected}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response(self._answer(method, params))

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://test.slack.com/",
                "team": "Test",
                "user": "newsbot",
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": "BBOT",
            }
        if method == "chat.postMessage":
            self._ts += 1
            return {
                "ok": True,
                "channel": params.get("channel"),
                "ts": f"1700000000.{self._ts:06d}",
            }
        if method == "chat.update":
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        if method == "chat.postEphemeral":
            self._ts += 1
            return {"ok": True, "message_ts": f"1700000000.{self._ts:06d}"}
        if method == "users.info":
            user = params.get("user", "")
            admin = user in self.admins
            found = {"id": user, "is_admin": admin, "is_owner": False}
            # Slack tells a user's locale only when asked for it.
            if params.get("include_locale") in ("1", "true", True):
                found["locale"] = self.locales.get(user, "en-US")
            return {"ok": True, "user": found}
        if method == "files.getUploadURLExternal":
            file_id = f"FUP{len(self.uploads) + 1}"
            self.uploads[file_id] = b""
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = params.get("files", "[]")
            files = json.loads(files) if isinstance(files, str) else files
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.url.replace("http://", "ws://") + "/socket"}
        return {"ok": False, "error": "unknown_method"}

    # -- Socket Mode: Slack's side of the WebSocket -----------------------------------

    async def connected(self) -> None:
        """Wait until the app has opened its Socket Mode connection."""
        await self._socket_opened.wait()

    async def push(self, envelope: dict[str, Any]) -> None:
        """Send an envelope (a slash command, an event) down the Socket Mode connection."""
        await self._sockets[-1].send_json(envelope)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        self._socket_opened.set()
        await socket.send_json({"type": "hello", "num_connections": 1})
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                await self.socket_acks.put(json.loads(message.data))
        return socket

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text="OK")

    async def _download(self, request: web.Request) -> web.Response:
        self.calls.append(Call("download", dict(request.query), dict(request.headers)))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=403)
        data = self.shared.get(request.match_info["file_id"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    async def _respond(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        self._arrived.set()
        return web.Response(text="ok")


# -- requests Slack sends to the app --------------------------------------------------


def signed_headers(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers of a request signed as Slack signs them: HMAC-SHA256 of ``v0:ts:body``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def slash_command_body(
    text: str,
    *,
    response_url: str,
    channel: str = "C0NEWS",
    user: str = "U0ALICE",
    channel_name: str = "news",
) -> tuple[str, str]:
    """The form body of ``/newsbot text`` and its content type."""
    form = {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "team_domain": "test",
        "channel_id": channel,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": user.lower(),
        "command": "/newsbot",
        "text": text,
        "api_app_id": "A0NEWSBOT",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }
    return urlencode(form), "application/x-www-form-urlencoded"


def event_body(event: dict[str, Any]) -> tuple[str, str]:
    """An Events API ``event_callback`` JSON body wrapping ``event``."""
    envelope = {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0NEWSBOT",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{int(time.time() * 1000)}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }
    return json.dumps(envelope), "application/json"


def block_actions_payload(
    value: str,
    *,
    response_url: str,
    message_ts: str | None,
    channel: str = "C0NEWS",
    user: str = "U0ALICE",
    action_id: str = "newsbot_press",
) -> dict[str, Any]:
    """A ``block_actions`` interaction: ``user`` pressed the button carrying ``value``
    under the message ``message_ts`` (None: under an ephemeral message, which Slack
    sends without the message itself)."""
    container: dict[str, Any] = {
        "type": "message",
        "channel_id": channel,
        "is_ephemeral": message_ts is None,
        "message_ts": message_ts or "1700000099.000001",
    }
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "api_app_id": "A0NEWSBOT",
        "token": "legacy-verification-token",
        "container": container,
        "trigger_id": "1.2.3",
        "channel": {"id": channel, "name": "news"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "text": {"type": "plain_text", "text": "button"},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    if message_ts is not None:
        payload["message"] = {"type": "message", "ts": message_ts, "text": "alert"}
    return payload


def block_actions_body(payload: dict[str, Any]) -> tuple[str, str]:
    """The form body Slack POSTs for an interaction: ``payload=<json>``."""
    return urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
