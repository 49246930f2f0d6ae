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
from bot.feeds import messages as feed_messages
from bot.i18n import LANGUAGES, Plural, Text, supported, translate
from bot.rules import messages as rule_messages
from tests.conftest import make_settings
from tests.feedserver import BELARUS, WEATHER
from tests.test_pipeline import Feed, make_app, poll_all

BOT = Path(i18n.__file__).parent
TRANSLATED = [code for code in LANGUAGES if code != i18n.DEFAULT]
# Every module of texts a chat may read: replies, and the errors of feeds and rules.
MESSAGE_MODULES = {"commands": msg, "feeds": feed_messages, "rules": rule_messages}
# What the code words texts with: each takes a message of those modules first.
WORDING_CALLS = frozenset({"tr", "trn", "Text"})


def message_ids() -> dict[str, str | Plural]:
    """Every text the code writes: each text of the messages modules (those in their
    dicts too), by module and name."""
    found: dict[str, str | Plural] = {}
    for module_name, module in MESSAGE_MODULES.items():
        for name, value in vars(module).items():
            if not name.isupper():
                continue
            if isinstance(value, str | Plural):
                found[f"{module_name}.{name}"] = value
            elif isinstance(value, dict):
                found.update({f"{module_name}.{name}[{k}]": v for k, v in value.items()})
    return found


def placeholders(text: str) -> list[tuple[str, str | None, str | None]]:
    """The ``{name!r:spec}`` fields of a format string, sorted."""
    fields = [
        (f, conv, spec) for _, f, spec, conv in string.Formatter().parse(text) if f is not None
    ]
    return sorted(fields, key=repr)


def po_entries(language: str) -> dict[str | tuple[str, str], Any]:
    """The catalog's entries by message id (a plural's id is its (singular, plural))."""
    with (BOT / "locale" / f"{language}.po").open("rb") as file:
        return {m.id: m for m in read_po(file, locale=language) if m.id}


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_has_a_translation_with_the_same_placeholders(language: str) -> None:
    entries = po_entries(language)
    ids = message_ids()
    assert len(ids) > 200  # the collection found the messages, not empty modules
    assert {name.split(".")[0] for name in ids} == set(MESSAGE_MODULES)
    missing, wrong = [], []
    for name, text in ids.items():
        key = tuple(text) if isinstance(text, Plural) else text
        entry = entries.get(key)
        forms = [] if entry is None or entry.fuzzy else entry.string
        forms = list(forms) if isinstance(forms, tuple) else [forms]
        if not forms or not all(f.strip() for f in forms):
            missing.append(name)
            continue
        english = text.other if isinstance(text, Plural) else text
        if any(placeholders(f) != placeholders(english) for f in forms):
            wrong.append(name)
    assert missing == [], f"{language}.po lacks a translation of {missing}"
    assert wrong == [], f"{language}.po changes the placeholders of {wrong}"


@pytest.mark.parametrize(("language", "forms"), [("de", 2), ("ru", 3)])
def test_plurals_have_every_form_of_the_language(language: str, forms: int) -> None:
    """A count's text has as many forms as the language's Plural-Forms says, and the
    form chosen follows the count (Russian: 1 правило, 2 правила, 5 правил, 21 правило)."""
    plurals = [e for e in po_entries(language).values() if isinstance(e.id, tuple)]
    assert len(plurals) >= 15
    assert all(len(e.string) == forms for e in plurals)
    assert i18n.catalog(language).ngettext("a", "b", 1) == "a"  # untranslated: English
    if language == "ru":
        words = [
            i18n.translate_plural(msg.STATUS_CHAT, n, "ru")
            .format(count=n, state="", digest="")
            .split("; ")[1]
            for n in (1, 2, 5, 11, 21, 22, 25, 111)
        ]
        assert words == [
            "1 правило",
            "2 правила",
            "5 правил",
            "11 правил",
            "21 правило",
            "22 правила",
            "25 правил",
            "111 правил",
        ]


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_catalog_holds_no_stale_messages(language: str) -> None:
    """A text changed in a messages module leaves its old translation behind: flagged
    here, so the catalog is updated rather than silently showing English."""
    known = {tuple(t) if isinstance(t, Plural) else t for t in message_ids().values()}
    assert set(po_entries(language)) - known == set()


def _is_message(node: ast.expr) -> bool:
    """Whether a node names a message of a messages module (``msg.X``,
    ``msg.BUTTON_LABELS[...]``, or a choice between such)."""
    if isinstance(node, ast.IfExp):
        return _is_message(node.body) and _is_message(node.orelse)
    if isinstance(node, ast.Subscript):
        node = node.value
    return isinstance(node, ast.Attribute) and ast.unparse(node.value) == "msg"


def _messages_alias(tree: ast.Module) -> bool:
    """Whether ``msg`` in this module is one of the messages modules."""
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module in ("bot.commands", "bot.feeds", "bot.rules")
        and any(a.name == "messages" and a.asname == "msg" for a in node.names)
        for node in ast.walk(tree)
    )


def test_the_code_words_only_messages_the_catalogs_cover() -> None:
    """Every ``tr(...)``, ``trn(...)`` and ``Text(...)`` in the bot takes a text of a
    messages module, which the tests above check in every catalog: a literal passed to
    them would escape that check."""
    calls = 0
    for path in BOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in WORDING_CALLS:
                calls += 1
                where = f"{path.relative_to(BOT)}:{node.lineno}: {ast.unparse(node)}"
                assert node.args and _is_message(node.args[0]), where
                assert _messages_alias(tree), where
    assert calls > 180


def test_every_message_the_code_writes_is_worded() -> None:
    """A ``msg.X`` written to a chat without ``tr``, ``trn`` or ``Text`` would be English
    in every chat."""
    for path in BOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and ast.unparse(node.func) in WORDING_CALLS
            for arg in node.args[:1]
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
        detail = i18n.translate_plural(msg.LIMIT_RULES, 1, "de").format(count=1, limit=1)
        assert refused.text == translate(msg.LIMIT, "de").format(detail=detail)
    finally:
        await app.stop()


async def test_a_feeds_error_in_status_is_worded_in_each_chats_language(
    httpserver: HTTPServer, sqlite_url: str, apps: Any
) -> None:
    """The poller records a feed's error once; ``status`` words it in the language of the
    chat that asks, as the rest of its reply."""
    httpserver.expect_request("/page").respond_with_data(
        "<html><body>no feed here</body></html>", content_type="text/html"
    )
    app, _ = await apps(sqlite_url, [httpserver.url_for("/page")])
    (report,) = await poll_all(app)
    assert report.error == str(Text(feed_messages.HTML_PAGE))
    await say(app, "language ru", "moscow")
    await say(app, "language de", "berlin")
    russian = (await say(app, "status", "moscow")).text.splitlines()[-1]
    assert russian.endswith(
        translate(msg.FEED_FAILING, "ru").format(
            count=1, error=translate(feed_messages.HTML_PAGE, "ru")
        )
    )
    assert "получена HTML-страница" in russian
    german = (await say(app, "status", "berlin")).text.splitlines()[-1]
    assert "eine HTML-Seite kam zurück" in german
    english = (await say(app, "status", "london")).text.splitlines()[-1]
    assert english.endswith(f"failing (1× in a row: {feed_messages.HTML_PAGE})")
