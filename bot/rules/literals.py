"""Literal text every match of a regular expression must contain, for the presearcher.

The pattern text is read here, conservatively: a run of plain characters outside any
optional part or alternation is required; whatever this reader does not understand
ends the run and proves nothing. A pattern yielding no literals is checked against every
story, so a miss here costs speed, never a match. (RE2 checks the pattern's validity; the
Python binding does not expose its own analysis of required text.)
"""

from __future__ import annotations

import re

_WORDS_RE = re.compile(r"[^\W_]+")
_REPEAT_RE = re.compile(r"\{(\d*)(?:,(\d*))?\}")
# Groups inside groups are read this deep; deeper ones prove nothing.
_MAX_DEPTH = 8


def required_pieces(pattern: str) -> list[str]:
    """Word-character runs that appear in every match of ``pattern``, case-folded.

    Args:
        pattern: A regular expression (already accepted by RE2).

    Returns:
        Case-folded pieces of letters and digits; empty when none can be proved.
    """
    pieces: list[str] = []
    for run in _required_runs(pattern, 0):
        pieces.extend(piece.casefold() for piece in _WORDS_RE.findall(run))
    return pieces


def _required_runs(pattern: str, depth: int) -> list[str]:
    """Contiguous literal strings required by ``pattern`` (a sequence, or nothing when
    it holds an alternation at its own level)."""
    if depth > _MAX_DEPTH or _has_top_level_bar(pattern):
        return []
    runs: list[str] = []
    current: list[str] = []

    def cut() -> None:
        if current:
            runs.append("".join(current))
            current.clear()

    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "(":
            end = _group_end(pattern, i)
            if end < 0:
                return []
            cut()
            body = _group_content(pattern[i + 1 : end])
            optional, i = _quantifier(pattern, end + 1)
            if not optional and body is not None:
                runs.extend(_required_runs(body, depth + 1))
            continue
        if ch == "[":
            end = _class_end(pattern, i)
            if end < 0:
                return []
            cut()
            _, i = _quantifier(pattern, end + 1)
            continue
        if ch == "\\":
            literal, i = _escape(pattern, i)
        elif ch in ".^$":
            literal, i = None, i + 1
        else:
            literal, i = ch, i + 1
        if literal is None:
            cut()
            _, i = _quantifier(pattern, i)
            continue
        optional, after = _quantifier(pattern, i)
        if after == i:
            current.append(literal)
        else:
            # A repeated character: required once unless it may be absent; what follows
            # is not known to come right after it.
            if not optional:
                current.append(literal)
            cut()
        i = after
    cut()
    return runs


def _group_content(inner: str) -> str | None:
    """A group's content without its marker (``?:``, ``?P<name>``, ``?i:``); None for a
    group of flags alone or anything else this reader does not know."""
    if not inner.startswith("?"):
        return inner
    named = re.match(r"\?P?<(\w+)>", inner)
    if named:
        return inner[named.end() :]
    flags = re.match(r"\?[imsU-]*:", inner)
    return inner[flags.end() :] if flags else None


def _has_top_level_bar(pattern: str) -> bool:
    i, depth = 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            end = _class_end(pattern, i)
            if end < 0:
                return True
            i = end + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
        i += 1
    return False


def _group_end(pattern: str, start: int) -> int:
    """Index of the ``)`` closing the group opened at ``start``, or -1."""
    i, depth = start, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            end = _class_end(pattern, i)
            if end < 0:
                return -1
            i = end + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _class_end(pattern: str, start: int) -> int:
    """Index of the ``]`` closing the character class opened at ``start``, or -1."""
    i = start + 1
    if pattern.startswith("^", i):
        i += 1
    if pattern.startswith("]", i):  # a leading ] is a member
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern.startswith("[:", i):
            close = pattern.find(":]", i + 2)
            if close >= 0:
                i = close + 2
                continue
        if pattern[i] == "]":
            return i
        i += 1
    return -1


def _escape(pattern: str, start: int) -> tuple[str | None, int]:
    """An escape: the literal character it stands for (None when it is a class, an
    anchor or anything else), and the index after it."""
    nxt = pattern[start + 1 : start + 2]
    if not nxt:
        return None, start + 1
    if not nxt.isalnum():
        return nxt, start + 2  # \. \( \\ ...
    if nxt in "pPx" and pattern.startswith("{", start + 2):
        close = pattern.find("}", start + 2)
        return None, (close + 1 if close >= 0 else len(pattern))
    if nxt == "Q":
        close = pattern.find("\\E", start + 2)
        return None, (close + 2 if close >= 0 else len(pattern))
    if nxt in "pP":
        return None, start + 3  # \pL
    if nxt == "x":
        return None, start + 4  # \x41
    return None, start + 2  # \d \w \b \n \1 ...


def _quantifier(pattern: str, at: int) -> tuple[bool, int]:
    """Reads a quantifier at ``at`` if there is one: whether it allows zero
    repetitions, and the index after it (``at`` when there is none)."""
    ch = pattern[at : at + 1]
    if ch in ("?", "*"):
        optional, end = True, at + 1
    elif ch == "+":
        optional, end = False, at + 1
    elif ch == "{" and (repeat := _REPEAT_RE.match(pattern, at)):
        optional, end = not repeat.group(1) or int(repeat.group(1)) == 0, repeat.end()
    else:
        return False, at
    if pattern.startswith("?", end):  # lazy
        end += 1
    return optional, end


def trigrams(piece: str) -> list[str]:
    """The 3-character substrings of a piece, in order (none when it is shorter)."""
    return [piece[i : i + 3] for i in range(len(piece) - 2)]
