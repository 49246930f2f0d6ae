"""HTTP fetcher for feeds: conditional GET, size and time limits, redirects through the SSRF guard.

One :class:`Fetcher` serves every feed from one shared connection pool. A slow, dead, huge
or hostile feed harms only itself: each fetch has a total deadline, a byte budget applied
to the *decoded* body while it streams, and every address it touches is checked.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import httpx

from bot.errors import FetchError
from bot.feeds import messages as msg
from bot.feeds.ssrf import GuardedTransport, check_url
from bot.i18n import Text

MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.7"
)
# Only encodings we can decode with a bounded output buffer; see _BoundedDecoder.
_ACCEPT_ENCODING = "gzip, deflate"
# Server text that ends up stored or in an error message: real values are far shorter.
_VALIDATOR_MAX = 1_024  # an ETag or Last-Modified longer than this is not kept
_QUOTED_MAX = 200  # characters of a reason phrase or Location quoted in an error


@dataclass(frozen=True)
class FetchResult:
    """What one fetch returned.

    Attributes:
        url: The final URL after redirects.
        status: 200 (or another 2xx) with a body, or 304 when the feed has not changed.
        body: The decoded body (gzip/deflate undone); ``b""`` on 304.
        headers: The final response's headers, lower-case keys, repeated headers joined.
        etag: The ETag to send next time (the server's, else the one we sent on a 304).
        last_modified: The Last-Modified to send next time, likewise.
    """

    url: str
    status: int
    body: bytes
    headers: dict[str, str]
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        """True when the server answered 304 and the caller should skip parsing."""
        return self.status == 304


class Fetcher:
    """Fetches feeds over HTTP(S) from one shared, bounded connection pool.

    Use it as an async context manager, or call :meth:`aclose` when done.
    """

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        max_bytes: int = 5_000_000,
        allow_private_addresses: bool = False,
        user_agent: str = "newsbot/0.1 (+https://github.com/newsbot)",
        max_connections: int = 20,
        transport: httpx.AsyncBaseTransport | None = None,
        observe: Callable[[str, str, float], None] | None = None,
    ) -> None:
        """Create the fetcher and its connection pool.

        Args:
            timeout: Seconds one fetch may take in total, redirects and body included.
            max_bytes: Largest decoded body accepted.
            allow_private_addresses: Allow loopback, private and link-local addresses.
            user_agent: The User-Agent header.
            max_connections: Fetches running at once, and the pool's connection limit.
            transport: Replaces the network transport (tests). The URL check still runs,
                but the connect-time address check of the default transport does not.
            observe: Called after each fetch with its kind (``feed`` or ``page``), its
                outcome (``ok``, ``not_modified``, ``error``) and its seconds (metrics).
        """
        self._observe = observe
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._allow_private = allow_private_addresses
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        # Waiting for a free slot happens before a fetch's deadline starts, so a queue of
        # slow feeds cannot make a healthy feed time out while it waits its turn.
        self._slots = asyncio.Semaphore(max_connections)
        # The transport alone, without an httpx client: redirects are followed by hand
        # (each hop passes check_url), and a client's other work on every request (a
        # cookie jar shared by every feed server, merging defaults, event hooks) is work
        # a feed does not need.
        self._transport = transport or GuardedTransport(
            allow_private=self._allow_private, limits=limits
        )
        self._headers = {
            "User-Agent": user_agent,
            "Accept": _ACCEPT,
            "Accept-Encoding": _ACCEPT_ENCODING,
            "Connection": "keep-alive",
        }
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._transport.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        """Fetch ``url``, following up to five redirects.

        Args:
            url: An absolute http(s) URL.
            etag: The ETag from the previous fetch; sent as If-None-Match.
            last_modified: The Last-Modified from the previous fetch; sent as
                If-Modified-Since.
            accept: The Accept header, when not a feed is wanted (an article page).

        Returns:
            The result; ``result.not_modified`` is True on 304.

        Raises:
            FetchError: On any failure, with a message fit for the user and, for 429 and
                503, ``retry_after`` in seconds when the server said so.
        """
        headers = dict(self._headers)
        if accept:
            headers["Accept"] = accept
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self._slots:
            started, outcome = time.perf_counter(), "error"
            try:
                async with asyncio.timeout(self._timeout):
                    result = await self._follow(url, headers)
                outcome = "not_modified" if result.not_modified else "ok"
            except (TimeoutError, httpx.TimeoutException) as exc:
                raise FetchError(Text(msg.TIMED_OUT, seconds=f"{self._timeout:g}")) from exc
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(_describe_transport_error(exc)) from exc
            finally:
                if self._observe is not None:  # the wait for a slot is not the feed's time
                    kind = "page" if accept else "feed"
                    self._observe(kind, outcome, time.perf_counter() - started)
        if result.not_modified:
            # Keep the validators we sent when the server's 304 does not repeat them.
            result = FetchResult(
                url=result.url,
                status=304,
                body=b"",
                headers=result.headers,
                etag=result.etag or etag,
                last_modified=result.last_modified or last_modified,
            )
        return result

    async def _follow(self, url: str, headers: dict[str, str]) -> FetchResult:
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            target = await check_url(current, allow_private=self._allow_private)
            request = httpx.Request("GET", target, headers=headers, extensions=self._extensions)
            response = await self._transport.handle_async_request(request)
            response.request = request
            try:
                location = response.headers.get("location")
                if response.status_code in _REDIRECT_STATUSES and location:
                    try:
                        current = str(response.url.join(location.strip()))
                    except httpx.InvalidURL as exc:
                        raise FetchError(
                            Text(msg.REDIRECT_INVALID, location=location[:_QUOTED_MAX])
                        ) from exc
                    continue
                return await self._finish(response)
            finally:
                await response.aclose()
        raise FetchError(Text(msg.TOO_MANY_REDIRECTS, limit=MAX_REDIRECTS))

    async def _finish(self, response: httpx.Response) -> FetchResult:
        status = response.status_code
        if status != 304 and not 200 <= status < 300:
            raise FetchError(
                Text(msg.HTTP_STATUS, status=status, reason=_reason(response)),
                retry_after=_retry_after(response) if status in (429, 503) else None,
            )
        if status == 304:
            # Reading the empty body lets the connection go back to the pool; closed
            # unread, it would be dropped, and each 304 would open a new one.
            await response.aread()
        body = b"" if status == 304 else await self._read_body(response)
        return FetchResult(
            url=str(response.url),
            status=status,
            body=body,
            headers={key.lower(): value for key, value in response.headers.items()},
            etag=_validator(response.headers.get("etag")),
            last_modified=_validator(response.headers.get("last-modified")),
        )

    async def _read_body(self, response: httpx.Response) -> bytes:
        size = _format_size(self._max_bytes)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            # The encoded size already exceeds the limit; decoding only makes it bigger.
            raise FetchError(Text(msg.TOO_LARGE_DECLARED, size=size, length=int(declared)))
        decoder = _BoundedDecoder(response.headers.get("content-encoding", ""), self._max_bytes)
        parts: list[bytes] = []
        try:
            async for chunk in response.aiter_raw():
                parts.append(decoder.feed(chunk))
            parts.append(decoder.flush())
        except _TooLarge as exc:
            raise FetchError(Text(msg.TOO_LARGE, size=size)) from exc
        return b"".join(parts)


class _TooLarge(Exception):
    """The decoded body passed the byte budget."""


class _BoundedDecoder:
    """Undoes Content-Encoding chunk by chunk without producing more than ``limit`` bytes.

    httpx's own decoders inflate each network chunk in full, so one 64 KB chunk of a gzip
    bomb can become 64 MB before any size check sees it. Here zlib's ``max_length`` caps
    every call at the remaining budget plus one byte, so memory stays near ``limit`` and
    the first byte over it stops the download.
    """

    def __init__(self, content_encoding: str, limit: int) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(Text(msg.BAD_ENCODING, encoding=content_encoding))
        self._gzip = bool(codings) and codings[0] in ("gzip", "x-gzip")
        self._coding = codings[0] if codings else ""
        self._limit = limit
        self._produced = 0
        self._zlib: zlib._Decompress | None = None
        self._ended = False
        self._pending = b""
        self._started = False

    def feed(self, data: bytes) -> bytes:
        """Decode one raw chunk; raise _TooLarge as soon as the budget is passed."""
        if not self._coding:
            return self._count(data)
        data, self._pending = self._pending + data, b""
        out: list[bytes] = []
        while data and not self._ended:
            if self._zlib is None:
                if len(data) < 2:
                    # A stream's kind shows in its first two bytes, and a network chunk
                    # can end after one of them.
                    self._pending = data
                    break
                if self._started and not data.startswith(b"\x1f\x8b"):
                    # Junk after the end of the stream, which some servers append.
                    self._ended = True
                    break
                self._zlib = self._new_decompressor(data)
                self._started = True
            out.append(self._inflate(data))
            data = self._zlib.unconsumed_tail
            if self._zlib.eof:
                data = self._zlib.unused_data
                # Concatenated gzip members are legal (RFC 1952): the loop starts the next.
                self._zlib = None
                self._ended = not self._gzip
        return b"".join(out)

    def flush(self) -> bytes:
        """Return what the decompressor still holds once the body has ended."""
        out = b""
        if self._pending and not self._started:
            # A body of one byte: let zlib say what is wrong with it.
            self._zlib = self._new_decompressor(self._pending)
            self._started = True
            out = self._inflate(self._pending)
        if self._zlib is None or self._ended:
            return out
        return out + self._count(self._zlib.flush())

    def _inflate(self, data: bytes) -> bytes:
        assert self._zlib is not None
        try:
            chunk = self._zlib.decompress(data, self._limit - self._produced + 1)
        except zlib.error as exc:
            raise FetchError(Text(msg.BAD_COMPRESSION, coding=self._coding, detail=exc)) from exc
        return self._count(chunk)

    def _count(self, data: bytes) -> bytes:
        self._produced += len(data)
        if self._produced > self._limit:
            raise _TooLarge
        return data

    def _new_decompressor(self, first_bytes: bytes) -> zlib._Decompress:
        if self._gzip:
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" should be zlib-wrapped (RFC 9110), but many servers send raw deflate.
        # A zlib header has compression method 8 in the low nibble of its first byte, and
        # its first two bytes read as a big-endian number are a multiple of 31.
        header_ok = len(first_bytes) >= 2 and first_bytes[0] & 0x0F == 8
        if header_ok and int.from_bytes(first_bytes[:2], "big") % 31 == 0:
            return zlib.decompressobj(zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS)


def _reason(response: httpx.Response) -> str:
    try:
        return http.HTTPStatus(response.status_code).phrase
    except ValueError:
        return response.reason_phrase[:_QUOTED_MAX] or "error"


def _validator(value: str | None) -> str | None:
    """An ETag or Last-Modified worth storing and sending back, else None."""
    return value if value and len(value) <= _VALIDATOR_MAX else None


def _retry_after(response: httpx.Response) -> float | None:
    """Read Retry-After as seconds from now: either delta-seconds or an HTTP-date."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _describe_transport_error(exc: httpx.HTTPError | httpx.InvalidURL) -> Text:
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if isinstance(exc, httpx.ConnectError):
        if "refused" in lowered or any(
            isinstance(cause, ConnectionRefusedError) for cause in _causes(exc)
        ):
            return Text(msg.CONNECTION_REFUSED)
        if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
            return Text(msg.TLS_ERROR, detail=text)
        if "name or service not known" in lowered or "nodename nor servname" in lowered:
            return Text(msg.HOST_UNKNOWN)
        return Text(msg.CONNECTION_FAILED, detail=text)
    if isinstance(exc, httpx.RemoteProtocolError):
        return Text(msg.BAD_RESPONSE, detail=text)
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return Text(msg.INVALID_URL_DETAIL, detail=text)
    return Text(msg.NETWORK_ERROR, detail=text)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exceptions behind ``exc``: httpx wraps httpcore, which wraps anyio's OSError."""
    chain: list[BaseException] = []
    current = exc.__cause__ or exc.__context__
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _format_size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g}MB"
    if n >= 1_000:
        return f"{n / 1_000:g}KB"
    return f"{n} bytes"
