"""Recognising sentences that are page furniture rather than news.

Feeds and scraped pages mix the story with player notices, "read more" links,
bylines, captions and syndication footers. Such a sentence in an alert tells the
reader nothing, and because it often sits at the top of the body it would win
the lead bonus, so it is removed before scoring.
"""

from __future__ import annotations

import re

# Whole sentences that are never news, wherever they appear.
_BOILERPLATE = re.compile(
    r"""
    media\ playback\ is\ (?:un|not\ )supported
    | your\ (?:browser|device)\ (?:does\ not|doesn't)\ support
    | the\ post\ .+\ appeared\ first\ on\b
    | this\ (?:article|story)\ (?:was\ )?(?:originally\ )?(?:published|appeared)\ (?:on|in|at|by)\b
    | all\ rights\ reserved
    | (?:follow|like|find)\ (?:us|me|\w+)\ on\ (?:twitter|facebook|instagram|x)\b
    | sign\ up\ (?:for|to)\ (?:our|the)\ \w*\ ?newsletter
    | ^(?:read\ more|continue\ reading|read\ the\ (?:full|original)\ (?:story|article)
        |click\ here|find\ out\ more|learn\ more|see\ more|more\ on\ this\ story
        |related\ (?:articles?|stories|coverage|topics)|advertisement|scroll\ down\ for
        |share\ this\ (?:with|on|article)|watch\ the\ video|listen\ to\ this\ article
        |last\ updated\ (?:at|on)|(?:image|photo|picture|video)\ (?:copyright|caption|credit|source)
        |copyright\b|©)
    | ^\d{1,2}\ \w+\ \d{4}\ last\ updated\ at
    """,
    re.IGNORECASE | re.VERBOSE,
)

# Markers glued to the end of truncated feed excerpts: "... [...]", "Read more »".
_TAIL_MARKERS = re.compile(
    r"\s*(?:\[(?:…|\.\.\.)\]|(?:read\ more|continue\ reading)\s*(?:»|→|\.\.\.|…)?)\s*$",
    re.IGNORECASE,
)
# Wire-service datelines at the very start: "(CNN) -- ", "(Reuters) - ".
_DATELINE = re.compile(r"^\((?:CNN|AP|AFP|Reuters|UPI|dpa)\)\s*(?:--|—|–|-)?\s*", re.IGNORECASE)

_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_TERMINAL = re.compile(r"[.!?…。！？؟।][\"'”’»)\]」』]*$")

# A news sentence has a subject and a verb; fewer words than this is a label.
_MIN_WORDS = 4
_MIN_CJK_CHARS = 6
# An unpunctuated line this short is a heading, byline or photo caption.
_MAX_CAPTION_WORDS = 12


def clean_sentence(sentence: str) -> str:
    """Strip datelines and "read more" tails that are glued to a real sentence.

    Args:
        sentence: One sentence as split from the story.

    Returns:
        The sentence without the furniture (possibly ``""``).
    """
    sentence = _DATELINE.sub("", sentence)
    return _TAIL_MARKERS.sub("", sentence).strip()


def is_boilerplate(sentence: str) -> bool:
    """Whether the sentence is page furniture (player notice, footer, link text).

    Args:
        sentence: One cleaned sentence.

    Returns:
        True when it should never appear in a summary.
    """
    return _BOILERPLATE.search(sentence) is not None


def is_fragment(sentence: str) -> bool:
    """Whether the sentence is too slight to summarise a story: a label, caption or byline.

    Fragments are used only when a story has nothing better (a one-line feed
    entry whose body is a headline without a full stop, say).

    Args:
        sentence: One cleaned sentence.

    Returns:
        True for very short text, and for short text without terminal punctuation.
    """
    if _CJK.search(sentence):
        return len(sentence) < _MIN_CJK_CHARS
    words = len(_WORD.findall(sentence))
    if words < _MIN_WORDS:
        return True
    return words <= _MAX_CAPTION_WORDS and _TERMINAL.search(sentence) is None
