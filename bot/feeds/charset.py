"""Feed bytes to text: choosing the charset the way a reader would want.

Real feeds lie about their charset, so :func:`decode_document` trusts the bytes over the
labels: a byte-order mark, then valid UTF-8, then the labels (HTTP, XML declaration),
then charset-normalizer's guess.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

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
# What a feed document starts with once decoded right: markup or JSON.
_DOCUMENT_START = re.compile("^[\ufeff\\s]*[<{\\[]")
_INVALID_UTF8 = re.compile("[\udc80-\udcff]")
_INVALID_UTF8_RUN = re.compile("[\udc80-\udcff]+")
_VALID_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff]")


def decode_document(body: bytes, http_charset: str | None = None) -> tuple[str, str]:
    """Decodes a feed document, trusting the bytes over the labels.

    Order: a byte-order mark; UTF-16 sniffing; strict UTF-8 (valid UTF-8 wins over a
    declared single-byte charset, which is the usual mislabelling); a mixed document
    (valid UTF-8 sequences beside bytes that are not UTF-8) line by line; the HTTP
    charset; the XML declaration; charset-normalizer's guess; and windows-1252 as the
    last resort. A label is believed only when its reading of the bytes starts like a
    document, so a wrong ``charset=utf-16`` falls through to the next candidate.
    ISO-8859-1 and US-ASCII labels are read as windows-1252, as browsers do.

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
    match = _XML_DECL_ENCODING.match(body[:1024])
    labels = [http_charset, match.group(1).decode("ascii") if match else None]
    if _VALID_NON_ASCII.search(body.decode("utf-8", errors="surrogateescape")):
        return _decode_mixed(body, labels)
    for label in labels:
        decoded = _decode_as(body, label)
        if decoded is not None:
            return decoded
    guess = charset_normalizer.from_bytes(body).best()
    if guess is not None:
        decoded = _decode_as(body, guess.encoding)
        if decoded is not None:
            return decoded
    return body.decode("cp1252", errors="replace"), "cp1252"


def _decode_mixed(body: bytes, labels: list[str | None]) -> tuple[str, str]:
    """Reads a document that holds both UTF-8 and legacy bytes, one line at a time.

    Feeds are assembled from several sources: a windows-1252 template with a title
    pasted as UTF-8, or UTF-8 text with a few bytes from a legacy source. A line that
    is valid UTF-8 is read as UTF-8. Any other line is read in the document's legacy
    charset (its label, else a guess made from the legacy bytes alone), keeping the
    UTF-8 sequences in it when that charset is windows-1252 or the line is mostly
    UTF-8: by chance a windows-1252 text forms a UTF-8 sequence only with a capital
    accented letter right before a symbol such as “, while windows-1251 (with its і)
    forms them often.
    """
    lines = [line.decode("utf-8", errors="surrogateescape") for line in body.splitlines(True)]
    codec = _legacy_codec(lines, labels)
    parts = []
    for line in lines:
        strays = len(_INVALID_UTF8.findall(line))
        if not strays:
            parts.append(line)
        elif codec == "cp1252" or strays < len(_VALID_NON_ASCII.findall(line)):
            parts.append(_INVALID_UTF8_RUN.sub(lambda run: _as(run.group(0), codec), line))
        else:
            parts.append(_as(line, codec))
    return "".join(parts), f"utf-8+{codec}"


def _as(escaped: str, codec: str) -> str:
    """Text decoded with surrogateescape, read again in ``codec``."""
    return escaped.encode("utf-8", errors="surrogateescape").decode(codec, errors="replace")


def _legacy_codec(lines: list[str], labels: list[str | None]) -> str:
    """The single-byte charset of the bytes of a mixed document that are not UTF-8."""
    for label in labels:
        name = _codec_name(label)
        if name and not name.startswith("utf"):
            return "cp1252" if name in _LATIN1_LABELS else name
    legacy = [line for line in lines if _INVALID_UTF8.search(line)]
    strays = sum(len(_INVALID_UTF8.findall(line)) for line in legacy)
    if strays < sum(len(_VALID_NON_ASCII.findall(line)) for line in legacy):
        return "cp1252"  # a few stray bytes in UTF-8 text: most often from windows-1252
    # The guess sees the legacy bytes alone: UTF-8 sequences would mislead it.
    sample = _VALID_NON_ASCII.sub("", "".join(legacy)).encode("utf-8", "surrogateescape")
    guess = charset_normalizer.from_bytes(sample).best()
    name = _codec_name(guess.encoding if guess else None)
    return name if name and not name.startswith("utf") else "cp1252"


def _codec_name(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
        b"".decode(name)  # "base64", "rot13" and friends are codecs, not text encodings
    except LookupError:
        return None  # a label Python does not know, e.g. encoding="invalid"
    return name


def _decode_as(body: bytes, label: str | None) -> tuple[str, str] | None:
    name = _codec_name(label)
    if name is None or name == "utf-8":
        return None  # strict UTF-8 already failed; the label is wrong
    names = ["cp1252", "latin-1"] if name in _LATIN1_LABELS else [name]
    for codec in names:
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        if _DOCUMENT_START.match(text):
            return text, codec
    return None


def content_type_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header value.

    Args:
        content_type: The header value, or None when the response had none.

    Returns:
        The charset label as written, or None when there is none.
    """
    match = _CHARSET_PARAM.search(content_type or "")
    return match.group(1) if match else None
