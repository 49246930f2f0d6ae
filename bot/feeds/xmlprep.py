"""Feed text to bytes the strict XML parser may safely read.

feedparser only ever sees a byte stream that we decoded, cleaned and re-encoded as
UTF-8, and the document it parses carries no DOCTYPE except a generated one that
declares character entities only: external entities, parameter entities and nested
(billion laughs) entities never reach the parser.
"""

from __future__ import annotations

import html.entities
import re
from collections import Counter

_XML_DECL = re.compile(r"^<\?xml[^>]*\?>")
_XML_DECL_ENC_ATTR = re.compile(r"""\sencoding\s*=\s*["'][^"']*["']""")
# Characters XML 1.0 forbids; a single one makes the strict parser give up.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MARKUP_START = re.compile(r"<!--|<\?|<!DOCTYPE\b|<[A-Za-z_]", re.IGNORECASE)
_DOCTYPE_TOKEN = re.compile(r""""[^"]*"|'[^']*'|[\[\]>]""")
# Bounded values: an unterminated quote must not make every declaration scan to the end.
_ENTITY_DECL = re.compile(
    r"""<!ENTITY\s+([A-Za-z_][\w.-]*)\s+(?:"([^"]{0,256})"|'([^']{0,256})')\s*>"""
)
_ENTITY_NAME = re.compile(r"<!ENTITY\s+([A-Za-z_][\w.-]*)\s")
# Characters that cannot stand in a double-quoted declaration feedparser re-parses.
_UNQUOTABLE = re.compile(r'[&<>%"]')
_SINGLE_CHARREF = re.compile(r"^&#(?:[0-9]{1,7}|x[0-9a-fA-F]{1,6});$")
_SAFE_ENTITY_VALUE = re.compile(r"^(?:[^&<%\"]|&#[0-9]{1,7};|&#x[0-9a-fA-F]{1,6};)*$")
_ENTITY_REF = re.compile(r"&([A-Za-z_][\w.-]*);")
_XML_PREDEFINED = frozenset({"amp", "lt", "gt", "quot", "apos"})
# Total characters entity references may add; beyond it the DTD entities are dropped
# and the document parses as if they were undeclared.
_ENTITY_BUDGET = 100_000


def _first_markup(text: str) -> re.Match[str] | None:
    """The DOCTYPE or root element start tag, skipping comments and PIs before it."""
    # A comment before the DOCTYPE may hold "<tag", so comments and PIs are skipped
    # whole. The regex jumps over stray "<" and str.find over comment bodies, so this
    # stays linear even for megabytes of "<" or thousands of unclosed "<!--".
    position = 0
    while markup := _MARKUP_START.search(text, position):
        opener = markup.group(0)
        if opener not in ("<!--", "<?"):
            return markup
        closer = "-->" if opener == "<!--" else "?>"
        end = text.find(closer, markup.end())
        if end < 0:
            return None
        position = end + len(closer)
    return None


def _strip_doctype(text: str) -> tuple[str, dict[str, str]]:
    """Removes the DOCTYPE, returning the text and the harmless entities it declared."""
    start = _first_markup(text)
    if start is None or start.group(0).lower() != "<!doctype":
        return text, {}
    in_subset = False
    end = len(text)
    # Quoted strings may hold "]" or ">", so they are skipped whole.
    for token in _DOCTYPE_TOKEN.finditer(text, start.end()):
        char = token.group(0)
        if char == "[":
            in_subset = True
        elif char == "]":
            in_subset = False
        elif char == ">" and not in_subset:
            end = token.end()
            break
    subset = text[start.end() : end]
    text = text[: start.start()] + text[end:]
    entities = {}
    for name, double, single in _ENTITY_DECL.findall(subset):
        value = double or single
        if not _SAFE_ENTITY_VALUE.match(value):
            continue
        # Stored as characters: feedparser keeps a declaration only if its value is
        # plain text or a single character reference, not a mix of both.
        decoded = html.unescape(value)
        if not _UNQUOTABLE.search(decoded):
            entities[name] = decoded
        elif _SINGLE_CHARREF.match(value):
            entities[name] = value
    # References counted in one pass: a count per declared name would read the document
    # once per declaration, and 100,000 declarations are cheap to write.
    uses = Counter(_ENTITY_REF.findall(text))
    entities = {name: value for name, value in entities.items() if uses[name]}
    added = sum(len(value) * uses[name] for name, value in entities.items())
    if added > _ENTITY_BUDGET:
        entities = {}
    # References to entities we refused (external, nested, too large) are removed, not
    # left undefined: an undefined entity would send feedparser to its slow loose parser.
    refused = set(_ENTITY_NAME.findall(subset)) - entities.keys()
    if refused & uses.keys():
        text = _ENTITY_REF.sub(lambda ref: "" if ref.group(1) in refused else ref.group(0), text)
    return text, entities


def prepare_xml(text: str) -> bytes:
    """Makes the text something the strict XML parser accepts, as UTF-8 bytes.

    Leading whitespace before ``<?xml`` and stray control characters are removed, the
    declared encoding becomes UTF-8 (we decoded already), the DOCTYPE is replaced by
    one that declares only plain character entities: the document's own harmless
    ones and the HTML named entities it uses, so ``&nbsp;`` in a title no longer
    sends feedparser to its lossy fallback parser. External entities, parameter
    entities and nested (billion laughs) entities never reach the parser.

    Args:
        text: The decoded feed document.

    Returns:
        The document as UTF-8 bytes, declared as UTF-8.
    """
    text = _XML_FORBIDDEN.sub("", text.lstrip())
    decl = _XML_DECL.match(text)
    prolog = ""
    if decl:
        prolog = _XML_DECL_ENC_ATTR.sub("", decl.group(0))
        prolog = prolog[: -len("?>")].rstrip() + ' encoding="utf-8"?>'
        text = text[decl.end() :]
    text, entities = _strip_doctype(text)
    for name in set(_ENTITY_REF.findall(text)) - entities.keys() - _XML_PREDEFINED:
        codepoint = html.entities.name2codepoint.get(name)
        if codepoint is not None:
            entities[name] = f"&#{codepoint};"
    root = _first_markup(text)
    if entities and root:
        # One declaration per line, double-quoted: the form feedparser keeps.
        declarations = "".join(f'<!ENTITY {n} "{v}">\n' for n, v in sorted(entities.items()))
        text = f"{text[: root.start()]}<!DOCTYPE feed [\n{declarations}]>\n{text[root.start() :]}"
    return (prolog + "\n" + text if prolog else text).encode("utf-8")
