# ruff: noqa: F811 - the conversation's fixtures are imported, then named as arguments
"""A Telegram chat in its users' language: a user whose app speaks Russian is answered
in Russian, and the chat's alerts, their buttons and a digest follow."""

from __future__ import annotations

from pytest_httpserver import HTTPServer

from bot.commands import messages as msg
from bot.feeds.opml import OpmlFeed, render_opml
from bot.i18n import translate
from tests.feedserver import BELARUS
from tests.telegram_api import FakeBotAPI
from tests.test_telegram_buttons import alert_messages, buttons, press
from tests.test_telegram_conversation import (  # noqa: F401 - fixtures
    ALICE,
    RULE,
    Feed,
    Start,
    feed,
    new_stories,
    say,
    start,
)

PRIVATE = 42


def ru(message: str) -> str:
    return translate(message, "ru")


async def test_a_russian_user_gets_russian_replies_alerts_and_buttons(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    answers = await say(
        bot_api,
        PRIVATE,
        "/subscribe",
        f"/watch {RULE}",
        "/language",
        user_id=ALICE,
        language_code="ru",
    )
    assert answers[0] == ru(msg.SUBSCRIBED)
    assert answers[1] == ru(msg.WATCH_OK).format(number=1, query=RULE)
    assert answers[2].startswith("Язык этого чата: Русский (")

    assert await new_stories(app, feed, BELARUS) == 1
    (alert,) = await bot_api.wait_for(lambda: alert_messages(bot_api, PRIVATE))
    assert "также сообщают" not in alert["text"]  # no other outlet yet
    labels = set(buttons(alert))
    assert labels == {ru(msg.BUTTON_LABELS[v]) for v in ("mute", "stop", "more")}

    answer = await press(bot_api, PRIVATE, alert, ru(msg.BUTTON_LABELS["stop"]), ALICE)
    assert answer.get("text") is None
    question = await bot_api.wait_for(
        lambda: [m for m in bot_api.sent(PRIVATE) if m.get("reply_markup")][-1:]
    )
    asked = question[0]
    assert asked["text"] == ru(msg.STOP_ASK).format(number=1, query=RULE)
    assert set(buttons(asked)) == {
        ru(msg.BUTTON_LABELS["stopyes"]),
        ru(msg.BUTTON_LABELS["stopno"]),
    }


async def test_a_chat_that_chose_german_stays_german_and_unknown_codes_are_english(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    await start()
    (chosen,) = await say(bot_api, PRIVATE, "/language de", user_id=ALICE, language_code="ru")
    assert chosen == translate(msg.LANGUAGE_SET, "de").format(language="Deutsch")
    (rules,) = await say(bot_api, PRIVATE, "/rules", user_id=ALICE, language_code="ru")
    assert rules == translate(msg.NO_RULES, "de")
    (english,) = await say(bot_api, 43, "/rules", user_id=ALICE, language_code="pt-br")
    assert english == msg.NO_RULES


async def test_rule_feed_and_opml_errors_and_counts_are_in_russian(
    bot_api: FakeBotAPI, feed: Feed, start: Start, httpserver: HTTPServer
) -> None:
    """The parser's column message, why a feed could not be added and why an OPML file
    was refused come from the catalog, not English inside a Russian sentence; counts take
    Russian's three plural forms."""
    await start()
    httpserver.expect_request("/page").respond_with_data(
        "<html>hi</html>", content_type="text/html"
    )
    page = httpserver.url_for("/page")
    russian = {"user_id": ALICE, "language_code": "ru"}
    bad_rule, no_feed, credentials = await say(
        bot_api,
        PRIVATE,
        "/watch Belarus AND (",
        f"/addfeed {page}",
        "/addfeed https://user:secret@news.example/feed",
        **russian,
    )
    assert bad_rule == (
        "В правиле ошибка: столбец 13: правило обрывается сразу после ( — ожидается "
        'слово, "фраза" или ( после (.\n'
        "Исправьте и отправьте watch снова; help показывает синтаксис."
    )
    assert no_feed == ru(msg.ADDFEED_FAILED).format(
        error=f"по адресу {page} лента не найдена — укажите адрес самой ленты"
    )
    assert credentials == ru(msg.ADDFEED_FAILED).format(
        error="адреса с именем пользователя или паролем не допускаются — уберите 'user@'"
    )

    bot_api.send_document(PRIVATE, "/import", "feed.xml", b"<rss><channel/></rss>", **russian)
    refused = await bot_api.wait_for(lambda: bot_api.texts(PRIVATE)[3:])
    assert refused == [ru(msg.IMPORT_BAD).format(error="файл — не OPML (нет <opml> с <body>)")]
    many = render_opml("many", [OpmlFeed(f"https://news.example/{n}") for n in range(501)])
    bot_api.send_document(PRIVATE, "/import", "many.opml", many, **russian)
    refused = await bot_api.wait_for(lambda: bot_api.texts(PRIVATE)[4:])
    assert refused == [
        ru(msg.IMPORT_BAD).format(
            error="в файле 501 элемент outline; читается не больше 500"  # 501: the "one" form
        )
    ]

    added = [f"/watch Minsk{n}" for n in range(4)]
    await say(bot_api, PRIVATE, *added, **russian)
    (status,) = await say(bot_api, PRIVATE, "/status", **russian)
    assert "; 4 правила;" in status.splitlines()[0]
    await say(bot_api, PRIVATE, "/watch Vilnius", **russian)
    (status,) = await say(bot_api, PRIVATE, "/status", **russian)
    assert "; 5 правил;" in status.splitlines()[0]
