"""Text analysis shared by queries and stories: tokenise, fold case and accents, stem.

Queries and stories go through the same functions, so a phrase in a rule and the words
of a story always compare as the same normalised tokens.

Tokens are runs of letters and digits, joined by inner ``. , ' -`` marks:

* ``U.S.`` (single letters and dots) is one token, ``us``;
* ``1,300`` and ``3.5`` (digits) stay one number, ``1300`` and ``3.5``;
* ``e-mail`` gives the parts ``e``, ``mail`` at consecutive positions, plus the joined
  ``email`` spanning both, so ``email``, ``e-mail`` and ``e mail`` find each other;
* any other inner mark splits: ``belta.by`` is ``belta`` then ``by``.

Every token is case-folded, stripped of accents (``Łukaszenka`` = ``lukaszenka``) and
stemmed with Snowball. A story is first cut at whitespace, and the analysis of each
distinct chunk (``"Minsk,"``) is cached: news text repeats its words, so most of a story
is analysed by dictionary look-ups.
"""

from __future__ import annotations

import functools
import re
import sys
import threading
import unicodedata
from collections.abc import Callable
from functools import partial
from typing import NamedTuple, TypeVar

import Stemmer
from anyascii import anyascii

# One compiled pattern finds every raw token; the per-token rules below are cached.
TOKEN_RE = re.compile(r"[^\W_]+(?:['\u2019.,\-\u2010\u2011\u2013][^\W_]+)*")
_HYPHEN_RE = re.compile(r"[\-\u2010\u2011\u2013]")
_DOT_COMMA_RE = re.compile(r"[.,]")

# Letters that Unicode does not decompose into base letter + accent.
# Punctuation that often wraps a word: "(Minsk)," -> Minsk. None of it is a word char.
_EDGE_PUNCT = "()[]{}<>.,;:!?\"'\u2018\u2019\u201c\u201d\u00ab\u00bb\u2026-\u2013\u2014/*&%$#@"

_SPECIAL = str.maketrans(
    {
        "ł": "l",
        "đ": "dj",
        "ð": "d",
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ı": "i",
        "ħ": "h",
        "ŀ": "l",
        "ŧ": "t",
        "\u2019": "'",
    }
)

_V = TypeVar("_V")

# Snowball languages written in a script of their own: their stemmer reads that script.
_OWN_SCRIPT = frozenset(
    {"arabic", "armenian", "greek", "hindi", "nepali", "russian", "tamil", "yiddish"}
)

# Caches are dropped wholesale past this many entries so memory stays bounded: a chunk's
# full analysis (``info``) takes about 1 KB, a plain word's (``single``, the fast path of
# most words) about 200 bytes, so at most some 20 MB and 40 MB.
_INFO_LIMIT = 20_000
_SINGLE_LIMIT = 200_000


def fold(text: str, transliterate: bool = True) -> str:
    """Case-fold and strip accents: ``Łukašenka`` -> ``lukasenka``, ``Straße`` -> ``strasse``;
    letters of other scripts are written in Latin ones: ``Лукашенко`` -> ``lukashenko``.

    Args:
        text: Any text.
        transliterate: Write letters of other scripts in Latin letters (off for a
            stemming language with a script of its own, such as Russian).

    Returns:
        The folded text (may be longer than the input, e.g. ``ß`` -> ``ss``).
    """
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in decomposed if not _ignorable(c)).translate(_SPECIAL)
    if not transliterate or folded.isascii():
        return folded
    return "".join(c if c.isascii() or not c.isalnum() else _latin(c) for c in folded)


@functools.lru_cache(maxsize=4096)
def _latin(letter: str) -> str:
    """One letter or digit of another script in Latin letters. The soft and hard signs'
    apostrophes are dropped: ``Беларусь`` is ``belarus``, one word."""
    return anyascii(letter).lower().replace("'", "").replace('"', "")


def _ignorable(c: str) -> bool:
    """A character that changes no word: a combining mark (an accent, once decomposed)
    or an invisible format character (soft hyphen, zero-width space and joiners, word
    joiner, byte-order mark, direction marks)."""
    return unicodedata.combining(c) != 0 or unicodedata.category(c) == "Cf"


def visible(text: str) -> tuple[str, list[int] | None]:
    """``text`` without its ignorable characters, so ``Bel\u00adarus`` and
    ``be\u0301larus`` read as one word.

    Returns:
        The text, and for each of its characters the index in ``text`` (None when
        nothing was dropped).
    """
    if text.isascii():
        return text, None
    kept = [i for i, c in enumerate(text) if not _ignorable(c)]
    if len(kept) == len(text):
        return text, None
    return "".join(text[i] for i in kept), kept


class Entry(NamedTuple):
    """One token of a chunk, relative to that chunk."""

    stem: str
    word: str  # folded, not stemmed (prefix queries compare against this)
    first: int  # first position, relative
    last: int  # last position, relative (> first only for a joined compound)
    start: int  # char offsets inside the chunk
    end: int


class RawInfo(NamedTuple):
    """Everything analysis knows about one whitespace-free chunk, cached by its text."""

    positions: int
    entries: tuple[Entry, ...]
    stems: tuple[str, ...]  # distinct
    words: tuple[str, ...]  # distinct
    pos_stems: tuple[str, ...]  # one per position
    pos_words: tuple[str, ...]  # one per position
    joined: tuple[Entry, ...]  # compounds spanning several positions


# Prefix rules are looked up by the first letters of a word, its head, written as a
# prefix query (``minsk`` -> ``min*``: the ``*`` keeps heads apart from stems); each
# word's head is worked out once, with its stem.
HEAD = 3


def prefix_key(prefix: str) -> str:
    """A prefix as rules are looked up by it: ``min`` -> ``min*``, interned, so a
    story's heads and the rules' keys are shared objects."""
    return sys.intern(prefix + "*")


# A chunk holding exactly one token: its (stem, folded word, ``prefix_key`` of its head).
Single = tuple[str, str, str]
# What ``Analyzer.single`` gives a chunk of several tokens ("U.S.-led") or none ("--"):
# "\0" is no token's stem, word or head.
NOT_SINGLE: Single = ("\0", "\0", "\0")


class Memo(dict[str, _V]):
    """Dict that computes a missing key, so lookups run at C speed via ``map``.

    No lock: under the GIL a racing thread at worst computes the same value twice.
    """

    def __init__(self, compute: Callable[[str], _V]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: str) -> _V:
        value = self._compute(key)
        if len(self) >= _INFO_LIMIT:
            self.clear()
        self[key] = value
        return value


class _SingleCache(dict[str, Single]):
    """Chunk -> ``Single``; a chunk met for the first time is analysed as it is looked
    up, so a story's chunks are all looked up in one pass at C speed."""

    __slots__ = ("_single_of",)

    def __init__(self, single_of: Callable[[str], Single | None]) -> None:
        super().__init__()
        self._single_of = single_of

    def __missing__(self, chunk: str) -> Single:
        found = self._single_of(chunk)
        if found is None:
            # Kept too (the cache is bounded by ``single_of``): news repeats "U.S.-led".
            found = self[chunk] = NOT_SINGLE
        return found


class Analyzer:
    """Turns raw tokens into stems and folded words for one stemmer language."""

    def __init__(self, language: str = "english") -> None:
        """Creates the analyzer.

        Args:
            language: A Snowball language known to PyStemmer.

        Raises:
            ValueError: The language has no Snowball stemmer.
        """
        if language not in Stemmer.algorithms():
            known = ", ".join(Stemmer.algorithms())
            raise ValueError(f"rules: no stemmer for language {language!r}; use one of {known}")
        self.language = language
        # A stemmer for a language of another script stems that script: Cyrillic stays
        # Cyrillic for Russian. Otherwise other scripts are read in Latin letters.
        self.fold: Callable[[str], str] = partial(fold, transliterate=language not in _OWN_SCRIPT)
        self._stemmer = Stemmer.Stemmer(language)
        # Our chunk caches already remember stems; PyStemmer's own cache only slows misses.
        self._stemmer.maxCacheSize = 0
        self._stem_lock = threading.Lock()
        self.info = Memo(self._analyse_raw)
        # Chunk -> (stem, word, head) for chunks of exactly one token, nearly every chunk
        # of a story: one look-up per chunk, and "Minsk" and "Minsk," share one tuple.
        # Filled by ``single_of`` as chunks are looked up; chunks of several tokens (or
        # none) read ``NOT_SINGLE``. A word's own entry ("Minsk") also serves its chunks
        # with punctuation.
        self.single = _SingleCache(self.single_of)

    def stem(self, folded: str) -> str:
        """Stems one folded word; apostrophes left by the stemmer are dropped."""
        # A PyStemmer object keeps state between calls, so it is not shared across threads.
        with self._stem_lock:
            stemmed = self._stemmer.stemWord(folded)
        # Interned, so a rule's stem and a story's are one object: set and dict look-ups
        # then match on identity without reading the other string (a cache miss).
        return sys.intern(stemmed.replace("'", ""))

    def _parts(self, raw: str) -> tuple[list[tuple[str, int, int]], bool]:
        """Splits a raw token into folded words with char offsets.

        Returns:
            The words, and whether they form one hyphenated compound (each hyphen
            segment a single word) whose joined form should also be indexed.
        """
        parts: list[tuple[str, int, int]] = []
        segments = 0
        simple_segments = True
        seg_start = 0
        for match in [*_HYPHEN_RE.finditer(raw), None]:
            seg_end = match.start() if match else len(raw)
            found = self._split_segment(raw[seg_start:seg_end], seg_start)
            segments += 1
            simple_segments = simple_segments and len(found) == 1
            parts.extend(found)
            if match:
                seg_start = match.end()
        return parts, segments > 1 and simple_segments and len(parts) > 1

    def _split_segment(self, segment: str, offset: int) -> list[tuple[str, int, int]]:
        """Applies the number / acronym / split rules to one hyphen-free segment."""
        if "." in segment or "," in segment:
            pieces = _DOT_COMMA_RE.split(segment)
            if all(p.isdigit() for p in pieces):
                # 1,300 and 3.5: one number; thousands commas dropped, decimals kept.
                return [(segment.replace(",", ""), offset, offset + len(segment))]
            if "," not in segment and all(len(p) == 1 and p.isalpha() for p in pieces):
                # U.S, e.g: an acronym written with dots.
                return [(self.fold("".join(pieces)), offset, offset + len(segment))]
            out = []
            pos = offset
            for piece in pieces:
                out.append((self.fold(piece), pos, pos + len(piece)))
                pos += len(piece) + 1
            return [p for p in out if p[0]]
        folded = self.fold(segment)
        return [(folded, offset, offset + len(segment))] if folded else []

    def clear_caches(self) -> None:
        """Forgets every analysed chunk (benchmarks use it to measure cold text)."""
        self.info.clear()
        self.single.clear()

    def npos(self, chunk: str) -> int:
        """How many token positions a chunk holds."""
        return self.info[chunk].positions

    def single_of(self, chunk: str) -> Single | None:
        """(stem, word, head) of a chunk holding exactly one token, else None; cached in
        ``single``."""
        core = chunk.strip(_EDGE_PUNCT)
        if core.isalnum() and core.isprintable():
            found = self._plain(core)
        else:
            info = self.info[chunk]
            if info.positions != 1 or info.joined:
                return None
            found = _single(info.pos_stems[0], info.pos_words[0])
        if len(self.single) >= _SINGLE_LIMIT:
            self.single.clear()
        self.single[chunk] = found
        return found

    def _plain(self, core: str) -> Single:
        """``Single`` of a word of letters and digits, kept in ``single`` under the word
        itself (a chunk of just that word reads the same)."""
        found = self.single.get(core)
        if found is None:
            folded = self.fold(core)
            found = _single(self.stem(folded), folded)
            if len(self.single) >= _SINGLE_LIMIT:
                self.single.clear()
            self.single[core] = found
        return found

    def _analyse_raw(self, chunk: str, cache: bool = True) -> RawInfo:
        """Analyses a whitespace-free chunk of text (``"(U.S.-led,"``) into its tokens;
        ``cache`` keeps a plain word's analysis for the stories to come."""
        core = chunk.strip(_EDGE_PUNCT)
        if core.isalnum() and core.isprintable():
            # Most chunks are one plain word wrapped in punctuation: no regex needed.
            if cache:
                stem, word, _ = self._plain(core)
            else:
                word = self.fold(core)
                stem = self.stem(word)
            start = chunk.index(core)
            entry = Entry(stem, word, 0, 0, start, start + len(core))
            return RawInfo(1, (entry,), (stem,), (word,), (stem,), (word,), ())
        entries: list[Entry] = []
        joined: list[Entry] = []
        pos = 0
        seen, where = visible(chunk)
        for match in TOKEN_RE.finditer(seen):
            parts, compound = self._parts(match.group())
            base = match.start()
            for i, (word, start, end) in enumerate(parts):
                entries.append(
                    Entry(
                        self.stem(word),
                        word.replace("'", ""),
                        pos + i,
                        pos + i,
                        base + start,
                        base + end,
                    )
                )
            if compound:
                word = "".join(w for w, _, _ in parts)
                last = pos + len(parts) - 1
                start, end = base + parts[0][1], base + parts[-1][2]
                joined.append(Entry(self.stem(word), word.replace("'", ""), pos, last, start, end))
            pos += len(parts)
        if where is not None:
            # Offsets in the chunk as written, invisible characters included.
            entries = [e._replace(start=where[e.start], end=where[e.end - 1] + 1) for e in entries]
            joined = [e._replace(start=where[e.start], end=where[e.end - 1] + 1) for e in joined]
        every = entries + joined
        return RawInfo(
            positions=pos,
            entries=tuple(every),
            stems=tuple(dict.fromkeys(e.stem for e in every)),
            words=tuple(dict.fromkeys(e.word for e in every)),
            pos_stems=tuple(e.stem for e in entries),
            pos_words=tuple(e.word for e in entries),
            joined=tuple(joined),
        )

    def query_slots(self, text: str) -> list[tuple[tuple[str, ...], ...]]:
        """Analyses query text (a word or a phrase) into position slots.

        Each slot lists alternative stem sequences; a hyphenated compound offers its
        joined stem or its parts in a row, everything else a single stem.

        Args:
            text: The word or phrase as the user typed it.

        Returns:
            The slots in order; empty when the text holds no letters or digits.
        """
        slots: list[tuple[tuple[str, ...], ...]] = []
        for raw in TOKEN_RE.findall(visible(text)[0]):
            # Not cached: a rule is compiled once, and with many rules the analyses of
            # their words would only fill memory that stories never read.
            info = self._analyse_raw(raw, cache=False)
            if info.joined:
                slots.append(((info.joined[0].stem,), info.pos_stems))
            else:
                slots.extend(((stem,),) for stem in info.pos_stems)
        return slots


def _single(stem: str, word: str) -> Single:
    """A one-token chunk's tuple. A word its stemmer leaves as is shares the stem's
    object, so reading a story's words touches no more memory than reading its stems;
    heads are shared, so a story's set of heads allocates nothing."""
    return stem, (stem if stem == word else word), prefix_key(word[:HEAD])


_ANALYZERS: dict[str, Analyzer] = {}
_ANALYZERS_LOCK = threading.Lock()


def get_analyzer(language: str) -> Analyzer:
    """Returns the shared analyzer for a language (its caches serve every rule)."""
    with _ANALYZERS_LOCK:
        analyzer = _ANALYZERS.get(language)
        if analyzer is None:
            analyzer = _ANALYZERS[language] = Analyzer(language)
        return analyzer
