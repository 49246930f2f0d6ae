"""Splitting plain text into sentences.

pysbd (a port of the Pragmatic Segmenter rules) knows abbreviations, decimals,
initials and quotations for about twenty languages. Other languages, and any
text pysbd chokes on, fall back to splitting after terminal punctuation, which
is crude but never crashes.

Line breaks end a sentence, except where a page broke one sentence into lines:
text copied from a page, or extracted from it, often puts a link on a line of
its own ("But" / "the minister's visit" / "last week, followed by …"). Such
pieces are joined back before splitting (see :func:`join_broken_lines`).
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import pysbd
from pysbd.languages import LANGUAGE_CODES

log = logging.getLogger(__name__)

# A blank line ends a paragraph, and so its sentence. A single line break ends a
# sentence unless the next line continues it: feeds put headings, captions and
# bylines on lines of their own, usually without a full stop.
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_LINE_BREAK = re.compile(r"\s*\n\s*")
# A line that ends like this has finished its sentence.
_FINISHED = re.compile(r"[.!?…。！？؟।:][\"'”’»)\]」』]*$")
# A sentence never starts with these: the line goes on from the one before.
_CONTINUING = frozenset(",;)]}%")
# An unfinished line this short, followed by a continuing line, is the text of a
# link (or other inline element) that sat on a line of its own.
_MAX_INLINE_WORDS = 12
_SPACES = re.compile(r"\s+")
# CJK full stops need no following space; pysbd's English rules miss them, and
# a story in Chinese or Japanese may arrive with language="en".
_CJK_END = re.compile(r"(?<=[。！？])[」』”’）)]*")
_PUNCT_END = re.compile(r"(?<=[.!?…؟।])[\"'”’»)\]]*\s+")


@lru_cache(maxsize=32)
def _segmenter(language: str) -> pysbd.Segmenter | None:
    if language not in LANGUAGE_CODES:
        return None
    return pysbd.Segmenter(language=language, clean=False)


def _split_paragraph(paragraph: str, language: str) -> list[str]:
    segmenter = _segmenter(language)
    if segmenter is not None:
        try:
            return [str(part) for part in segmenter.segment(paragraph)]
        except Exception as exc:  # pysbd is rule soup; one odd string must not drop an alert
            log.warning(
                "summarize: sentence splitter failed (%s: %s); splitting on punctuation",
                type(exc).__name__,
                exc,
            )
    return _split_on(_PUNCT_END, paragraph)


def _split_on(pattern: re.Pattern[str], text: str) -> list[str]:
    parts: list[str] = []
    start = 0
    for match in pattern.finditer(text):
        parts.append(text[start : match.end()])
        start = match.end()
    parts.append(text[start:])
    return parts


def _continues(line: str) -> bool:
    first = line[0]
    return first.islower() or first in _CONTINUING


def join_broken_lines(lines: list[str]) -> list[str]:
    """Join lines that are pieces of one sentence, so that each piece is not taken
    for a sentence of its own.

    After a line without final punctuation, a line continues it when it starts in
    lower case (or with ``, ; )``), or when it is short, has no final punctuation
    either, and the line after it starts in lower case: "But" / "the minister's
    visit" / "last week, followed by …" is one sentence. A line after a finished
    sentence starts a new one, even in lower case ("eBay said …").

    Args:
        lines: The text's lines, stripped, without empty ones.

    Returns:
        The lines with continuations appended to the line they continue.
    """
    joined: list[str] = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        inline = (
            len(line.split()) <= _MAX_INLINE_WORDS
            and not _FINISHED.search(line)
            and bool(following)
            and _continues(following)
        )
        if joined and not _FINISHED.search(joined[-1]) and (_continues(line) or inline):
            space = "" if line[0] in _CONTINUING else " "
            joined[-1] = f"{joined[-1]}{space}{line}"
        else:
            joined.append(line)
    return joined


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Split plain text into sentences.

    A blank line always ends a sentence; a single line break ends one unless
    :func:`join_broken_lines` finds that the next line continues it. Within a
    line pysbd's rules for ``language`` apply
    (ISO 639-1 code, e.g. ``"en"``, ``"de"``, ``"ru"``). Languages pysbd does
    not know are split after ``. ! ? …`` and CJK full stops.

    Args:
        text: Plain text, possibly with newlines between paragraphs.
        language: ISO 639-1 code of the text's language.

    Returns:
        The sentences in order, whitespace-normalised, without empty ones.
    """
    sentences: list[str] = []
    for block in _BLANK_LINE.split(text.strip()):
        lines = (_SPACES.sub(" ", line).strip() for line in _LINE_BREAK.split(block.strip()))
        for paragraph in join_broken_lines([line for line in lines if line]):
            for part in _split_paragraph(paragraph, language.lower()):
                for piece in _split_on(_CJK_END, part):
                    piece = piece.strip()
                    if piece:
                        sentences.append(piece)
    return sentences
