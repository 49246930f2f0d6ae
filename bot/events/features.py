"""What a story says about its event: the words, numbers and names of its title and lead.

Pure functions. A story is reduced to what tells one event from another:

* ``terms``: the folded, stemmed content words of the title (counted twice: outlets put
  the event in the headline) and of the first ``LEAD_WORDS`` words of the text, so a
  three-sentence aggregator copy and the full wire story are compared on the same part;
* ``numbers``: the numbers of title and lead (``1,300`` = ``1300``; ``first``/``2nd`` as
  ``1``/``2``), the sharpest separator of events on one topic (52 freed vs 1,300 asked for;
  310 votes in the first round vs 325 in the second);
* ``title_numbers``: the numbers of the headline alone, which name the event itself;
* ``title_ordinals``: the ordinals of the headline (``first``, ``2nd``, ``zweiten``,
  ``secondo``): which round, vote or stage it reports;
* ``names``: words written with a capital inside a sentence (people, places, bodies;
  an elided article or an English possessive cut off: ``l'Assemblée``, ``Bayrou's``),
  each reduced to its :func:`name_key`, so that declensions and spellings of one name in
  several languages meet (``Lukashenko``/``Lukashenka``, ``Трампа``/``Trump``,
  ``Lisbona``/``Lisbon``);
* ``language``: the language the story is written in, guessed from its most frequent
  function words (or, for a script with none listed, the script): two stories in two
  languages share few words, and are compared on their names and numbers instead.

Every script is transliterated first (anyascii), so a Russian ``Лукашенко`` and an English
``Lukashenko`` give the same name, and numbers and names link stories across languages.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from anyascii import anyascii

from bot.rules.analysis import Analyzer

# How much of a story's text counts: its lead, where every outlet states the event.
LEAD_WORDS = 100
# Names are compared on their first consonants (see ``name_key``)...
NAME_CONSONANTS = 4
# ...or, when they have fewer than three, on their first letters.
NAME_PREFIX = 5
# Bumped whenever extraction changes: stored features of another version are not compared.
VERSION = 3

_EMPTY: frozenset[str] = frozenset()
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_EDGE = "()[]{}<>\"'.,;:!?-\u2013\u2014\u2018\u2019\u201c\u201d\u00ab\u00bb"
# An elided article or preposition before a name: l'Assemblee, dell'Elevador, d'Italia.
_ELISION = re.compile(r"^[a-z]{1,4}'(?=[A-Z])")
# An English possessive: Bayrou's government is Bayrou's.
_POSSESSIVE = re.compile(r"'s?$")
_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)")
# A figure with separators: 1,300 / 1.300 / 24,5 / 24.5 / 1,234,567.
_FIGURE = re.compile(r"\d+(?:[.,]\d+)+")
# Letters, hyphen, digits: a designation (F-16, Su-30, COVID-19), not a figure.
_DESIGNATION = re.compile(r"\b[^\W\d_]+-\d+\w*")
_ORDINAL_WORDS = {
    "first": "1",
    "second": "2",
    "third": "3",
    "fourth": "4",
    "fifth": "5",
    "sixth": "6",
    "seventh": "7",
    "eighth": "8",
    "ninth": "9",
    "tenth": "10",
}
# Ordinals of other languages, read in headlines only: in running text some are also
# common words (Italian "secondo" is "according to").
_TITLE_ORDINAL_WORDS = {
    **_ORDINAL_WORDS,
    **dict.fromkeys(("erste", "ersten", "erster", "primo", "prima", "premier", "premiere"), "1"),
    **dict.fromkeys(("primero", "primera", "pervyi", "pervom", "pervogo"), "1"),
    **dict.fromkeys(("zweite", "zweiten", "zweiter", "secondo", "seconda", "deuxieme"), "2"),
    **dict.fromkeys(("segundo", "segunda", "vtoroi", "vtorom", "vtorogo"), "2"),
    **dict.fromkeys(("dritte", "dritten", "terzo", "terza", "troisieme", "tercero"), "3"),
}

# Words that say nothing about which event a story reports. Rarer words are weighed by
# how few stories of the window use them; these are dropped outright so a small window
# does not mistake "the" for a clue.
_STOPWORDS = """
    a about above after again against all also am an and any are as at be been before
    being below between both but by can could did do does doing down during each even
    ever every few for from further get got had has have having he her here hers him his
    how i if in into is it its itself just last like made make many may me might more
    most much must my new no nor not now of off on once one only or other our out over
    own per said same say says she should since so some still such than that the their
    them then there these they this those through to too two under until up upon us very
    was we were what when where which while who whom why will with would year years yet
    you your
"""
STOPWORDS = frozenset(_STOPWORDS.split())

# The most frequent function words of the languages news is written in, folded and in
# Latin letters (Russian and Ukrainian as anyascii writes them; Danish and Norwegian as one).
# A story's language is the one whose words its title and lead use most, a word shared by
# several languages counting for each a share.
_FUNCTION_WORDS = {
    "en": "the of and to in is that for on with was as by at from it his has have are be an",
    "de": "der die und den das ist nicht mit von des dem ein eine zu auf im sich auch wird nach",
    "fr": "de la le les et des en un une du est que qui dans pour pas sur au aux a ont avec",
    "it": "di il la che e per un una del della dei nel con sono non gli le ha al da si alla",
    "es": "de la el que los las en del por con una para se al es y un fue su lo como",
    "pt": "de a o que os as do da em para com uma nao no dos e um foi na ao pelo",
    "nl": "de het een van en is dat op te in voor met niet zijn ook aan wordt bij",
    "sv": "och det att som en pa ar av med for inte har till den var om",
    "no": "og det er som en pa til av af med for ikke har den var om jeg",
    "pl": "i w na z nie sie do to ze jest o jak po przez oraz dla",
    "cs": "a v na se je z do ze to ale jako pro byl jsou tak",
    "ro": "si de la in cu pe care din un o a fost este sa pentru mai",
    "tr": "ve bir bu da de icin ile olarak ise daha cok gibi",
    "id": "yang dan di ke dari untuk dengan ini itu pada dalam tidak adalah akan juga",
    "ru": "i v ne na chto s po k kak eto ego on ona iz dlia ot o",
    "uk": "i v na ne shcho z ta u do iak tse za vid dlia pro",
}
_LANGUAGES_OF = {
    word: tuple(code for code, words in _FUNCTION_WORDS.items() if word in words.split())
    for word in {word for words in _FUNCTION_WORDS.values() for word in words.split()}
}
# A guess needs this much evidence (function words, shared ones counting a share):
# a headline alone may have too few.
_LANGUAGE_EVIDENCE = 2.0


class Terms:
    """A story's stems and their counts, read-only, in two tuples: the window keeps one
    per story for two days, and a dict of 80 stems takes 4.7 KB where these take 1.4 KB."""

    __slots__ = ("_counts", "_stems")

    def __init__(self, counts: Mapping[str, int]) -> None:
        self._stems = tuple(counts)
        self._counts = tuple(counts.values())

    def __iter__(self) -> Iterator[str]:
        return iter(self._stems)

    def __len__(self) -> int:
        return len(self._stems)

    def items(self) -> Iterator[tuple[str, int]]:
        return zip(self._stems, self._counts, strict=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Terms) and dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]  # equal in any order: not hashable

    def __repr__(self) -> str:
        return f"Terms({dict(self.items())!r})"


@dataclass(frozen=True, slots=True)
class EventFeatures:
    """The event clues of one story (see the module docstring)."""

    terms: Terms
    numbers: frozenset[str]
    title_numbers: frozenset[str]
    title_ordinals: frozenset[str]
    names: frozenset[str]
    language: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping, as stored next to the story's cluster."""
        return {
            "v": VERSION,
            "terms": dict(sorted(self.terms.items())),
            "numbers": sorted(self.numbers),
            "title_numbers": sorted(self.title_numbers),
            "title_ordinals": sorted(self.title_ordinals),
            "names": sorted(self.names),
            "language": self.language,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EventFeatures | None:
        """Features stored by :meth:`to_json`; None when another version stored them."""
        if data.get("v") != VERSION:
            return None
        return cls(
            terms=Terms({sys.intern(str(k)): int(v) for k, v in data["terms"].items()}),
            numbers=_frozen(data["numbers"]),
            title_numbers=_frozen(data["title_numbers"]),
            title_ordinals=_frozen(data["title_ordinals"]),
            names=_frozen(data["names"]),
            language=data["language"],
        )


def lead(text: str, words: int = LEAD_WORDS) -> str:
    """The first ``words`` words of a text."""
    return " ".join(text.split()[:words])


def extract(title: str, text: str, analyzer: Analyzer) -> EventFeatures:
    """Reduces a story to its event clues.

    Args:
        title: The story's headline as the feed gave it.
        text: Its text (the fullest the feed gave); only the lead is read.
        analyzer: The analysis chain of the rules (folding and stemming).

    Returns:
        The features; empty sets and mappings for a story with no words.
    """
    language = _script(title, text)
    title = anyascii(title)
    head = lead(anyascii(text))
    terms: Counter[str] = Counter()
    for stem in _content_stems(title, analyzer):
        terms[stem] += 2
    for stem in _content_stems(head, analyzer):
        terms[stem] += 1
    return EventFeatures(
        terms=Terms(terms),
        numbers=_numbers(f"{title} {head}", analyzer),
        title_numbers=_numbers(title, analyzer),
        title_ordinals=_ordinals(title, analyzer),
        names=_names(f"{title}. {head}", analyzer),
        language=_language(f"{title} {head}") or language,
    )


def _frozen(values: Iterable[str]) -> frozenset[str]:
    """The values as a frozenset of interned strings; one shared empty set. The window
    keeps every story's features for two days: its stories share each stem, number and
    name once, and the many empty sets take no room (216 bytes each otherwise)."""
    found = frozenset(sys.intern(value) for value in values)
    return found or _EMPTY


def _words(text: str, analyzer: Analyzer) -> list[tuple[str, str]]:
    """(stem, folded word) of each single-position token of a text."""
    out = []
    for chunk in text.split():
        for entry in analyzer.info[chunk].entries:
            if entry.first == entry.last:
                out.append((entry.stem, entry.word))
    return out


def _content_stems(text: str, analyzer: Analyzer) -> list[str]:
    return [
        stem
        for stem, word in _words(text, analyzer)
        if word not in STOPWORDS and stem not in STOPWORDS
    ]


def _figure(match: re.Match[str]) -> str:
    """One way of writing a figure whatever the language's separators: groups of three
    digits after the first are thousands (``1.300`` = ``1,300`` = ``1300``); a single
    separator before one, two or four-plus digits is the decimal point (``24,5`` =
    ``24.5``, as Italian, German or French outlets write it)."""
    whole, *groups = re.split(r"[.,]", match.group())
    if len(whole) <= 3 and all(len(group) == 3 for group in groups):
        return whole + "".join(groups)
    if len(groups) == 1:
        return f"{whole}.{groups[0]}"
    return match.group()


def _numbers(text: str, analyzer: Analyzer) -> frozenset[str]:
    found = set()
    text = _FIGURE.sub(_figure, _DESIGNATION.sub(" ", text))
    for _, word in _words(text, analyzer):
        if word in _ORDINAL_WORDS:
            found.add(_ORDINAL_WORDS[word])
        elif word[:1].isdigit():
            ordinal = _ORDINAL.fullmatch(word)
            found.add(ordinal.group(1) if ordinal else word)
    return _frozen(found)


def _ordinals(title: str, analyzer: Analyzer) -> frozenset[str]:
    found = set()
    for _, word in _words(title, analyzer):
        ordinal = _ORDINAL.fullmatch(word)
        if ordinal:
            found.add(ordinal.group(1))
        elif word in _TITLE_ORDINAL_WORDS:
            found.add(_TITLE_ORDINAL_WORDS[word])
    return _frozen(found)


def _names(text: str, analyzer: Analyzer) -> frozenset[str]:
    """Capitalised words that do not open a sentence: the people, places and bodies."""
    found = set()
    for sentence in _SENTENCE_END.split(text):
        for position, raw in enumerate(sentence.split()):
            core = _POSSESSIVE.sub("", _ELISION.sub("", raw.strip(_EDGE)))
            if position == 0 or len(core) < 3 or not core[:1].isupper():
                continue
            for _, word in _words(core, analyzer):
                if word not in STOPWORDS and not word[:1].isdigit():
                    found.add(name_key(word))
    return _frozen(found)


@functools.lru_cache(maxsize=65536)
def name_key(word: str) -> str:
    """What a name is compared on: its first consonants, so that the spellings of one
    name meet across languages, transliterations and case endings.

    Vowels are left out, and so are ``y`` and ``h``, which transliterations add or drop
    (``Sviatlana``/``Svetlana``, ``Tsikhanouski``/``Tsikanouski``); ``c`` and ``q`` are
    ``k``, ``w`` is ``v``, ``x`` is ``ks`` (``Alexei``/``Aleksei``), a doubled consonant
    is one. Four consonants, not more: a case ending adds one (``Трампом`` is
    ``trampom``). So ``Trump``, ``Трампом`` and ``Tramp`` are ``trmp``; ``Lukashenko``
    and ``Lukashenka`` are ``lksn``; ``Kellogg`` and ``Келлога`` are ``klg``; ``Sudan``
    (``sdn``) and ``Sweden`` (``svdn``) stay apart. A name of fewer than three consonants
    (``Pas``, ``Iran``) is compared on its first letters instead: ``Iran`` and ``Iraq``
    stay apart.

    Args:
        word: A folded word (lower case, Latin letters).
    """
    skeleton = _DOUBLED.sub(r"\1", word.translate(_CONSONANTS))
    if len(skeleton) < 3:
        return word[:NAME_PREFIX]
    return skeleton[:NAME_CONSONANTS]


_CONSONANTS = str.maketrans(
    {**dict.fromkeys("aeiouyh'", None), "c": "k", "q": "k", "w": "v", "x": "ks"}
)
_DOUBLED = re.compile(r"(.)\1+")


def _language(text: str) -> str | None:
    """The language whose function words the text uses most; None when too few of
    them are found to tell."""
    counts: defaultdict[str, float] = defaultdict(float)
    for chunk in text.lower().split():
        languages = _LANGUAGES_OF.get(chunk.strip(_EDGE))
        if languages:
            for language in languages:
                counts[language] += 1.0 / len(languages)
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    if not ranked or ranked[0][1] < _LANGUAGE_EVIDENCE:
        return None
    if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
        return None
    return ranked[0][0]


def _script(title: str, text: str) -> str | None:
    """The script of the first letter outside Latin ones (``cyrillic``, ``greek``...),
    or None when there is none: the language of a story whose function words tell none."""
    start = title + text[:200]
    if start.isascii():
        return None
    for char in start:
        if char.isalpha() and not char.isascii():
            name = unicodedata.name(char, "")
            if not name.startswith("LATIN"):
                return name.split(" ", 1)[0].lower()
    return None
