"""Plain text from the HTML fragments that feeds carry in titles, summaries and content."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

# Elements whose text a reader never sees.
_DROPPED = frozenset({"script", "style", "noscript", "template", "head", "title", "svg", "math"})
# Elements that end a paragraph: the summariser treats a blank line as a hard break.
_PARAGRAPH = frozenset(
    {
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol",
        "dl", "section", "article", "header", "footer", "aside", "figure", "hr", "address",
        "details", "main", "nav",
    }
)  # fmt: skip
# Elements that end a line but not a paragraph.
_LINE = frozenset(
    {"br", "div", "li", "tr", "dt", "dd", "figcaption", "caption", "summary", "option"}
)
# Cells sit side by side; a space keeps "a</td><td>b" from becoming "ab".
_SPACED = frozenset({"td", "th", "img"})

# A "<" with no ">" before the next "<" cannot open a tag. Python's HTMLParser scans to
# the end of the input for each such "<" ("<a <a <a …": 24,000 characters took 4 s, and
# the time grows with the square of the length), so they become text first. Each scan
# here stops at the next "<" or ">", which keeps the whole substitution linear.
_NOT_A_TAG = re.compile(r"<(?![^<>]*>)")
# One more round of entity decoding catches feeds that escape twice ("&amp;#39;").
# Only well-formed references are decoded, so a lone "&" in text stays as it is.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
# Whitespace except newline and the no-break spaces, which feeds put there on purpose.
_SPACES = re.compile("[^\\S\n\u00a0\u202f]+")
_BLANK_RUN = re.compile(r"\n{3,}")
_ANY_SPACE = re.compile("[^\\S\u00a0\u202f]+")
# Characters a reader cannot see or that break layout; NBSP is kept (feeds mean it).
_INVISIBLE = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b\u2060\ufeff]")


_SEPARATORS = ("", " ", "\n", "\n\n")  # by strength: none, space, line, paragraph


class _TextCollector(HTMLParser):
    """Collects character data, turning element boundaries into separators.

    A boundary only raises the pending separator, so ``</li><li>`` is one line
    break, not two; it is written out before the next text.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self._pending = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self._skip_depth += 1
        else:
            self._boundary(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <hr/>, <img/>: a boundary, never the start of a dropped block.
        if tag not in _DROPPED:
            self._boundary(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
        else:
            self._boundary(tag)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pending:
            self.parts.append(_SEPARATORS[self._pending])
            self._pending = 0
        self.parts.append(data)

    def _boundary(self, tag: str) -> None:
        if self._skip_depth:
            return
        if tag in _PARAGRAPH:
            level = 3
        elif tag in _LINE:
            level = 2
        elif tag in _SPACED:
            level = 1
        else:
            return
        self._pending = max(self._pending, level)


def decode_entities(text: str) -> str:
    """Decodes HTML character references left in text that is already plain.

    Args:
        text: Text that has been through one round of decoding.

    Returns:
        The text with well-formed references such as ``&#39;`` or ``&amp;`` decoded.
    """
    return _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)


def html_to_text(fragment: str) -> str:
    """Turns an HTML fragment into the plain text a reader would see.

    Tags are removed, ``script``/``style`` are dropped with their content, block
    elements become line or paragraph breaks, entities are decoded (twice, for
    double-escaped feeds) and whitespace is collapsed.

    Args:
        fragment: HTML, possibly malformed; plain text passes through unchanged
            except for entity decoding and whitespace.

    Returns:
        Plain text with single spaces inside lines, at most one blank line between
        paragraphs, and no leading or trailing whitespace.
    """
    if "<" not in fragment and "&" not in fragment:
        return normalize_space(fragment, keep_lines=True)
    collector = _TextCollector()
    collector.feed(_NOT_A_TAG.sub("&lt;", fragment))
    collector.close()
    return normalize_space(decode_entities("".join(collector.parts)), keep_lines=True)


def normalize_space(text: str, *, keep_lines: bool = False) -> str:
    """Collapses whitespace and removes invisible control characters.

    Args:
        text: Plain text.
        keep_lines: Keep line breaks (at most one blank line in a row); otherwise
            every run of whitespace, newlines included, becomes one space.

    Returns:
        The cleaned text, stripped at both ends.
    """
    text = _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if not keep_lines:
        return _ANY_SPACE.sub(" ", text).strip()
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()
