# ruff: noqa: F811 - the Slack app's fixture is imported, then named as an argument
"""A Slack channel in German: ``language de`` (a signed slash command), or the locale of
the user who writes there (users.info), turns the replies, the alerts' labels and their
buttons German; feed text stays as the feed wrote it."""

from __future__ import annotations

import logging
import time

import pytest
from werkzeug import Request, Response

from bot.adapters import slack as slack_adapter
from bot.commands import messages as msg
from bot.i18n import translate
from tests.test_slack_app import (
    MATCHING,
    OLD_STORY,
    OTHER,
    StartApp,
    rss,
    start_app,  # noqa: F401 - a fixture
)
from tests.test_slack_buttons import RULE, buttons


def de(message: str) -> str:
    return translate(message, "de")


async def test_language_de_makes_replies_and_alerts_german(start_app: StartApp) -> None:
    slack = await start_app()
    status, ack = await slack.command("language de")
    assert status == 200
    assert ack["text"] == de(msg.LANGUAGE_SET).format(language="Deutsch")
    status, ack = await slack.command("subscribe")
    assert ack["text"] == de(msg.SUBSCRIBED)
    status, ack = await slack.command(f"watch {RULE}")
    assert ack["text"] == de(msg.WATCH_OK).format(number=1, query=RULE).replace("&", "&amp;")
    status, ack = await slack.command("frobnicate")
    assert ack["text"] == de(msg.UNKNOWN).format(name="frobnicate").replace("&", "&amp;")

    assert await slack.poll() == 0
    slack.serve_feed(OLD_STORY, MATCHING, OTHER)
    assert await slack.poll() == 1
    assert await slack.app.dispatcher.run_once() == 1
    (blocks,) = slack.posted_blocks()
    texts = [e.get("text") for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert de(msg.RULE_LABEL).format(rule=RULE) in texts
    assert set(buttons(blocks)) == {de(msg.BUTTON_LABELS[v]) for v in ("mute", "stop", "more")}
    assert MATCHING[1] in str(blocks)  # the story's title, untranslated


async def test_language_alone_lists_the_languages_and_a_wrong_one_is_refused(
    start_app: StartApp,
) -> None:
    slack = await start_app()
    _, ack = await slack.command("language")
    assert ack["text"].startswith("This chat's language: English (")
    assert "de (Deutsch)" in ack["text"] and "ru (Русский)" in ack["text"]
    _, ack = await slack.command("language xx")
    assert ack["response_type"] == "ephemeral"
    assert "'xx'" in ack["text"]


async def test_a_users_locale_makes_the_replies_and_alerts_speak_it(start_app: StartApp) -> None:
    slack = await start_app()
    slack.api.locales["U0ALICE"] = "de-DE"
    _, ack = await slack.command("subscribe")
    assert ack["text"] == de(msg.SUBSCRIBED)
    _, ack = await slack.command(f"watch {RULE}")
    assert ack["text"] == de(msg.WATCH_OK).format(number=1, query=RULE).replace("&", "&amp;")
    (call, *more) = slack.api.called("users.info")
    assert call.params["user"] == "U0ALICE" and call.params["include_locale"] in ("1", "true")
    assert more == []  # the second command's locale came from the cache

    assert await slack.poll() == 0
    slack.serve_feed(OLD_STORY, MATCHING, OTHER)
    assert await slack.poll() == 1
    assert await slack.app.dispatcher.run_once() == 1
    (blocks,) = slack.posted_blocks()
    assert set(buttons(blocks)) == {de(msg.BUTTON_LABELS[v]) for v in ("mute", "stop", "more")}


async def test_language_set_in_the_channel_wins_over_the_users_locale(
    start_app: StartApp,
) -> None:
    slack = await start_app()
    slack.api.locales["U0ALICE"] = "de-DE"
    _, ack = await slack.command("language en")
    assert ack["text"] == msg.LANGUAGE_SET.format(language="English")
    _, ack = await slack.command("subscribe")
    assert ack["text"] == msg.SUBSCRIBED


async def test_a_failing_users_info_leaves_english_and_the_command_answered(
    start_app: StartApp, caplog: pytest.LogCaptureFixture
) -> None:
    slack = await start_app()
    slack.api.locales["U0ALICE"] = "de-DE"
    slack.api.fail("users.info", error="missing_scope")
    caplog.set_level(logging.DEBUG, logger="bot.adapters.slack")
    status, ack = await slack.command("subscribe")
    assert status == 200
    assert ack["text"] == msg.SUBSCRIBED
    slack.api.fail("users.info", status=500)
    _, ack = await slack.command("subscribe", user="U0BOB")
    assert ack["text"] == msg.ALREADY_SUBSCRIBED
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "users:read" in warnings[0].getMessage()
    assert len(slack.api.called("users.info")) == 2


async def test_a_slow_users_info_does_not_hold_the_command(
    start_app: StartApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slack_adapter, "LOCALE_TIMEOUT", 0.2)
    slack = await start_app()
    slack.api.fail("users.info", delay=1.0, body="{}")
    status, ack = await slack.command("subscribe")
    assert status == 200
    assert ack["text"] == msg.SUBSCRIBED


def test_the_user_cache_is_bounded_and_expires() -> None:
    cache: slack_adapter.Expiring[str] = slack_adapter.Expiring(size=2)
    cache.put("U1", "de-DE", ttl=60.0, now=0.0)
    cache.put("U2", "ru-RU", ttl=60.0, now=0.0)
    assert cache.get("U1", now=1.0) == (True, "de-DE")  # U1 is now the most recent
    cache.put("U3", "en-US", ttl=60.0, now=1.0)
    assert cache.get("U2", now=1.0) == (False, None)  # the least recent went
    assert cache.get("U1", now=61.0) == (False, None)  # expired
    assert cache.get("U3", now=2.0) == (True, "en-US")


async def test_working_on_it_is_said_in_the_users_and_the_channels_language(
    start_app: StartApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command slower than the acknowledgement budget is first acknowledged with
    "Working on it…", in the language its reply will be in: the user's Slack locale, or
    the channel's language set with ``language``."""
    monkeypatch.setattr(slack_adapter, "ACK_BUDGET", 0.3)
    slack = await start_app()

    def slow_feed(request: Request) -> Response:
        time.sleep(0.8)  # addfeed takes longer than the acknowledgement budget
        return Response(rss(OTHER), content_type="application/rss+xml")

    slack.feeds.expect_request("/slow").respond_with_handler(slow_feed)
    slow = f"addfeed {slack.feeds.url_for('/slow')}"
    slack.api.locales["U0ALICE"] = "ru-RU"
    _, ack = await slack.command(slow)
    assert ack == {"text": translate(msg.WORKING, "ru"), "response_type": "ephemeral"}
    (answer,) = await slack.api.wait_for_response()
    assert answer["text"].startswith(translate(msg.ADDFEED_OK, "ru").split("{")[0])

    await slack.command("language de", user="U0BOB")  # Bob's locale is unknown: English
    _, ack = await slack.command(slow, user="U0BOB")
    assert ack == {"text": de(msg.WORKING), "response_type": "ephemeral"}


async def test_rule_and_feed_errors_are_in_the_channels_language(start_app: StartApp) -> None:
    """The parser's column message and why a feed could not be added are German in a
    German channel, not English inside a German sentence."""
    slack = await start_app()
    await slack.command("language de")
    _, bad_rule = await slack.command("watch Belarus AND (")
    assert bad_rule["response_type"] == "ephemeral"
    error = (
        'Spalte 13: die Regel endet direkt nach ( — erwartet: ein Wort, eine "Phrase" oder ( nach ('
    )
    assert bad_rule["text"] == de(msg.WATCH_BAD).format(error=error)
    _, refused = await slack.command("addfeed https://user:secret@news.example/feed")
    assert refused["text"] == de(msg.ADDFEED_FAILED).format(
        error="URLs mit Benutzername oder Passwort sind nicht erlaubt — entferne 'user@'"
    )
    _, status = await slack.command("status")
    assert "; 0 Regeln;" in status["text"].splitlines()[0]
    await slack.command("watch Minsk")
    _, status = await slack.command("status")
    assert "; 1 Regel;" in status["text"].splitlines()[0]
