"""The chat's language: every text the bot writes goes through :func:`tr` or :func:`trn`.

The English texts in the ``messages`` modules (:mod:`bot.commands.messages` for replies,
:mod:`bot.feeds.messages` and :mod:`bot.rules.messages` for the errors feeds and rules
raise) are the message ids; ``bot/locale/XX.po`` holds the translations, read once per
language with Babel and used through :mod:`gettext`, whose ``ngettext`` picks a count's
plural form by the catalog's ``Plural-Forms`` (Russian has three).

The language of the text being written is a context variable: the command service sets it
for the chat it answers (:meth:`~bot.commands.service.CommandService.answer`, ``act``) and
the dispatcher for the chat it sends alerts to, so renderers call ``tr(msg.X).format(...)``
without passing it around. A text without a translation, and a language without a catalog,
come out English.

Errors carry a :class:`Text` (a message id and its fields) rather than a finished string:
``str(error)`` is English for logs and the database, and the chat's reply renders it with
:func:`say` in the chat's language.
"""

from __future__ import annotations

import contextvars
import functools
import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).with_name("locale")
DEFAULT = "en"
# The languages the bot speaks, each named in itself (``language`` lists them).
LANGUAGES = {"en": "English", "de": "Deutsch", "ru": "Русский"}

_current: contextvars.ContextVar[str] = contextvars.ContextVar("language", default=DEFAULT)


class Plural(NamedTuple):
    """A text that counts something: its English singular and plural, the ids of one
    plural entry in the catalogs (``msgid`` / ``msgid_plural``), each with ``{count}``."""

    one: str
    other: str


class Text:
    """A sentence to be worded where it is shown: a message id and its fields.

    A field may itself be a :class:`Text` (a parser error's "what was expected"), worded
    in the same language. A :class:`Plural` message takes its form from the ``count``
    field. ``str(text)`` is the English sentence.
    """

    __slots__ = ("fields", "message")

    def __init__(self, message: str | Plural, /, **fields: object) -> None:
        self.message = message
        self.fields = fields

    def render(self, language: str) -> str:
        """The sentence in ``language`` (English where the catalog lacks it)."""
        if isinstance(self.message, Plural):
            count = self.fields["count"]
            assert isinstance(count, int)
            template = translate_plural(self.message, count, language)
        else:
            template = translate(self.message, language)
        fields = {
            name: value.render(language) if isinstance(value, Text) else value
            for name, value in self.fields.items()
        }
        return template.format(**fields)

    def __str__(self) -> str:
        return self.render(DEFAULT)

    def to_data(self) -> dict[str, Any]:
        """The text as JSON data, to store and word later (a feed's last error, shown by
        ``status``): nested texts stay texts, numbers stay numbers, the rest becomes its
        English string."""
        message = list(self.message) if isinstance(self.message, Plural) else self.message
        fields = {
            name: value.to_data()
            if isinstance(value, Text)
            else value
            if isinstance(value, int | float)
            else str(value)
            for name, value in self.fields.items()
        }
        return {"message": message, "fields": fields}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Text:
        """The text :meth:`to_data` stored."""
        raw = data["message"]
        message = Plural(*raw) if isinstance(raw, list) else str(raw)
        fields = {
            name: cls.from_data(value) if isinstance(value, dict) else value
            for name, value in data["fields"].items()
        }
        return cls(message, **fields)

    def __repr__(self) -> str:
        return f"Text({self.message!r}, **{self.fields!r})"


def supported(code: str | None) -> str | None:
    """The language of a client's code (``de``, ``de-AT``, ``ru_RU``, ``EN``) if the bot
    speaks it, else None."""
    if not code:
        return None
    base = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return base if base in LANGUAGES else None


@functools.cache
def catalog(language: str) -> gettext.NullTranslations:
    """The translations of one language; English (no translation) for English and for a
    language without a catalog. Fuzzy and empty entries are left out (English shows)."""
    path = LOCALE_DIR / f"{language}.po"
    if language == DEFAULT or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as file:
        entries = read_po(file, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, entries)  # leaves fuzzy entries out; keeps Plural-Forms
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def translate(message: str, language: str) -> str:
    """``message`` (an English message id) in ``language``, or as is when untranslated."""
    return catalog(language).gettext(message)


def translate_plural(message: Plural, count: int, language: str) -> str:
    """The form of ``message`` for ``count`` in ``language`` (by its Plural-Forms)."""
    return catalog(language).ngettext(message.one, message.other, count)


def tr(message: str) -> str:
    """``message`` in the current language (see :func:`use`). Translate first, then
    ``.format(...)``: the catalog is keyed by the text with its ``{placeholders}``."""
    return translate(message, _current.get())


def trn(message: Plural, count: int) -> str:
    """The form of ``message`` for ``count`` in the current language, to ``.format``
    with ``count=...`` (and its other fields)."""
    return translate_plural(message, count, _current.get())


def say(text: Text) -> str:
    """``text`` worded in the current language."""
    return text.render(_current.get())


def use(language: str | None) -> None:
    """Write the texts of the current task in ``language`` (English when None)."""
    _current.set(language or DEFAULT)


@contextmanager
def speaking(language: str | None) -> Iterator[None]:
    """Texts written inside the block are in ``language``; the previous one after."""
    token = _current.set(language or DEFAULT)
    try:
        yield
    finally:
        _current.reset(token)
