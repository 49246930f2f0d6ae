"""The Telegram adapter against a local Bot API: start-up, sends, and each platform error.

The real python-telegram-bot runs against :class:`tests.telegram_api.FakeBotAPI` over HTTP;
commands go to the real command service on a SQLite file.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import httpx
import pytest
from telegram import error as tg

from bot.adapters.telegram import (
    SECRET_HEADER,
    TelegramAdapter,
    to_decision,
    webhook_secret,
)
from bot.app import App
from bot.commands import messages as msg
from bot.commands.parse import COMMANDS
from bot.config import TelegramSettings
from bot.delivery.alert import Alert
from bot.delivery.platform import (
    AdapterFatal,
    ChatGone,
    ChatMigrated,
    PermanentError,
    RetryAfter,
    TransientError,
    UncertainDelivery,
)
from bot.errors import DeliveryError
from bot.models import AlertDraft, NewStory, Summary
from bot.store import utcnow
from tests.conftest import free_port, make_settings
from tests.telegram_api import FakeBotAPI

ALERT = Alert(
    title="Belarus leader dampens hopes for mass prisoner release",
    link="https://news.example/belarus-1",
    source="World News",
    published=datetime(2026, 11, 29, 14, 5, tzinfo=UTC),
    rule='Belarus AND "prisoner release"',
    summary=Summary(("Lukashenko said he would not free political prisoners.",)),
    words=("Belarus", "prisoner release"),
)

Started = Callable[..., Awaitable[TelegramAdapter]]


@pytest.fixture
async def started(bot_api: FakeBotAPI, sqlite_url: str) -> AsyncIterator[Started]:
    """Starts a TelegramAdapter on the stand-in, with the real command service behind it."""
    running: list[tuple[App, TelegramAdapter]] = []

    async def start(**telegram: Any) -> TelegramAdapter:
        options = {"token": bot_api.token, "api_base_url": bot_api.url, **telegram}
        adapter = TelegramAdapter(
            TelegramSettings(**options), request_timeout=1.0, poll_timeout=1.0, start_attempts=1
        )
        app = App(
            make_settings(sqlite_url, telegram=options),
            adapters={"telegram": adapter},
            health=False,
        )
        await app.prepare()
        await adapter.start(app.service)
        running.append((app, adapter))
        return adapter

    yield start
    for app, _ in running:
        await app.stop()


async def test_start_checks_token_registers_commands_and_polls(
    bot_api: FakeBotAPI, started: Started
) -> None:
    adapter = await started()
    assert adapter.username == "newsbot_test_bot"
    menus = {
        m.params.get("language_code"): m.params["commands"]
        for m in bot_api.calls_of("setMyCommands")
    }
    assert set(menus) == {None, "de", "ru"}  # the default (English) menu, one per language
    for menu in menus.values():
        assert [c["command"] for c in menu] == list(COMMANDS)
        assert all(3 <= len(c["description"]) <= 256 for c in menu)
    assert menus["ru"][0]["description"] != menus[None][0]["description"]
    assert bot_api.calls_of("deleteWebhook")  # polling: any old webhook is removed first
    polls = await bot_api.wait_for(lambda: bot_api.calls_of("getUpdates"))
    assert polls[0].params["allowed_updates"] == ["message", "channel_post", "callback_query"]


async def test_send_alert_is_html_without_preview(bot_api: FakeBotAPI, started: Started) -> None:
    adapter = await started()
    message_id = await adapter.send_alert("42", ALERT)
    (sent,) = bot_api.sent(42)
    assert sent["parse_mode"] == "HTML"
    assert sent["link_preview_options"] == {"is_disabled": True}
    assert sent["text"].startswith('🔔 <a href="https://news.example/belarus-1"><b>Belarus</b>')
    assert message_id is not None and message_id.isdigit()


async def test_an_alert_is_edited_in_place_to_name_its_other_sources(
    bot_api: FakeBotAPI, started: Started
) -> None:
    adapter = await started()
    message_id = await adapter.send_alert("42", ALERT)
    assert message_id is not None
    await adapter.edit_alert("42", message_id, replace(ALERT, also_reported_by=("Daily Wire",)))
    (edit,) = bot_api.calls_of("editMessageText")
    assert edit.params["chat_id"] == 42 and edit.params["message_id"] == int(message_id)
    assert edit.params["parse_mode"] == "HTML"
    assert edit.params["link_preview_options"] == {"is_disabled": True}
    assert edit.params["text"].endswith("<i>also reported by Daily Wire</i>")
    assert len(bot_api.sent(42)) == 1  # edited, not sent again
    # Telegram refuses an edit that changes nothing: that is no failure.
    bot_api.fail(
        "editMessageText",
        400,
        "Bad Request: message is not modified: specified new "
        "message content and reply markup are exactly the same",
    )
    await adapter.edit_alert("42", message_id, ALERT)
    bot_api.fail("editMessageText", 400, "Bad Request: message to edit not found")
    with pytest.raises(PermanentError):
        await adapter.edit_alert("42", message_id, ALERT)


async def test_link_preview_can_be_turned_on(bot_api: FakeBotAPI, started: Started) -> None:
    adapter = await started(link_preview=True)
    await adapter.send_digest("-100200300", [ALERT, ALERT])
    (sent,) = bot_api.sent(-100200300)
    assert sent["link_preview_options"] == {"is_disabled": False}
    assert sent["text"].startswith("📰 Digest: 2 stories")


@pytest.mark.parametrize(
    ("status", "description", "parameters", "decision", "detail"),
    [
        (429, "Too Many Requests: retry after 7", {"retry_after": 7}, RetryAfter, 7.0),
        (
            400,
            "Bad Request: group chat was upgraded",
            {"migrate_to_chat_id": -1009},
            ChatMigrated,
            "-1009",
        ),
        (403, "Forbidden: bot was blocked by the user", None, ChatGone, None),
        (403, "Forbidden: bot was kicked from the group chat", None, ChatGone, None),
        (400, "Bad Request: chat not found", None, ChatGone, None),
        (400, "Bad Request: can't parse entities", None, PermanentError, None),
        (401, "Unauthorized", None, AdapterFatal, None),
        (500, "Internal Server Error", None, TransientError, None),
        (502, "Bad Gateway", None, TransientError, None),
    ],
)
async def test_platform_errors_become_decisions(
    bot_api: FakeBotAPI,
    started: Started,
    status: int,
    description: str,
    parameters: dict[str, Any] | None,
    decision: type[DeliveryError],
    detail: object,
) -> None:
    adapter = await started()
    bot_api.fail("sendMessage", status, description, parameters)
    with pytest.raises(decision) as raised:
        await adapter.send_alert("-4242", ALERT)
    if isinstance(raised.value, RetryAfter):
        assert raised.value.seconds == detail
    if isinstance(raised.value, ChatMigrated):
        assert raised.value.new_chat_id == detail
    assert bot_api.token not in str(raised.value)
    assert bot_api.sent() == []
    # The failure was for that one call: the next send goes through.
    await adapter.send_alert("-4242", ALERT)
    assert len(bot_api.sent(-4242)) == 1


async def test_a_send_that_times_out_is_uncertain_not_retried(
    bot_api: FakeBotAPI, started: Started
) -> None:
    adapter = await started()
    bot_api.stall("sendMessage", 2.0)  # Telegram takes the message but answers too late
    with pytest.raises(UncertainDelivery):
        await adapter.send_alert("42", ALERT)
    assert len(bot_api.sent(42)) == 1  # it did arrive: re-sending would duplicate it
    assert len(bot_api.calls_of("sendMessage")) == 1  # and PTB did not retry on its own


async def test_network_down_is_transient(bot_api: FakeBotAPI, started: Started) -> None:
    adapter = await started()
    await bot_api.stop()
    with pytest.raises(TransientError):
        await adapter.send_alert("42", ALERT)


async def test_invalid_token_at_start_is_fatal_and_not_logged(
    bot_api: FakeBotAPI, sqlite_url: str
) -> None:
    settings = TelegramSettings(token="999:WRONG", api_base_url=bot_api.url)  # type: ignore[arg-type]
    app = App(make_settings(sqlite_url), adapters={}, health=False)
    await app.prepare()
    adapter = TelegramAdapter(settings, start_attempts=1)
    with pytest.raises(AdapterFatal) as raised:
        await adapter.start(app.service)
    assert "999:WRONG" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    await adapter.stop()
    await app.stop()


async def test_unreachable_api_at_start_is_fatal_with_advice(sqlite_url: str) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    app = App(make_settings(sqlite_url), adapters={}, health=False)
    await app.prepare()
    adapter = TelegramAdapter(
        TelegramSettings(token="123:ABC", api_base_url=base),  # type: ignore[arg-type]
        start_attempts=1,
        request_timeout=1.0,
    )
    with pytest.raises(AdapterFatal, match="telegram.api_base_url"):
        await adapter.start(app.service)
    await app.stop()


async def test_webhook_on_a_busy_port_stops_with_a_clear_error(
    bot_api: FakeBotAPI, sqlite_url: str
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        options = {
            "token": bot_api.token,
            "api_base_url": bot_api.url,
            "mode": "webhook",
            "webhook_url": f"http://127.0.0.1:{port}/hook",
            "listen": f"127.0.0.1:{port}",
        }
        adapter = TelegramAdapter(TelegramSettings(**options), start_attempts=1)  # type: ignore[arg-type]
        app = App(make_settings(sqlite_url), adapters={"telegram": adapter}, health=False)
        await app.prepare()
        try:
            with pytest.raises(AdapterFatal, match=f"cannot listen on 127.0.0.1:{port}"):
                await adapter.start(app.service)
        finally:
            await app.stop()


async def test_webhook_mode_checks_the_secret_header(bot_api: FakeBotAPI, started: Started) -> None:
    port = free_port()
    hook = f"http://127.0.0.1:{port}/telegram/hook"
    adapter = await started(
        mode="webhook", webhook_url=hook, listen=f"127.0.0.1:{port}", webhook_secret="s3cret-_x"
    )
    (registered,) = bot_api.calls_of("setWebhook")
    assert registered.params["url"] == hook
    assert registered.params["secret_token"] == "s3cret-_x"
    assert bot_api.calls_of("getUpdates") == []  # no polling in webhook mode

    update = bot_api.message_update(42, "/start")
    async with aiohttp.ClientSession() as session:
        async with session.post(hook, json={"update_id": 1, **update}) as refused:
            assert refused.status == 403
        headers = {SECRET_HEADER: "wrong"}
        async with session.post(hook, json={"update_id": 2, **update}, headers=headers) as refused:
            assert refused.status == 403
        headers = {SECRET_HEADER: "s3cret-_x"}
        async with session.post(hook, data=b"{not json", headers=headers) as bad:
            assert bad.status == 400
        async with session.post(hook, json={"update_id": 3, **update}, headers=headers) as ok:
            assert ok.status == 200
    (reply,) = await bot_api.wait_for(lambda: bot_api.texts(42))
    assert reply.startswith("newsbot watches news feeds")
    assert adapter.username == "newsbot_test_bot"


def test_webhook_secret_is_the_same_on_every_replica() -> None:
    settings = TelegramSettings(token="123:ABC", mode="webhook", webhook_url="https://x/hook")  # type: ignore[arg-type]
    first = webhook_secret(settings, "123:ABC")
    assert first == webhook_secret(settings, "123:ABC") != webhook_secret(settings, "123:XYZ")
    assert "123:ABC" not in first and first.isalnum() and len(first) <= 256


def _chained(error: tg.TelegramError, cause: BaseException) -> tg.TelegramError:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "decision"),
    [
        (_chained(tg.TimedOut(), httpx.ReadTimeout("read")), UncertainDelivery),
        (_chained(tg.TimedOut(), httpx.WriteTimeout("write")), UncertainDelivery),
        (_chained(tg.TimedOut(), httpx.ConnectTimeout("connect")), TransientError),
        (_chained(tg.TimedOut("Pool timeout"), httpx.PoolTimeout("pool")), TransientError),
        (
            _chained(tg.NetworkError("httpx.ConnectError"), httpx.ConnectError("refused")),
            TransientError,
        ),
        (_chained(tg.NetworkError("httpx.ReadError"), httpx.ReadError("reset")), UncertainDelivery),
        (tg.NetworkError("Bad Gateway"), TransientError),
        (tg.Conflict("terminated by other getUpdates request"), TransientError),
        (tg.EndPointNotFound("Not Found"), AdapterFatal),
        (
            tg.BadRequest("Bad Request: not enough rights to send text messages to the chat"),
            ChatGone,
        ),
        (tg.BadRequest("Bad Request: message is too long"), PermanentError),
    ],
)
def test_error_table(error: tg.TelegramError, decision: type[DeliveryError]) -> None:
    assert type(to_decision(error)) is decision


async def test_a_failing_command_is_answered_and_logged_with_its_chat(
    bot_api: FakeBotAPI, started: Started, caplog: pytest.LogCaptureFixture
) -> None:
    await started()
    bot_api.chat(-555, "group")
    bot_api.fail("getChatMember", 500, "Internal Server Error")  # the admin check cannot be made
    bot_api.send_command(-555, "/subscribe", user_id=8)
    (answer,) = await bot_api.wait_for(lambda: bot_api.texts(-555))
    assert answer == msg.FAILED
    (record,) = await bot_api.wait_for(
        lambda: [
            r for r in caplog.records if r.name == "bot.commands.service" and r.levelname == "ERROR"
        ]
    )
    assert record.chat == "-555" and record.platform == "telegram"  # type: ignore[attr-defined]
    assert record.exc_info is not None and "Internal Server Error" in str(record.exc_info[1])


async def test_a_command_that_crashes_is_answered_and_the_next_one_too(
    bot_api: FakeBotAPI,
    started: Started,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    adapter = await started()
    assert adapter._service is not None

    def crash(query: str) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(adapter._service.rulebook, "compile", crash)
    bot_api.send_command(42, "/watch " + "(" * 300 + "x" + ")" * 300)
    bot_api.send_command(42, "/rules")
    crashed, rules = await bot_api.wait_for(
        lambda: bot_api.texts(42)[:2] if len(bot_api.texts(42)) >= 2 else None
    )
    assert crashed == msg.FAILED
    assert rules == msg.NO_RULES  # nothing was stored, and the chat is still answered
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.exc_info is not None and isinstance(record.exc_info[1], RecursionError)


async def test_a_reply_waits_out_a_short_flood_limit(bot_api: FakeBotAPI, started: Started) -> None:
    await started()
    bot_api.fail("sendMessage", 429, "Too Many Requests: retry after 1", {"retry_after": 1})
    bot_api.send_command(42, "/status")
    (answer,) = await bot_api.wait_for(lambda: bot_api.texts(42), within=4)
    assert answer.startswith("This chat: not subscribed")
    refused, delivered = bot_api.calls_of("sendMessage")
    assert refused.outcome == "failed 429" and delivered.at - refused.at >= 0.9


async def test_commands_of_one_chat_are_answered_in_order(
    bot_api: FakeBotAPI, started: Started
) -> None:
    await started()
    for n in range(1, 6):
        bot_api.send_command(42, f"/watch Belarus{n}")
        bot_api.send_command(43, f"/watch Minsk{n}")
    await bot_api.wait_for(lambda: len(bot_api.texts(42)) == 5)
    assert [a.splitlines()[0] for a in bot_api.texts(42)] == [
        f"Rule {n} added: Belarus{n}" for n in range(1, 6)
    ]
    await bot_api.wait_for(lambda: len(bot_api.texts(43)) == 5)


async def test_stop_lets_a_command_in_flight_finish(bot_api: FakeBotAPI, started: Started) -> None:
    adapter = await started()
    bot_api.chat(-555, "group")
    bot_api.set_member(-555, 7, "administrator")
    bot_api.stall("getChatMember", 0.5)
    bot_api.send_command(-555, "/subscribe", user_id=7)
    await bot_api.wait_for(lambda: bot_api.calls_of("getChatMember"))
    await adapter.stop()  # while the admin check is still waiting for its answer
    assert bot_api.texts(-555) == [msg.SUBSCRIBED]
    assert bot_api.confirmed  # the update is acknowledged: it is not handled twice after a restart


@pytest.mark.parametrize(
    "reply",
    ['{"ok": true, "result": {"message_id": "not a message"}}', "<html>bad gateway</html>"],
    ids=["odd-result", "not-json"],
)
async def test_an_unreadable_reply_is_uncertain_and_the_drain_goes_on(
    bot_api: FakeBotAPI, sqlite_url: str, reply: str
) -> None:
    options = {"token": bot_api.token, "api_base_url": bot_api.url}
    adapter = TelegramAdapter(
        TelegramSettings(**options), request_timeout=1.0, poll_timeout=1.0, start_attempts=1
    )
    settings = make_settings(sqlite_url, telegram=options)
    app = App(settings, adapters={"telegram": adapter}, health=False)
    await app.prepare()
    await adapter.start(app.service)
    try:
        stories = [NewStory(t, f"fp-{t}", t, None, None, None, "") for t in ("a", "b")]
        feed = app.store.ensure_feed("https://example.org/rss")
        for chat_id, uid in (("42", "a"), ("43", "b")):
            chat = app.store.ensure_chat("telegram", chat_id)
            app.store.update_chat(chat.id, subscribed=True)
            draft = AlertDraft(chat.id, uid, None, "q", [], {}, Summary(), utcnow())
            app.store.record_poll(
                feed.id,
                new_stories=stories,
                alerts=[draft],
                feed_title=None,
                etag=None,
                last_modified=None,
                next_poll_at=utcnow(),
            )
        bot_api.garble("sendMessage", reply)  # Telegram takes the first; PTB cannot read it
        assert await app.dispatcher.run_once() == 1  # the next alert went out, same drain
        assert len(bot_api.sent(42)) == 1 and len(bot_api.sent(43)) == 1
        counts = app.store.alert_counts(None, utcnow() - timedelta(hours=1))
        assert counts == {"uncertain": 1, "sent": 1}  # never re-sent: it did arrive
    finally:
        await app.stop()
