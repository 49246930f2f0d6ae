"""What went wrong with a feed, in words: the English message ids of feed errors.

Fetching, the address guard, discovery, parsing and OPML raise errors carrying a
:class:`~bot.i18n.Text` of one of these, so ``addfeed``, ``import`` and ``status`` word
them in the chat's language and logs read them in English. Like
:mod:`bot.commands.messages`, each has a translation in every catalog (tests check it).
"""

from bot.i18n import Plural

# Fetching (bot/feeds/fetch.py).
TIMED_OUT = "timed out after {seconds}s"
CONNECTION_REFUSED = "connection refused"
TLS_ERROR = "TLS error: {detail}"
HOST_UNKNOWN = "cannot resolve host — check the URL"
CONNECTION_FAILED = "connection failed: {detail}"
BAD_RESPONSE = "bad HTTP response: {detail}"
INVALID_URL_DETAIL = "invalid URL: {detail}"
NETWORK_ERROR = "network error: {detail}"
REDIRECT_INVALID = "redirect to an invalid URL {location!r}"
TOO_MANY_REDIRECTS = "too many redirects (more than {limit})"
HTTP_STATUS = "HTTP {status} {reason}"
TOO_LARGE = "larger than {size} limit"
TOO_LARGE_DECLARED = "larger than {size} limit (Content-Length {length})"
BAD_ENCODING = "unsupported Content-Encoding {encoding!r}"
BAD_COMPRESSION = "body is not valid {coding} data: {detail}"

# The address guard (bot/feeds/ssrf.py).
HOST_UNRESOLVED = "cannot resolve host {host} — check the URL"
PRIVATE_HINT = "set fetch.allow_private_addresses: true for feeds on your own network"
BLOCKED = "blocked {kind} address {address} ({hint})"
BLOCKED_HOST = "blocked {kind} address {address} (host {host}) ({hint})"
BLOCKED_VIA = "blocked {kind} address {address} (via {via}) ({hint})"
BLOCKED_HOST_VIA = "blocked {kind} address {address} (host {host}, via {via}) ({hint})"
# What makes an address not public, as the words above name it.
ADDRESS_KINDS = {
    "unspecified": "unspecified",
    "loopback": "loopback",
    "link-local": "link-local",
    "multicast": "multicast",
    "reserved": "reserved",
    "private": "private",
}
URL_TOO_LONG = (
    "URL of {length:,} characters; at most {limit:,} are accepted — give the feed's shorter address"
)
INVALID_URL = "invalid URL {url!r}: {detail}"
NO_SCHEME = "URL {url!r} needs http:// or https:// in front"
BAD_SCHEME = "unsupported URL scheme {scheme!r} — feeds must be http:// or https://"
CREDENTIALS = "URLs with a user name or password are not allowed — remove 'user@'"
NO_HOST = "URL {url!r} has no host"
UNIX_SOCKET = "unix sockets are not allowed for feeds"

# Discovery (bot/feeds/discover.py) and parsing (parse.py, jsonfeed.py, pipeline.py).
NO_FEED = "no feed found at {url} — give the feed's own address"
EMPTY_BODY = "not a feed: the response body is empty"
HTML_PAGE = "not a feed: got an HTML page; add the page's RSS or Atom link instead"
NO_FEED_CONTENT = "not a feed: no RSS, Atom or JSON Feed content"
NO_FEED_CONTENT_DETAIL = "not a feed: no RSS, Atom or JSON Feed content ({detail})"
BROKEN_XML = "not a feed: broken XML ({detail})"
INVALID_JSON = "not a feed: invalid JSON ({detail})"
NO_JSON_ITEMS = "not a feed: JSON without a JSON Feed 'items' list"
POLL_FAILED = "could not poll this feed ({kind})"
PARSE_FAILED = "could not parse this feed ({kind})"

# OPML files (bot/feeds/opml.py).
OPML_TOO_LARGE = "the file is larger than {mb} MB"
OPML_ENTITIES = "the file declares a DTD or entities, which are not allowed"
OPML_NOT_XML = "the file is not well-formed XML ({detail})"
OPML_NOT_OPML = "the file is not OPML (no <opml> with a <body>)"
OPML_TOO_MANY = Plural(
    "the file has {count} outline; at most {limit} are read",
    "the file has {count} outlines; at most {limit} are read",
)
