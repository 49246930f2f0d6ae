# ruff: noqa: F811 - the pipeline's fixture is imported, then named as an argument
"""Languages: the catalogs cover every text the code writes, a chat's language is chosen
with ``language`` or followed from its users, and anything untranslated is English."""

from __future__ import annotations

import ast
import string
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from pytest_httpserver import HTTPServer

from bot import i18n
from bot.app import App
from bot.commands import messages as msg
from bot.commands.parse import parse_words
from bot.commands.service import Caller, Reply
from bot.i18n import LANGUAGES, supported, translate
from tests.conftest import make_settings
from tests.feedserver import BELARUS, WEATHER
from tests.test_pipeline import Feed, apps, make_app, poll_all  # noqa: F401 - apps is a fixture

BOT = Path(i18n.__file__).parent
TRANSLATED = [code for code in LANGUAGES if code != i18n.DEFAULT]


def message_ids() -> dict[str, str]:
    """Every text the code writes: each string of bot/commands/messages.py (those in its
    dicts too), by name."""
    found = {name: value for name, value in vars(msg).items() if isinstance(value, str)}
    found = {name: value for name, value in found.items() if name.isupper()}
    found.update({f"BUTTON_LABELS[{k}]": v for k, v in msg.BUTTON_LABELS.items()})
    found.update({f"COMMAND_MENU[{k}]": v for k, v in msg.COMMAND_MENU.items()})
    return found


def placeholders(text: str) -> list[tuple[str, str | None, str | None]]:
    """The ``{name!r:spec}`` fields of a format string, sorted."""
    fields = [
        (f, conv, spec) for _, f, spec, conv in string.Formatter().parse(text) if f is not None
    ]
    return sorted(fields, key=repr)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_has_a_translation_with_the_same_placeholders(language: str) -> None:
    catalog = i18n.catalog(language)
    ids = message_ids()
    assert len(ids) > 100  # the collection found the messages, not an empty module
    missing = [name for name, text in ids.items() if not catalog.get(text, "").strip()]
    assert missing == [], f"{language}.po lacks a translation of {missing}"
    wrong = [
        name for name, text in ids.items() if placeholders(catalog[text]) != placeholders(text)
    ]
    assert wrong == [], f"{language}.po changes the placeholders of {wrong}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_catalog_holds_no_stale_messages(language: str) -> None:
    """A text changed in messages.py leaves its old translation behind: flagged here, so
    the catalog is updated rather than silently showing English."""
    with (BOT / "locale" / f"{language}.po").open("rb") as file:
        entries = {str(m.id) for m in read_po(file) if m.id}
    assert entries - set(message_ids().values()) == set()


def _translated_argument(node: ast.expr) -> bool:
    """Whether ``tr(...)``'s argument names a message of messages.py (``msg.X``,
    ``msg.BUTTON_LABELS[...]``, or a choice between such)."""
    if isinstance(node, ast.IfExp):
        return _translated_argument(node.body) and _translated_argument(node.orelse)
    if isinstance(node, ast.Subscript):
        node = node.value
    return isinstance(node, ast.Attribute) and ast.unparse(node.value) == "msg"


def test_the_code_translates_only_messages_the_catalogs_cover() -> None:
    """Every ``tr(...)`` in the bot takes a text of messages.py, which the test above
    checks in every catalog: a literal passed to tr would escape that check."""
    calls = 0
    for path in BOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "tr":
                calls += 1
                assert len(node.args) == 1 and _translated_argument(node.args[0]), (
                    f"{path.relative_to(BOT)}:{node.lineno}: {ast.unparse(node)}"
                )
    assert calls > 80


def test_every_message_the_code_writes_goes_through_tr() -> None:
    """A ``msg.X`` written to a chat without ``tr`` would be English in every chat."""
    for path in BOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "tr"
            for arg in node.args
            for inner in ast.walk(arg)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and ast.unparse(node.value) == "msg":
                assert id(node) in inside, f"{path.relative_to(BOT)}:{node.lineno}"


def test_unknown_languages_and_untranslated_texts_are_english() -> None:
    assert supported("fr") is None and supported("") is None and supported(None) is None
    assert supported("de-AT") == "de" and supported("ru_RU") == "ru" and supported("EN") == "en"
    assert translate(msg.SUBSCRIBED, "fr") == msg.SUBSCRIBED
    assert translate("A text no catalog has", "ru") == "A text no catalog has"
    assert translate(msg.SUBSCRIBED, "ru") != msg.SUBSCRIBED


async def say(app: App, text: str, chat: str = "news-desk", **caller: Any) -> Reply:
    command = parse_words(text)
    return await app.service.answer(Caller("console", chat, "console", **caller), command)


async def test_console_conversation_and_alert_in_russian(
    httpserver: HTTPServer, sqlite_url: str, apps: Any
) -> None:
    feed = Feed(httpserver, "/world.xml", "World", [WEATHER])
    app, console = await apps(sqlite_url, [feed.url])
    await poll_all(app)
    assert (await say(app, "language")).text.startswith("This chat's language: English (")
    chosen = await say(app, "language ru")
    assert chosen.text == translate(msg.LANGUAGE_SET, "ru").format(language="Русский")
    assert (await say(app, "rules")).text.startswith("1. Belarus")  # the rule itself as typed
    assert (await say(app, "unwatch 9")).text == translate(msg.NO_SUCH_RULE, "ru").format(number=9)
    status = (await say(app, "status")).text
    assert translate(msg.STATUS_LANGUAGE, "ru").format(language="Русский") in status
    assert (await say(app, "help")).text == translate(msg.HELP, "ru")

    feed.items = [BELARUS, WEATHER]
    (report,) = await poll_all(app)
    assert report.alerts == 1
    assert await app.dispatcher.run_once() == 1
    printed = console.out.getvalue()  # type: ignore[attr-defined]
    assert translate(msg.CONSOLE_ALERT, "ru").format(chat="news-desk") in printed
    assert translate(msg.RULE_LABEL_LOWER, "ru").format(rule=BELARUS_RULE) in printed
    assert "leader dampens hopes for mass" in printed  # feed text is never translated


BELARUS_RULE = 'Belarus AND "prisoner release"'


async def test_a_chat_follows_its_users_language_until_one_is_chosen(sqlite_url: str) -> None:
    app, _ = await make_app(sqlite_url, [])
    try:
        assert (await say(app, "rules", "room", language="de-DE")).text == translate(
            msg.NO_RULES, "de"
        )
        chat = app.store.get_chat("console", "room")
        assert chat is not None and chat.user_language == "de" and chat.speaks == "de"
        # A user whose app speaks a language the bot does not gets the chat's language.
        assert (await say(app, "rules", "room", language="fr")).text == translate(
            msg.NO_RULES, "de"
        )
        await say(app, "language ru", "room", language="de")
        assert (await say(app, "rules", "room", language="de")).text == translate(
            msg.NO_RULES, "ru"
        )
        unknown = await say(app, "language xx", "room")
        assert unknown.private and "'xx'" in unknown.text
        auto = await say(app, "language auto", "room", language="de")
        assert auto.text == translate(msg.LANGUAGE_AUTO, "de").format(language="Deutsch")
        # An unknown language never becomes the chat's: English in a fresh chat.
        assert (await say(app, "rules", "fresh", language="fr")).text == msg.NO_RULES
    finally:
        await app.stop()


async def test_a_refusal_is_in_the_users_language_and_creates_no_chat(sqlite_url: str) -> None:
    app, _ = await make_app(sqlite_url, [])

    async def never() -> bool:
        return False

    try:
        unknown = await say(app, "frobnicate", "ghost", language="ru")
        assert unknown.text == translate(msg.UNKNOWN, "ru").format(name="frobnicate")
        refused = await say(app, "watch Minsk", "ghost", language="de", may_edit=never)
        assert refused.text == translate(msg.ADMINS_ONLY, "de")
        assert app.store.get_chat("console", "ghost") is None
    finally:
        await app.stop()


async def test_a_limit_is_worded_in_the_chats_language(sqlite_url: str) -> None:
    app = App(make_settings(sqlite_url, rules={"max_per_chat": 1}), adapters={}, health=False)
    await app.prepare()
    try:
        await say(app, "language de", "room")
        await say(app, "watch Minsk", "room")
        refused = await say(app, "watch Belarus", "room")
        detail = translate(msg.LIMIT_RULES, "de").format(count=1, limit=1)
        assert refused.text == translate(msg.LIMIT, "de").format(detail=detail)
    finally:
        await app.stop()
