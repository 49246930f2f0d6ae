"""Feed bytes to a :class:`ParsedFeed`: RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON Feed.

The work happens in three steps, each a plain function:

1. :func:`decode_document` turns the bytes into text, choosing the charset the way a
   reader would want rather than the way the labels say (real feeds lie about it).
2. RSS/Atom text goes through feedparser, JSON Feed through :mod:`json`; both yield
   :class:`_Entry` records with plain text and absolute links.
3. :func:`_finish` gives every entry a stable ``uid`` and a title, and builds the
   :class:`Story` values.

feedparser only ever sees a byte stream that we decoded, cleaned and re-encoded as
UTF-8: it never opens a URL or a file, and the document it parses carries no DOCTYPE
except a generated one that declares character entities only.
"""

from __future__ import annotations

import codecs
import email.utils
import hashlib
import html.entities
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import charset_normalizer
import feedparser

from bot.errors import FeedParseError
from bot.feeds.text import decode_entities, html_to_text, normalize_space
from bot.feeds.urls import absolute_http_url, canonical_url
from bot.models import ParsedFeed, Story

# --------------------------------------------------------------------------- charset

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# "<?" in UTF-16 without a BOM.
_UTF16_SNIFF = ((b"<\x00?\x00", "utf-16-le"), (b"\x00<\x00?", "utf-16-be"))
_XML_DECL_ENCODING = re.compile(
    rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']", re.IGNORECASE
)
_CHARSET_PARAM = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})", re.IGNORECASE)
# Labels that in practice mean windows-1252, as in the WHATWG Encoding Standard: the
# bytes 0x80-0x9F are curly quotes, dashes and the euro sign, never C1 controls.
_LATIN1_LABELS = frozenset({"ascii", "latin_1", "iso8859-1"})
_INVALID_UTF8 = re.compile("[\udc80-\udcff]")
_VALID_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff]")
_MIXED_ERRORS = "newsbot-utf8-cp1252"


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decodes the bytes UTF-8 rejected as windows-1252 (undefined bytes as U+FFFD)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return bad.decode("cp1252", errors="replace"), error.end


codecs.register_error(_MIXED_ERRORS, _cp1252_fallback)


def decode_document(body: bytes, http_charset: str | None = None) -> tuple[str, str]:
    """Decodes a feed document, trusting the bytes over the labels.

    Order: a byte-order mark; UTF-16 sniffing; strict UTF-8 (valid UTF-8 wins over a
    declared single-byte charset, which is the usual mislabelling); UTF-8 with a few
    stray legacy bytes; the HTTP charset; the XML declaration; charset-normalizer's
    guess; and windows-1252 as the last resort. ISO-8859-1 and US-ASCII labels are
    read as windows-1252, as browsers do.

    Args:
        body: The raw response body.
        http_charset: The ``charset`` parameter of the Content-Type header, if any.

    Returns:
        The text and the name of the codec used.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace"), codec
    for prefix, codec in _UTF16_SNIFF:
        if body.startswith(prefix):
            return body.decode(codec, errors="replace"), codec
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    escaped = body.decode("utf-8", errors="surrogateescape")
    invalid = len(_INVALID_UTF8.findall(escaped))
    if invalid < len(_VALID_NON_ASCII.findall(escaped)):
        # Mostly UTF-8 with a few bytes pasted from a legacy source: keep the UTF-8
        # and read the strays as windows-1252 instead of turning everything to mojibake.
        return body.decode("utf-8", errors=_MIXED_ERRORS), "utf-8"
    match = _XML_DECL_ENCODING.match(body[:1024])
    declared = [http_charset, match.group(1).decode("ascii") if match else None]
    for label in declared:
        decoded = _decode_as(body, label)
        if decoded is not None:
            return decoded
    guess = charset_normalizer.from_bytes(body).best()
    if guess is not None:
        decoded = _decode_as(body, guess.encoding)
        if decoded is not None:
            return decoded
    return body.decode("cp1252", errors="replace"), "cp1252"


def _decode_as(body: bytes, label: str | None) -> tuple[str, str] | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None  # a label Python does not know, e.g. encoding="invalid"
    if name == "utf-8":
        return None  # strict UTF-8 already failed; the label is wrong
    names = ["cp1252", "latin-1"] if name in _LATIN1_LABELS else [name]
    for codec in names:
        try:
            return body.decode(codec), codec
        except (UnicodeDecodeError, LookupError):
            # LookupError: "base64", "rot13" and friends are not text encodings.
            continue
    return None


def _http_charset(content_type: str | None) -> str | None:
    match = _CHARSET_PARAM.search(content_type or "")
    return match.group(1) if match else None


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True, slots=True)
class _Entry:
    """One entry in plain text, before it has a uid and a guaranteed title."""

    guid: str | None
    title: str
    link: str | None
    published: datetime | None
    author: str | None
    summary: str
    content: str

    @property
    def body(self) -> str:
        return self.content if len(self.content) > len(self.summary) else self.summary


_EMAIL = r"(?:mailto:)?[^\s@()<>]+@[^\s@()<>]+"
_AUTHOR_FORMS = (
    re.compile(rf"^{_EMAIL}\s*\((?P<name>[^()]+)\)$"),  # RSS: "jo@example.org (Jo Doe)"
    re.compile(rf"^(?P<name>.+?)\s*\({_EMAIL}\)$"),  # "Jo Doe (mailto:jo@example.org)"
    re.compile(rf"^(?P<name>.+?)\s*<{_EMAIL}>$"),  # "Jo Doe <jo@example.org>"
)
UNTITLED = "(no title)"
_BARE_EMAIL = re.compile(rf"^{_EMAIL}$")
_SENTENCE_END = re.compile(r"(?<=[.!?…。])\s")
_TITLE_MAX = 100
_AUTHOR_MAX = 300


def _clean_author(raw: str | None) -> str | None:
    """Reduces the author forms feeds use to a display name."""
    if not raw:
        return None
    # Capped: a real name is short, and the patterns below backtrack on long input.
    author = normalize_space(html_to_text(raw[:_AUTHOR_MAX]))
    for form in _AUTHOR_FORMS:
        match = form.match(author)
        if match:
            return match.group("name").strip()
    if author.lower().startswith("mailto:"):
        author = author[len("mailto:") :]
    return author or None


def _fallback_title(entry: _Entry) -> str:
    """A title for an entry that has none: its first sentence, else its link."""
    first_line = entry.body.strip().split("\n", 1)[0]
    sentence = _SENTENCE_END.split(first_line, maxsplit=1)[0].strip()
    if len(sentence) > _TITLE_MAX:
        cut = sentence[:_TITLE_MAX].rsplit(" ", 1)[0]
        sentence = cut.rstrip(" ,;:-") + "…"
    return sentence or entry.link or UNTITLED


def _digest(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _finish(entries: Iterable[_Entry]) -> list[Story]:
    """Gives each entry a uid that is stable across polls and unique in the document.

    Why this order: a guid is the publisher's own id and survives title edits and
    changed links, so it wins. Without one, the canonical link survives title edits.
    Without either, only the title and date are left; hashing them keeps the uid short.
    """
    # An entry with nothing at all (an empty <item/>) cannot become an alert.
    kept = [e for e in entries if e.guid or e.title or e.link or e.published or e.body]
    guid_counts = Counter(e.guid for e in kept if e.guid)
    seen: Counter[str] = Counter()
    stories = []
    for entry in kept:
        # Fragments are kept in the link key: some feeds list anchors on one page.
        link_key = canonical_url(entry.link, keep_fragment=True) if entry.link else None
        if entry.guid and guid_counts[entry.guid] > 1:
            # Broken feeds give every item the same guid (fluentboards.com; miniflux
            # has a test for it).
            # Every item sharing it gets guid+link, the first one included: if the
            # first kept the bare guid, a new item prepended to the feed would take
            # over the old item's uid and be dropped as already seen.
            uid = f"{entry.guid}|{link_key or ''}"
        elif entry.guid:
            uid = entry.guid
        elif link_key:
            uid = link_key
        else:
            when = entry.published.isoformat() if entry.published else ""
            uid = _digest(entry.title, when) if entry.title or when else _digest(entry.summary)
        if len(uid) > 512:
            uid = _digest(uid)
        seen[uid] += 1
        if seen[uid] > 1:
            uid = f"{uid}#{seen[uid]}"
        stories.append(
            Story(
                uid=uid,
                title=entry.title or _fallback_title(entry),
                link=entry.link,
                published=entry.published,
                author=entry.author,
                summary=entry.summary,
                content=entry.content,
            )
        )
    return stories


# --------------------------------------------------------------------------- RSS / Atom

_XML_DECL = re.compile(r"^<\?xml[^>]*\?>")
_XML_DECL_ENC_ATTR = re.compile(r"""\sencoding\s*=\s*["'][^"']*["']""")
# Characters XML 1.0 forbids; a single one makes the strict parser give up.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MARKUP_START = re.compile(r"<!--|<\?|<!DOCTYPE\b|<[A-Za-z_]", re.IGNORECASE)
# Root elements of every format feedparser knows; without one, feedparser's slow
# fallback parser would only confirm that an HTML page or garbage is not a feed.
_FEED_ROOT = re.compile(r"<(?:[\w.-]+:)?(?:rss|feed|rdf|channel)[\s>/]", re.IGNORECASE)
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
_HTML_PAGE = re.compile(r"<(?:!doctype\s+html|html[\s>])", re.IGNORECASE)


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
    added = sum(len(value) * text.count(f"&{name};") for name, value in entities.items())
    if added > _ENTITY_BUDGET:
        entities = {}
    # References to entities we refused (external, nested, too large) are removed, not
    # left undefined: an undefined entity would send feedparser to its slow loose parser.
    refused = set(_ENTITY_NAME.findall(subset)) - entities.keys()
    if refused:
        names = "|".join(re.escape(name) for name in sorted(refused))
        text = re.sub(f"&(?:{names});", "", text)
    return text, entities


def _prepare_xml(text: str) -> bytes:
    """Makes the text something the strict XML parser accepts, as UTF-8 bytes.

    Leading whitespace before ``<?xml`` and stray control characters are removed, the
    declared encoding becomes UTF-8 (we decoded already), the DOCTYPE is replaced by
    one that declares only plain character entities: the document's own harmless
    ones and the HTML named entities it uses, so ``&nbsp;`` in a title no longer
    sends feedparser to its lossy fallback parser. External entities, parameter
    entities and nested (billion laughs) entities never reach the parser.
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


def _text(detail: Mapping[str, Any] | None, fallback: str | None = None) -> str:
    """Plain text of a feedparser text construct, honouring its declared type."""
    if detail is None:
        return html_to_text(fallback or "")
    value = str(detail.get("value") or "")
    if detail.get("type") == "text/plain":
        # Plain by declaration, so "<tag>" is text; only doubly escaped entities go.
        return normalize_space(decode_entities(value), keep_lines=True)
    return html_to_text(value)


def _struct_to_datetime(value: Any) -> datetime | None:
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _entry_link(entry: Mapping[str, Any]) -> str | None:
    """The page the entry is about: feedburner's original, else rel=alternate."""
    original = entry.get("feedburner_origlink")
    if original and absolute_http_url(original, None):
        # FeedBurner's <link> is a click-tracking redirect; the original is the article.
        return str(original)
    href: str | None = entry.get("link")
    for link in entry.get("links") or []:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            href = str(link["href"])
            break
    if href and entry.get("guidislink") and href == entry.get("id"):
        # An RSS guid counts as a permalink unless it says otherwise; feedparser then
        # copies it into link. "x-1" is an id, not a path to resolve.
        return absolute_http_url(href, None)
    return href


def _xml_entry(parsed: Mapping[str, Any], base: str | None, feed_author: str | None) -> _Entry:
    # A plain dict: FeedParserDict maps missing keys to others ("published_parsed" to
    # "updated_parsed") and warns each time.
    entry = dict(parsed)
    published = None
    for key in ("published_parsed", "updated_parsed"):
        if entry.get(key):
            published = _struct_to_datetime(entry[key])
            if published:
                break
    contents = [c for c in entry.get("content") or [] if c.get("value")]
    content = max((_text(c) for c in contents), key=len, default="")
    summary = _text(entry.get("summary_detail"), entry.get("summary"))
    guid = str(entry.get("id") or "").strip() or None
    return _Entry(
        guid=guid,
        title=normalize_space(_text(entry.get("title_detail"), entry.get("title"))),
        link=absolute_http_url(_entry_link(entry), base),
        published=published,
        author=_clean_author(entry.get("author")) or feed_author,
        summary=summary,
        content=content,
    )


def _parse_xml(text: str, *, url: str, content_location: str | None) -> ParsedFeed:
    headers = {"content-type": "application/xml; charset=utf-8"}
    if content_location:
        # feedparser resolves xml:base and relative links against this document URI.
        headers["content-location"] = content_location
    if not _FEED_ROOT.search(text):
        raise FeedParseError(f"not a feed: {_why_not_xml(text)}")
    # A stream, never bytes or str: feedparser.parse() treats a str as a URL to fetch
    # and even bytes as a possible local file name.
    result = feedparser.parse(
        io.BytesIO(_prepare_xml(text)), response_headers=headers, sanitize_html=True
    )
    feed = dict(result.get("feed", {}))  # plain dict: no key remapping, no warnings
    entries = result.get("entries", [])
    title = normalize_space(_text(feed.get("title_detail"), feed.get("title"))) or None
    if not entries and not result.get("version"):
        raise FeedParseError(f"not a feed: {_why_not_xml(text, result.get('bozo_exception'))}")
    doc_base = content_location or url
    link = absolute_http_url(feed.get("link"), doc_base)
    if result.get("bozo") and not (entries or title or link):
        # Broken XML that yielded nothing (a truncated download, a stray tag): say so,
        # so that `status` shows the feed as failing rather than merely quiet.
        raise FeedParseError(f"not a feed: broken XML ({result.get('bozo_exception')})")
    # Relative entry links resolve against the site link first, as miniflux does: a
    # feed served from a CDN or FeedBurner still means pages on its own site.
    entry_base = link or doc_base
    feed_author = _clean_author(feed.get("author"))
    if feed_author and _BARE_EMAIL.match(feed_author):
        # RSS managingEditor is the desk's mailbox, not who wrote each story.
        feed_author = None
    stories = _finish(_xml_entry(e, entry_base, feed_author) for e in entries)
    return ParsedFeed(title=title, link=link, stories=stories)


def _why_not_xml(text: str, error: object = None) -> str:
    if _HTML_PAGE.search(text[:4096]):
        return "got an HTML page; add the page's RSS or Atom link instead"
    detail = f" ({error})" if error else ""
    return f"no RSS, Atom or JSON Feed content{detail}"


# --------------------------------------------------------------------------- JSON Feed


def _json_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # RFC 3339 requires an offset; assume UTC
    return parsed.astimezone(UTC)


def _json_author(node: Mapping[str, Any]) -> str | None:
    """JSON Feed 1.1 ``authors`` (a list) or 1.0 ``author`` (one object)."""
    candidates = node.get("authors")
    if not isinstance(candidates, list):
        candidates = [node.get("author")]
    names = [str(c["name"]).strip() for c in candidates if isinstance(c, dict) and c.get("name")]
    return _clean_author(", ".join(names)) if names else None


def _json_str(node: Mapping[str, Any], key: str) -> str:
    value = node.get(key)
    return value if isinstance(value, str) else ""


def _json_entry(item: Mapping[str, Any], base: str | None, feed_author: str | None) -> _Entry:
    guid = item.get("id")
    content = html_to_text(_json_str(item, "content_html")) or normalize_space(
        _json_str(item, "content_text"), keep_lines=True
    )
    link = absolute_http_url(_json_str(item, "url"), base) or absolute_http_url(
        _json_str(item, "external_url"), base
    )
    return _Entry(
        # The spec makes id a string, but numbers are common; bools and objects are not ids.
        guid=str(guid).strip() or None if isinstance(guid, str | int | float) else None,
        title=normalize_space(html_to_text(_json_str(item, "title"))),
        link=link,
        published=_json_date(item.get("date_published")) or _json_date(item.get("date_modified")),
        author=_json_author(item) or feed_author,
        summary=html_to_text(_json_str(item, "summary")),
        content=content,
    )


def _parse_json_feed(text: str, *, url: str) -> ParsedFeed:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FeedParseError(f"not a feed: invalid JSON ({exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise FeedParseError("not a feed: JSON without a JSON Feed 'items' list")
    link = absolute_http_url(_json_str(document, "home_page_url"), url)
    base = link or absolute_http_url(_json_str(document, "feed_url"), url) or url
    feed_author = _json_author(document)
    items = [item for item in document["items"] if isinstance(item, dict)]
    return ParsedFeed(
        title=normalize_space(html_to_text(_json_str(document, "title"))) or None,
        link=link,
        stories=_finish(_json_entry(item, base, feed_author) for item in items),
    )


# --------------------------------------------------------------------------- entry point


def parse_feed(body: bytes, *, url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parses a fetched feed document into plain-text stories.

    Args:
        body: The response body, exactly as received (after transfer decoding).
        url: The URL the body was fetched from; the base for relative links.
        headers: The HTTP response headers, any case. ``Content-Type`` supplies a
            charset and marks JSON; ``Content-Location`` is the document's own URL.

    Returns:
        The feed's title and link and one :class:`Story` per usable entry, in
        document order, with uids unique within the document.

    Raises:
        FeedParseError: The body is empty, binary garbage, an HTML page, or otherwise
            no RSS, Atom or JSON Feed document. A feed that is merely ill-formed but
            still yields entries is accepted.
    """
    lowered = {key.lower(): value for key, value in (headers or {}).items()}
    if not body.strip():
        raise FeedParseError("not a feed: the response body is empty")
    text, _ = decode_document(body, _http_charset(lowered.get("content-type")))
    text = text.lstrip("\ufeff \t\r\n")
    location = lowered.get("content-location")
    content_location = absolute_http_url(location, url) if location else None
    if text.startswith(("{", "[")):
        return _parse_json_feed(text, url=content_location or url)
    return _parse_xml(text, url=url, content_location=content_location)
