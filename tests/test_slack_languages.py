# ruff: noqa: F811 - the Slack app's fixture is imported, then named as an argument
"""A Slack channel in German: ``language de`` (a signed slash command) turns the replies,
the alerts' labels and their buttons German; feed text stays as the feed wrote it."""

from __future__ import annotations

from bot.commands import messages as msg
from bot.i18n import translate
from tests.test_slack_app import (
    MATCHING,
    OLD_STORY,
    OTHER,
    StartApp,
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
