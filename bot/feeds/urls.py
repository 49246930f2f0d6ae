"""Link hygiene: absolute http(s) links for stories, and a canonical form for dedup."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

_WEB_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that only say where a click came from. Dropping them makes the
# same article reached through a newsletter, a social post or a feed one story.
# A bare "ref" is kept on purpose: GitHub, GitLab and many APIs use it to name a
# branch or a record, so dropping it would merge different pages.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "twclid", "ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "_ga", "_gl",
        "_hsenc", "_hsmi", "__hstc", "__hssc", "__hsfp", "hsctatracking", "mkt_tok",
        "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "rb_clickid", "s_cid",
        "wt_mc", "wt_zmc", "wtmc", "at_medium", "at_campaign", "at_custom1",
        "at_custom2", "at_custom3", "at_custom4", "ocid", "cmpid", "icid", "smid",
        "ref_src", "ref_url", "__twitter_impression", "sr_share", "ito", "ns_mchannel",
        "ns_source", "ns_campaign", "ns_linkname", "ns_fee",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "matomo_", "hmb_")

# Characters RFC 3986 calls unreserved: their percent-encoded form means the same.
_UNRESERVED_ESCAPE = re.compile(r"%(2[dDeE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])")
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?[]"


def absolute_http_url(link: str | None, base: str | None) -> str | None:
    """Resolves a feed link to an absolute http(s) URL.

    Args:
        link: The link as the feed wrote it; may be relative, padded or empty.
        base: URL to resolve a relative link against; None when there is none.

    Returns:
        The absolute URL, or None when the link is empty, still relative, or uses any
        scheme other than http/https (``javascript:``, ``data:``, ``mailto:``, ...).
    """
    if not link:
        return None
    link = link.strip()
    if not link:
        return None
    if base:
        try:
            link = urljoin(base.strip(), link)
        except ValueError:
            return None
    try:
        parts = urlsplit(link)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None
    if parts.scheme.lower() not in _WEB_SCHEMES or not parts.hostname:
        return None
    return link


def canonical_url(url: str, *, keep_fragment: bool = False) -> str:
    """Normalises a link so that two spellings of the same page compare equal.

    Lowercases scheme and host (IDNA hosts become punycode), drops the default port,
    the fragment and tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ``mc_cid``,
    ...), sorts the remaining query parameters by name, normalises percent-escapes
    and removes ``.``/``..`` path segments. Links other than http(s) are returned
    stripped but otherwise unchanged.

    Args:
        url: An absolute URL.
        keep_fragment: Keep the ``#fragment``; story ids use this because some feeds
            tell items apart only by an anchor on one page.

    Returns:
        The canonical form of the URL.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in _WEB_SCHEMES or not parts.hostname:
        return url
    netloc = _canonical_host(parts.hostname)
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    path = _canonical_path(parts.path)
    query = _canonical_query(parts.query)
    fragment = parts.fragment if keep_fragment else ""
    return urlunsplit((scheme, netloc, path, query, fragment))


def _canonical_host(host: str) -> str:
    host = host.rstrip(".").lower()
    if ":" in host:  # IPv6 literal: urlsplit() removed the brackets
        return f"[{host}]"
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _canonical_path(path: str) -> str:
    path = _remove_dot_segments(path or "/")
    path = _normalize_escapes(path)
    # Encode what a feed left raw (spaces, non-ASCII) the way a browser would.
    return quote(path, safe=_PATH_SAFE)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, on whole segments."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in _TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


def _normalize_escapes(text: str) -> str:
    text = _UNRESERVED_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return _ESCAPE.sub(lambda m: m.group(0).upper(), text)


def _canonical_query(query: str) -> str:
    # Pairs are kept as sent (only escapes normalised): re-encoding would blur "+"
    # versus "%2B", which servers read differently.
    kept = [
        quote(_normalize_escapes(pair), safe=_QUERY_SAFE)
        for pair in query.split("&")
        if pair and not _is_tracking(unquote(pair.split("=", 1)[0]))
    ]
    # sorted() is stable: repeated names keep their order, which can be meaningful.
    return "&".join(sorted(kept, key=lambda pair: pair.split("=", 1)[0]))
