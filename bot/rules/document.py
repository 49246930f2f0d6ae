"""A story as rules see it: its fields, analysed once and shared by every rule."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import accumulate, chain, compress, repeat
from operator import is_, itemgetter
from typing import Any, TypeVar

from bot.rules.analysis import HEAD, NOT_SINGLE, Analyzer, RawInfo, prefix_key

FIELDS = ("title", "text", "source", "url", "author")
# A rule term without a field searches the title and the text.
BODY = ""
GROUP_FIELDS: dict[str, tuple[str, ...]] = {BODY: ("title", "text"), **{f: (f,) for f in FIELDS}}

_V = TypeVar("_V")
_FIRST = itemgetter(0)
_SECOND = itemgetter(1)
_THIRD = itemgetter(2)
_URL_REST_RE = re.compile(r"[?#]")
_CHUNK_RE = re.compile(r"\S+")


@dataclass(frozen=True)
class Document:
    """The text of one story, field by field.

    Attributes:
        title: The story title.
        text: The story body (summary or full content).
        source: The feed's name, e.g. ``Reuters World``.
        url: The story link; rules see its host and path.
        author: The author's name.
    """

    title: str = ""
    text: str = ""
    source: str = ""
    url: str = ""
    author: str = ""


def url_window(url: str) -> tuple[int, int]:
    """Returns where host and path sit in a URL: scheme, credentials and query excluded."""
    start = url.find("//")
    start = start + 2 if start >= 0 else 0
    slash = url.find("/", start)
    host_end = slash if slash >= 0 else len(url)
    at = url.rfind("@", start, host_end)
    if at >= 0:
        start = at + 1
    rest = _URL_REST_RE.search(url, start)
    return start, rest.start() if rest else len(url)


# Sets the words of ``AnalyzedDoc.word_line`` apart: no folded word holds it, so a word
# of the field starts with ``p`` exactly when ``WORD_MARK + p`` occurs in the line.
WORD_MARK = "\n"

# What a chunk of several tokens (or none) reads as among the singles.
_MISSING_STEM = _MISSING_WORD = NOT_SINGLE[0]


class _Tokens:
    """One field cut into chunks and tokens.

    Attributes:
        raws: The whitespace-separated chunks, in order, lower-cased (see below).
        singles: (stem, word, head) per chunk; chunks of several tokens (or none) hold
            ``NOT_SINGLE`` here and their analysis in ``multi``.
        multi: Chunk index -> analysis, for the chunks that are not one token.
        flat: The stem at each token position.
        terms: The distinct stems, joined compounds (``e-mail`` as ``email``) included.
    """

    __slots__ = ("raws", "singles", "multi", "flat", "terms")

    def __init__(self, text: str, analyzer: Analyzer) -> None:
        # Lower case first (tokens are case-folded anyway), so "The" and "the" are one
        # cached chunk, unless lowering moved a character (as "İ" does): chunks keep
        # the offsets of the original text, for highlights.
        lowered = text.lower()
        raws = self.raws = (lowered if len(lowered) == len(text) else text).split()
        # Nearly every chunk is one token already seen: one look-up each, at C speed
        # (the cache analyses a chunk it has not seen).
        singles = list(map(analyzer.single.__getitem__, raws))
        flat = list(map(_FIRST, singles))
        terms = set(flat)
        self.singles, self.flat, self.terms = singles, flat, terms
        self.multi: dict[int, RawInfo] = {}
        if _MISSING_STEM not in terms:
            return
        # Chunks of several tokens ("U.S.-led", "e-mail") or none ("--").
        terms.discard(_MISSING_STEM)
        spliced: list[str] = []
        done = 0
        for i in compress(range(len(raws)), map(is_, singles, repeat(NOT_SINGLE))):
            info = self.multi[i] = analyzer.info[raws[i]]
            terms.update(info.stems)
            spliced += flat[done:i]
            spliced += info.pos_stems
            done = i + 1
        spliced += flat[done:]
        self.flat = spliced

    def starts(self, npos: Callable[[str], int]) -> list[int]:
        """Position of the first token of each chunk (``npos``: chunk -> its tokens)."""
        return [0, *accumulate(map(npos, self.raws))]

    def joined(self, attr: str, npos: Callable[[str], int]) -> dict[str, list[tuple[int, int]]]:
        """Compounds (``e-mail`` as ``email``) spanning several positions, by their
        ``stem`` or ``word`` (``attr``)."""
        found: dict[str, list[tuple[int, int]]] = {}
        if self.multi:  # only chunks of several tokens hold compounds
            starts = self.starts(npos)
            for i, info in self.multi.items():
                for entry in info.joined:
                    found.setdefault(getattr(entry, attr), []).append(
                        (starts[i] + entry.first, starts[i] + entry.last)
                    )
        return found

    def words(self) -> set[str]:
        """The distinct folded (unstemmed) words, joined compounds included."""
        words = set(map(_SECOND, self.singles))
        if self.multi:
            words.discard(_MISSING_WORD)
            for info in self.multi.values():
                words.update(info.words)
        return words

    def word_line(self) -> str:
        """Every folded word (joined compounds included), each after a ``WORD_MARK``."""
        words: Iterable[str] = map(_SECOND, self.singles)
        if self.multi:
            extra = chain.from_iterable(info.words for info in self.multi.values())
            words = chain(words, extra)
        # A multi-token chunk's placeholder ("\0") joins as a word no prefix starts.
        return WORD_MARK + WORD_MARK.join(words)


class _Fields(dict[str, _Tokens]):
    """Field name -> its tokens, analysed when first asked for."""

    __slots__ = ("texts", "analyzer")

    def __init__(self, texts: dict[str, tuple[str, int]], analyzer: Analyzer) -> None:
        super().__init__()
        self.texts = texts
        self.analyzer = analyzer

    def __missing__(self, field: str) -> _Tokens:
        found = self[field] = _Tokens(self.texts[field][0], self.analyzer)
        return found


class _PerGroup(dict[str, _V]):
    """Field group -> a view of its fields' tokens (``of_fields``), worked out when first
    asked for; a plain mapping, so rules read it at C speed.

    Holds no reference to the story's ``AnalyzedDoc``: with no cycle, a story is freed
    as soon as it is dropped, not by the garbage collector.
    """

    __slots__ = ("fields", "of_fields")

    def __init__(self, fields: _Fields, of_fields: Callable[[list[_Tokens]], _V]) -> None:
        super().__init__()
        self.fields = fields
        self.of_fields = of_fields

    def __missing__(self, group: str) -> _V:
        found = self[group] = self.of_fields([self.fields[f] for f in GROUP_FIELDS[group]])
        return found


def _terms(tokens: list[_Tokens]) -> set[str]:
    return tokens[0].terms if len(tokens) == 1 else set().union(*(t.terms for t in tokens))


def _heads(tokens: list[_Tokens]) -> set[str]:
    """The distinct heads (first ``HEAD`` letters) of the words, as ``prefix_key``: one
    pass over every field of the group."""
    heads = set(chain.from_iterable(map(_THIRD, t.singles) for t in tokens))
    if any(t.multi for t in tokens):
        heads.discard(_MISSING_WORD)
        for t in tokens:
            for info in t.multi.values():
                heads.update(prefix_key(word[:HEAD]) for word in info.words)
    return heads


def _word_line(tokens: list[_Tokens]) -> str:
    return "".join(t.word_line() for t in tokens)


def _positions(tokens: list[_Tokens], npos: Callable[[str], int]) -> Positions:
    """Positions belong to one field (title + text has none)."""
    (field,) = tokens
    return Positions(field.flat, partial(field.joined, "stem", npos))


class AnalyzedDoc:
    """A document tokenised on demand, field by field, and the views rules ask of it.

    A field is cut at whitespace into chunks, and each chunk's analysis comes from the
    analyzer's cache, so building the term sets costs a split and dictionary look-ups.

    The views rules read per field group (``""`` is title + text; a field's name is its
    own group) are plain mappings, filled when first read.

    Attributes:
        doc: The original document.
        terms: Stems, for quick membership tests.
        heads: Heads of the words (first ``HEAD`` letters) as ``prefix_key``.
        word_lines: The words in one string, each after ``WORD_MARK``: some word starts
            with ``p`` exactly when ``WORD_MARK + p`` occurs in it, one search in C.
        stem_positions: Per field, its ``Positions`` of stems, for phrases and proximity.
    """

    __slots__ = (
        "doc",
        "analyzer",
        "terms",
        "heads",
        "word_lines",
        "stem_positions",
        "_fields",
        "_texts",
        "_memo",
    )

    def __init__(self, doc: Document, analyzer: Analyzer) -> None:
        """Prepares ``doc``; each field is tokenised when a rule first needs it."""
        self.doc = doc
        self.analyzer = analyzer
        self._texts: dict[str, tuple[str, int]] = {
            "title": (doc.title, 0),
            "text": (doc.text, 0),
            "source": (doc.source, 0),
            "author": (doc.author, 0),
            "url": ("", 0),
        }
        if doc.url:
            start, end = url_window(doc.url)
            self._texts["url"] = (doc.url[start:end], start)
        self._fields = _Fields(self._texts, analyzer)
        fields = self._fields
        self.terms = _PerGroup(fields, _terms)
        self.heads = _PerGroup(fields, _heads)
        self.word_lines = _PerGroup(fields, _word_line)
        self.stem_positions = _PerGroup(fields, partial(_positions, npos=analyzer.npos))
        self._memo: dict[Any, Any] = {}

    def remember(self, key: Any, make: Callable[..., Any], *args: Any) -> Any:
        """A value worked out once per story (``make(*args)``) and kept under ``key``."""
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = make(*args)
        return found

    def chunks(self, field: str) -> Iterable[str]:
        """The distinct whitespace-separated chunks of a field."""
        return dict.fromkeys(self._fields[field].raws).keys()

    def raws(self, field: str) -> list[str]:
        """The whitespace-separated chunks of a field, in order (lower-cased when that
        keeps every character's offset)."""
        return self._fields[field].raws

    def positions(self, field: str) -> Positions:
        """Stem -> (first, last) token positions in a field, for phrases and proximity."""
        return self.stem_positions[field]

    def word_positions(self, field: str) -> Positions:
        """Folded word -> (first, last) token positions in a field, for prefixes."""
        key = ("word", field)
        found = self._memo.get(key)
        if found is None:
            info = self.analyzer.info
            tokens = self._fields[field]
            found = self._memo[key] = Positions(
                [word for raw in tokens.raws for word in info[raw].pos_words],
                partial(tokens.joined, "word", self.analyzer.npos),
            )
        return found

    def _chunk_starts(self, field: str) -> list[int]:
        """Position of the first token of each chunk."""
        return self.remember(("starts", field), self._fields[field].starts, self.analyzer.npos)

    def sorted_words(self, field: str) -> list[str]:
        """Distinct folded (unstemmed) words of a field, sorted, for prefix search."""
        key = ("sorted", field)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = sorted(self.word_set(field))
        return found

    def word_set(self, field: str) -> set[str]:
        """Distinct folded (unstemmed) words of a field."""
        key = ("words", field)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._fields[field].words()
        return found

    def words_with_prefix(self, field: str, prefix: str) -> list[str]:
        """The field's distinct folded words that start with ``prefix``."""
        words = self.sorted_words(field)
        out = []
        for i in range(bisect_left(words, prefix), len(words)):
            if not words[i].startswith(prefix):
                break
            out.append(words[i])
        return out

    def folded(self, field: str) -> tuple[str, list[int] | None]:
        """The field's text folded for regular expressions, with a map back to the original.

        Returns:
            The folded text, and for each of its characters the index in the original
            field string (None when folding kept every index, as for ASCII text).
        """
        key = ("folded", field)
        found = self._memo.get(key)
        if found is None:
            text, _ = self._texts[field]
            if text.isascii():
                found = (text.lower(), None)
            else:
                pieces: list[str] = []
                index: list[int] = []
                for i, ch in enumerate(text):
                    folded = self.analyzer.fold(ch)
                    pieces.append(folded)
                    index.extend([i] * len(folded))
                found = (
                    "".join(pieces),
                    index,
                )
            self._memo[key] = found
        return found

    def to_original(
        self, field: str, start: int, end: int, index: list[int] | None
    ) -> tuple[int, int]:
        """Maps a span of the (folded) field window back to the original field string."""
        text, offset = self._texts[field]
        if index is not None:
            if start >= len(index):
                return offset + len(text), offset + len(text)
            start, end = index[start], (index[end - 1] + 1 if end > start else index[start])
        return offset + start, offset + end

    def char_span(self, field: str, first: int, last: int) -> tuple[int, int]:
        """Original-string char span covering token positions ``first`` to ``last``."""
        return self._char_start(field, first)[0], self._char_start(field, last)[1]

    def _char_start(self, field: str, pos: int) -> tuple[int, int]:
        key = ("chunks", field)
        chunk_offsets = self._memo.get(key)
        if chunk_offsets is None:
            text, offset = self._texts[field]
            chunk_offsets = self._memo[key] = [offset + m.start() for m in _CHUNK_RE.finditer(text)]
        starts = self._chunk_starts(field)
        # The last chunk starting at or before ``pos``; chunks of pure punctuation hold no
        # position, so they share a start with the chunk after them and are passed over.
        i = bisect_right(starts, pos) - 1
        rel = pos - starts[i]
        for entry in self.analyzer.info[self.raws(field)[i]].entries:
            if entry.first == rel and entry.last == rel:
                return chunk_offsets[i] + entry.start, chunk_offsets[i] + entry.end
        raise AssertionError(f"no token at position {pos}")  # pragma: no cover


class Positions:
    """Stem (or word) -> token positions in one field, worked out per key on demand.

    Stories need positions for a few keys only (the words of candidate phrases), so no
    table of every key is built: two C-level passes note each key's first and last
    position, which is all there is for the many words a story uses once; a key seen
    more often is found in between with ``list.index``.
    """

    __slots__ = ("_flat", "_joined_of", "_joined", "_first", "_last", "_singles")

    def __init__(
        self,
        flat: list[str],
        joined: Callable[[], dict[str, list[tuple[int, int]]]],
    ) -> None:
        """Positions of the keys in ``flat``.

        Args:
            flat: The key at each position.
            joined: Gives the joined compounds, when first needed.
        """
        self._flat = flat
        self._joined_of = joined
        self._joined: dict[str, list[tuple[int, int]]] | None = None
        self._first: dict[str, int] | None = None
        self._last: dict[str, int] = {}
        self._singles: dict[str, Sequence[int]] = {}

    def singles(self, key: str) -> Sequence[int]:
        """Ascending positions where ``key`` is one token (compounds not included).

        The sequence is shared: callers must not change it.
        """
        found = self._singles.get(key)
        if found is None:
            first = self._first
            if first is None:
                first = self._index()
            at = first.get(key)
            if at is None:
                found = ()
            else:
                last = self._last[key]
                found = [at]
                index = self._flat.index
                while at != last:
                    at = index(key, at + 1, last + 1)
                    found.append(at)
            self._singles[key] = found
        return found

    def _index(self) -> dict[str, int]:
        """Notes each key's first and last position; returns the first."""
        flat = self._flat
        self._last = dict(zip(flat, range(len(flat)), strict=True))
        first = self._first = dict(zip(reversed(flat), range(len(flat) - 1, -1, -1), strict=True))
        return first

    def near(self, a: str, b: str, slop: int | None) -> bool | None:
        """Whether ``a b`` occurs as a phrase (``slop`` None), or ``a`` and ``b`` within
        ``slop`` other words of each other in either order, for two different keys.

        Decided from the two positions when each key occurs once here (most words of a
        story do).

        Returns:
            The answer, or None when it takes the full search: a key occurs as a joined
            compound, or more than once.
        """
        joined = self._joined
        if joined is None:
            joined = self._joined = self._joined_of()
        if joined and (a in joined or b in joined):
            return None
        first = self._first
        if first is None:
            first = self._index()
        at, bt = first.get(a), first.get(b)
        if at is None or bt is None:
            return False
        last = self._last
        if at != last[a] or bt != last[b]:
            return None
        if slop is None:
            return bt - at == 1
        return -slop - 1 <= bt - at <= slop + 1

    def joined(self, key: str) -> list[tuple[int, int]]:
        """(first, last) positions where ``key`` is a joined compound (``e-mail`` as ``email``)."""
        joined = self._joined
        if joined is None:
            joined = self._joined = self._joined_of()
        return joined.get(key, [])

    def has_joined(self, keys: Iterable[str]) -> bool:
        """Whether any of ``keys`` occurs as a joined compound in the field."""
        joined = self._joined
        if joined is None:
            joined = self._joined = self._joined_of()
        return bool(joined) and any(key in joined for key in keys)

    def get(self, key: str, default: Any = ()) -> list[tuple[int, int]] | Any:
        """Every (first, last) occurrence of ``key``: single tokens, then compounds."""
        found = [(i, i) for i in self.singles(key)]
        found.extend(self.joined(key))
        return found if found else default

    def __getitem__(self, key: str) -> list[tuple[int, int]]:
        found = self.get(key, None)
        if found is None:
            raise KeyError(key)
        return found
