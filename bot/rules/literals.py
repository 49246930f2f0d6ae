"""Literal text every match of a regular expression must contain, for the presearcher.

Rules run on RE2, whose syntax is close to Python's; Python's own regex parser is used
here only to *read* the pattern. A pattern it cannot read, or one whose required text
cannot be proved, yields no literals, and the rule is then checked against every story,
so a miss here costs speed, never a match.
"""

from __future__ import annotations

import re
import re._constants as sre_constants
import re._parser as sre_parse
from typing import Any

_WORDS_RE = re.compile(r"[^\W_]+")


def required_pieces(pattern: str) -> list[str]:
    """Word-character runs that appear in every match of ``pattern``, case-folded.

    Args:
        pattern: A regular expression (already accepted by RE2).

    Returns:
        Case-folded pieces of letters and digits; empty when none can be proved.
    """
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return []
    runs: list[str] = []
    _collect(list(parsed), runs)
    pieces: list[str] = []
    for run in runs:
        pieces.extend(piece.casefold() for piece in _WORDS_RE.findall(run))
    return pieces


def _collect(items: list[tuple[Any, Any]], runs: list[str]) -> None:
    """Appends to ``runs`` the contiguous literal strings required by a sequence."""
    current: list[str] = []
    for op, arg in items:
        if op is sre_constants.LITERAL:
            current.append(chr(arg))
            continue
        if current:
            runs.append("".join(current))
            current = []
        if op is sre_constants.SUBPATTERN:
            _collect(list(arg[-1]), runs)
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and arg[0] >= 1:
            _collect(list(arg[2]), runs)
        # Anything else (alternation, classes, anchors, optional parts) proves nothing.
    if current:
        runs.append("".join(current))


def trigrams(piece: str) -> list[str]:
    """The 3-character substrings of a piece, in order (none when it is shorter)."""
    return [piece[i : i + 3] for i in range(len(piece) - 2)]
