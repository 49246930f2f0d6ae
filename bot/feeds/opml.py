"""OPML, the file feed readers exchange subscription lists in: read one, write one.

Reading goes through defusedxml with DTDs forbidden, so entity bombs ("billion laughs")
and external entities (XXE) are refused before anything expands; the file's size and its
number of outlines are bounded. Nested outlines (folders) are flattened.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - only to write; reading is defusedxml's
from collections.abc import Iterable
from dataclasses import dataclass

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from bot.feeds import messages as msg
from bot.i18n import Text

MAX_BYTES = 1_000_000
MAX_OUTLINES = 500


class OpmlError(ValueError):
    """The file is not OPML we can read; ``text`` says why, for the user."""

    def __init__(self, text: Text) -> None:
        super().__init__(str(text))
        self.text = text


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One feed of an OPML file: its address and the title the file gives it."""

    url: str
    title: str | None = None


def parse_opml(data: bytes) -> list[OpmlFeed]:
    """The feeds an OPML file lists, in file order, each address once.

    Raises:
        OpmlError: too large, not XML, declares a DTD or entities, not OPML, or more
            than ``MAX_OUTLINES`` outlines.
    """
    if len(data) > MAX_BYTES:
        raise OpmlError(too_large())
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise OpmlError(Text(msg.OPML_ENTITIES)) from exc
    except ET.ParseError as exc:
        raise OpmlError(Text(msg.OPML_NOT_XML, detail=exc)) from exc
    body = root.find("body")
    if _local(root.tag) != "opml" or body is None:
        raise OpmlError(Text(msg.OPML_NOT_OPML))
    outlines = list(body.iter("outline"))
    if len(outlines) > MAX_OUTLINES:
        raise OpmlError(Text(msg.OPML_TOO_MANY, count=len(outlines), limit=MAX_OUTLINES))
    feeds: dict[str, OpmlFeed] = {}
    for outline in outlines:
        url = _attribute(outline, "xmlUrl")
        if url and url not in feeds:
            title = _attribute(outline, "title") or _attribute(outline, "text")
            feeds[url] = OpmlFeed(url, title)
    return list(feeds.values())


def too_large() -> Text:
    """Why a file over :data:`MAX_BYTES` is not read."""
    return Text(msg.OPML_TOO_LARGE, mb=MAX_BYTES // 1_000_000)


def render_opml(title: str, feeds: Iterable[OpmlFeed]) -> bytes:
    """An OPML 2.0 file listing ``feeds`` (UTF-8, with an XML declaration)."""
    root = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(root, "head"), "title").text = title
    body = ET.SubElement(root, "body")
    for feed in feeds:
        label = feed.title or feed.url
        ET.SubElement(body, "outline", type="rss", text=label, title=label, xmlUrl=feed.url)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _attribute(outline: ET.Element, name: str) -> str | None:
    """An attribute by name, any case (files in the wild write ``xmlurl``), stripped."""
    for key, value in outline.attrib.items():
        if key.lower() == name.lower() and value.strip():
            return value.strip()
    return None
