"""Splitting plain text into sentences.

pysbd (a port of the Pragmatic Segmenter rules) knows abbreviations, decimals,
initials and quotations for about twenty languages. Other languages, and any
text pysbd chokes on, fall back to splitting after terminal punctuation, which
is crude but never crashes.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import pysbd
from pysbd.languages import LANGUAGE_CODES

log = logging.getLogger(__name__)

# Paragraph breaks always end a sentence: feeds put headings, captions and
# bylines on lines of their own, usually without a full stop.
_PARAGRAPH_BREAK = re.compile(r"\s*\n\s*")
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


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Split plain text into sentences.

    Line breaks always end a sentence; within a paragraph pysbd's rules for
    ``language`` apply (ISO 639-1 code, e.g. ``"en"``, ``"de"``, ``"ru"``).
    Languages pysbd does not know are split after ``. ! ? …`` and CJK full stops.

    Args:
        text: Plain text, possibly with newlines between paragraphs.
        language: ISO 639-1 code of the text's language.

    Returns:
        The sentences in order, whitespace-normalised, without empty ones.
    """
    sentences: list[str] = []
    for paragraph in _PARAGRAPH_BREAK.split(text.strip()):
        paragraph = _SPACES.sub(" ", paragraph).strip()
        if not paragraph:
            continue
        for part in _split_paragraph(paragraph, language.lower()):
            for piece in _split_on(_CJK_END, part):
                piece = piece.strip()
                if piece:
                    sentences.append(piece)
    return sentences
