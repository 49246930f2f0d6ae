"""Recognising sentences that are page furniture rather than news.

Feeds and scraped pages mix the story with player notices, "read more" links,
bylines, captions and syndication footers. Such a sentence in an alert tells the
reader nothing, and because it often sits at the top of the body it would win
the lead bonus, so it is removed before scoring.
"""

from __future__ import annotations

import re

# Sentences that are never news. Phrases that prose does not use are found anywhere
# in the sentence (pages glue labels such as "Follow topic" or "Sign up now" to
# text); phrases that prose may use only count at the start.
_BOILERPLATE = re.compile(
    r"""
    media\ playback\ is\ (?:un|not\ )supported
    | your\ (?:browser|device)\ (?:does\ not|doesn't)\ support
    | the\ post\ .+\ appeared\ first\ on\b
    | this\ (?:article|story)\ (?:was\ )?(?:originally\ )?(?:published|appeared)\ (?:on|in|at|by)\b
    | all\ rights\ reserved
    | (?:follow|like|find)\ (?:us|me|\w+)\ on\ (?:twitter|facebook|instagram|x)\b
    | \bsign\ up\ now\b(?!\ that)
    | \bsign\ up\ (?:for|to)\ (?:our|the|my)\b.*\b(?:newsletters?|briefing|alerts|emails?)\b
    | \bfollow\ (?:this\ )?topic\b
    | \bshare\ (?:on|via)\ (?:facebook|twitter|x|whatsapp|linkedin|email|bluesky|threads)\b
    | \bcopy\ link\b
    | \bread\ more\b\s*(?:[:»›→]|\.\.\.|…|$)
    | (?:summary|key\ points|text|content)\ (?:was|is|has\ been)\ (?:ai|automatically)[-\ ]generated
    | \bgenerated\ (?:by|with|using)\ (?:ai|artificial\ intelligence)\b
    | ^(?:read\ more|continue\ reading
        |read\ the\ (?:full|original)\ (?:story|article)|click\ here|find\ out\ more
        |learn\ more|see\ more|more\ on\ this\ story
        |related\ (?:articles?|stories|coverage|topics)|advertisement|scroll\ down\ for
        |share\ this\ (?:with|on|article|story|page)|share$|share\ save\b|watch\ the\ video
        |listen\ to\ this\ article|last\ updated\ (?:at|on)
        |(?:image|photo|picture|video)\ (?:copyright|caption|credit|source)|copyright\b|©)
    | ^\d{1,2}\ \w+\ \d{4}\ last\ updated\ at
    """,
    re.IGNORECASE | re.VERBOSE,
)
# A sentence that is a short label carrying "AI generated" ("AI-generated summary").
_AI_LABEL = re.compile(r"\bai[-\s]generated\b", re.IGNORECASE)
_MAX_LABEL_WORDS = 6

# Photo captions and credits: they describe a picture the alert does not show.
_CAPTION = re.compile(
    r"""
    \((?:[\w ,]{0,30}\ )?(?:left|right|centre|center)(?:\ to\ right)?\)
    | (?<!\bwas\ )(?<!\bwere\ )(?<!\bbeen\ )(?<!\bbeing\ )(?<!\bis\ )(?<!\bare\ )\bpictured\b
    | \b(?:photos?|photograph|image|picture)\s*:
    | \bfile\ (?:photo|picture|image)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)

# Markers glued to the end of truncated feed excerpts: "... [...]", "Read more »".
_TAIL_MARKERS = re.compile(
    r"\s*(?:\[(?:…|\.\.\.)\]|(?:read\ more|continue\ reading)\s*(?:»|→|\.\.\.|…)?)\s*$",
    re.IGNORECASE,
)
# Wire-service datelines at the very start: "(CNN) -- ", "(Reuters) - ", and with the
# place and date before them: "OSLO, March 3 (Northwire) - ".
_DATELINE = re.compile(
    r"^(?:[A-Z][A-Z.'’ -]{1,40}(?:,[\w .'’-]{1,30})?\s*)?"
    r"(?:\((?i:CNN|AP|AFP|Reuters|UPI|dpa)\)\s*(?:--|—|–|-)?"
    r"|\([A-Z][\w .&-]{1,30}\)\s*(?:--|—|–|-))\s*"
)
# List markers that page text keeps in front of list items: "- ", "• ", "1. ".
_LIST_MARKER = re.compile(r"^(?:[-•*–·▪●]|\d{1,2}[.)])\s+")

# A heading that introduces the page's own list of key points.
_SUMMARY_LABEL = re.compile(
    r"""^(?:(?:ai[-\ ]generated\ )?(?:key\ (?:points|facts|takeaways)|summary)|story\ summary
    |in\ (?:brief|short)|at\ a\ glance|quick\ read|tl;?\ ?dr|highlights
    |what\ we\ know(?:\ so\ far)?|the\ big\ picture)
    \s*(?:[-–—:]?\s*\(?ai[-\ ]generated\)?)?\s*:?$""",
    re.IGNORECASE | re.VERBOSE,
)
# A labelled list is at most this long; beyond it the text is the story again.
_MAX_LIST_ITEMS = 7
_MAX_ITEM_WORDS = 40
_SENTENCE_INSIDE = re.compile(r"[.!?][\"'”’]?\s+[A-Z\"“‘']")

_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_TERMINAL = re.compile(r"[.!?…。！？؟।][\"'”’»)\]」』]*$")

# A news sentence has a subject and a verb; fewer words than this is a label.
_MIN_WORDS = 4
_MIN_CJK_CHARS = 6
# An unpunctuated line this short is a heading, byline or photo caption.
_MAX_CAPTION_WORDS = 12


def clean_sentence(sentence: str) -> str:
    """Strip datelines, list markers and "read more" tails glued to a real sentence.

    Args:
        sentence: One sentence as split from the story.

    Returns:
        The sentence without the furniture (possibly ``""``).
    """
    sentence = _LIST_MARKER.sub("", _DATELINE.sub("", sentence))
    return _TAIL_MARKERS.sub("", sentence).strip()


def is_boilerplate(sentence: str) -> bool:
    """Whether the sentence is page furniture (player notice, footer, link text, label).

    Args:
        sentence: One cleaned sentence.

    Returns:
        True when it should never appear in a summary.
    """
    if _BOILERPLATE.search(sentence):
        return True
    # "AI-generated" is news in a sentence, and a label on a line of a few words.
    return _AI_LABEL.search(sentence) is not None and len(sentence.split()) <= _MAX_LABEL_WORDS


def is_caption(sentence: str) -> bool:
    """Whether the sentence is a photo caption or credit rather than the story.

    Captions name who stands where ("(left)", "(centre)"), say "pictured", or
    credit the picture ("PHOTO:", "Image:", "File photo").

    Args:
        sentence: One cleaned sentence.

    Returns:
        True when it describes or credits a picture.
    """
    return _CAPTION.search(sentence) is not None


def drop_labelled_lists(text: str) -> str:
    """Remove the page's own list of key points ("Key points:", "Summary", "AI generated")
    with the items under it.

    Pages put such a list above the story, often written by a model; it repeats the
    story in other words and would win the lead bonus. The list ends at its last
    marked item ("- ", "• ", "1. "), or for unmarked items at a blank line, a line
    that holds more than one sentence, or after a few items.

    Args:
        text: Plain text with one paragraph or list item per line.

    Returns:
        The text without labelled lists; unchanged when it has none.
    """
    lines = text.split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not _SUMMARY_LABEL.match(line):
            kept.append(lines[index - 1])
            continue
        while index < len(lines) and _is_label(lines[index].strip()):
            index += 1
        index = _skip_items(lines, index)
    return "\n".join(kept)


def _is_label(line: str) -> bool:
    return not line or bool(_SUMMARY_LABEL.match(line)) or is_boilerplate(line)


def _skip_items(lines: list[str], index: int) -> int:
    """Index of the first line after the list items that start at ``index``."""
    marked = bool(_LIST_MARKER.match(lines[index].strip())) if index < len(lines) else False
    items = 0
    while index < len(lines) and (marked or items < _MAX_LIST_ITEMS):
        line = lines[index].strip()
        if marked:
            if not _LIST_MARKER.match(line):
                break
        elif (
            not line
            or len(line.split()) > _MAX_ITEM_WORDS
            or _SENTENCE_INSIDE.search(line.rstrip())
        ):
            break
        items += 1
        index += 1
    return index


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
