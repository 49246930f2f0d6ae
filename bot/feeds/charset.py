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


def content_type_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header value.

    Args:
        content_type: The header value, or None when the response had none.

    Returns:
        The charset label as written, or None when there is none.
    """
    match = _CHARSET_PARAM.search(content_type or "")
    return match.group(1) if match else None
