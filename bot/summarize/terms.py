"""Turning sentences into comparable terms: lower-cased, stop words removed, stemmed."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

_WORD = re.compile(r"\w+")

# ISO 639-1 code -> Snowball algorithm name, for the languages PyStemmer ships.
_SNOWBALL = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "es": "spanish", "eu": "basque", "fi": "finnish",
    "fr": "french", "ga": "irish", "hi": "hindi", "hu": "hungarian", "hy": "armenian",
    "id": "indonesian", "it": "italian", "lt": "lithuanian", "ne": "nepali", "nl": "dutch",
    "no": "norwegian", "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian",
    "sr": "serbian", "sv": "swedish", "ta": "tamil", "tr": "turkish",
}  # fmt: skip

# Function words carry no topic. Only English has a list: in other languages the
# in-document IDF weighting already pushes the most frequent words down.
_ENGLISH_STOP_TEXT = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself no nor not now of off on once
    only or other our ours ourselves out over own said same says she should so some such
    than that the their theirs them themselves then there these they this those through to
    too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves mr mrs ms one two new last year years told
"""
_ENGLISH_STOP_WORDS = frozenset(_ENGLISH_STOP_TEXT.split())


@lru_cache(maxsize=32)
def _stemmer(language: str) -> Stemmer.Stemmer | None:
    algorithm = _SNOWBALL.get(language)
    return Stemmer.Stemmer(algorithm) if algorithm else None


def terms(text: str, language: str = "en") -> list[str]:
    """Content terms of ``text``: lower-case word stems without stop words or bare numbers.

    Args:
        text: A sentence or title.
        language: ISO 639-1 code; selects the stemmer (none for unknown languages).

    Returns:
        The terms in order of appearance, duplicates kept (counts matter for TF).
    """
    words = [word for word in _WORD.findall(text.lower()) if not word.isdigit()]
    if language == "en":
        words = [word for word in words if word not in _ENGLISH_STOP_WORDS and len(word) > 1]
    stemmer = _stemmer(language)
    return stemmer.stemWords(words) if stemmer is not None else words
