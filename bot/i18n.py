"""The chat's language: every text the bot writes goes through :func:`tr`.

The English texts in :mod:`bot.commands.messages` are the message ids; ``bot/locale/XX.po``
holds the translations (read once per language with Babel). The language of the text
being written is a context variable: the command service sets it for the chat it answers
(:meth:`~bot.commands.service.CommandService.answer`, ``act``) and the dispatcher for the
chat it sends alerts to, so renderers call ``tr(msg.X).format(...)`` without passing it
around. A text without a translation, and a language without a catalog, come out English.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).with_name("locale")
DEFAULT = "en"
# The languages the bot speaks, each named in itself (``language`` lists them).
LANGUAGES = {"en": "English", "de": "Deutsch", "ru": "Русский"}

_current: contextvars.ContextVar[str] = contextvars.ContextVar("language", default=DEFAULT)


def supported(code: str | None) -> str | None:
    """The language of a client's code (``de``, ``de-AT``, ``ru_RU``, ``EN``) if the bot
    speaks it, else None."""
    if not code:
        return None
    base = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return base if base in LANGUAGES else None


@functools.cache
def catalog(language: str) -> dict[str, str]:
    """The translations of one language, message id to text; empty for English and for a
    language without a catalog. Fuzzy and empty entries are left out (English shows)."""
    path = LOCALE_DIR / f"{language}.po"
    if language == DEFAULT or not path.is_file():
        return {}
    with path.open("rb") as file:
        entries = read_po(file, locale=language)
    return {
        str(m.id): str(m.string)
        for m in entries
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }


def translate(message: str, language: str) -> str:
    """``message`` (an English message id) in ``language``, or as is when untranslated."""
    return catalog(language).get(message) or message


def tr(message: str) -> str:
    """``message`` in the current language (see :func:`use`). Translate first, then
    ``.format(...)``: the catalog is keyed by the text with its ``{placeholders}``."""
    return translate(message, _current.get())


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
