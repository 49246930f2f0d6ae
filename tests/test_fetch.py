"""Fetcher and SSRF guard against a real HTTP server on 127.0.0.1 (pytest-httpserver)."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import shutil
import socket
import ssl
import subprocess
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.errors import FetchError
from bot.feeds import ssrf
from bot.feeds.fetch import Fetcher
from bot.feeds.ssrf import check_url

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
HINT = "set fetch.allow_private_addresses: true"


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(timeout=2.0, allow_private_addresses=True) as f:
        yield f


def fake_dns(
    monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]
) -> list[tuple[str, list[str]]]:
    """Make host names resolve from ``table``; return the log of (host, answer) lookups.

    A value may hold several answers separated by "|", consumed one per lookup, to act
    like a rebinding DNS server.
    """
    calls: list[tuple[str, list[str]]] = []

    async def resolve(host: str, port: int) -> list[ssrf.IPAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        answers = table[host]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        calls.append((host, answer.split(",")))
        return [ipaddress.ip_address(a) for a in answer.split(",")]

    monkeypatch.setattr(ssrf, "resolve_host", resolve)
    return calls


# --- conditional GET -----------------------------------------------------------------------


async def test_etag_round_trip_gives_304(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(RSS, headers={"ETag": '"v1"'}, content_type="application/rss+xml")

    httpserver.expect_request("/feed").respond_with_handler(handler)
    url = httpserver.url_for("/feed")

    first = await fetcher.fetch(url)
    assert (first.status, first.body, first.etag) == (200, RSS, '"v1"')
    assert not first.not_modified
    assert first.headers["content-type"] == "application/rss+xml"

    second = await fetcher.fetch(url, etag=first.etag)
    assert second.not_modified
    assert (second.status, second.body, second.etag) == (304, b"", '"v1"')
    assert httpserver.log[-1][0].headers["If-None-Match"] == '"v1"'


async def test_last_modified_round_trip_keeps_validator(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    stamp = "Wed, 21 Oct 2026 07:28:00 GMT"

    def handler(request: Request) -> Response:
        if request.headers.get("If-Modified-Since") == stamp:
            return Response(status=304)  # a 304 need not repeat Last-Modified
        return Response(RSS, headers={"Last-Modified": stamp})

    httpserver.expect_request("/feed").respond_with_handler(handler)
    url = httpserver.url_for("/feed")

    first = await fetcher.fetch(url)
    assert (first.status, first.last_modified, first.etag) == (200, stamp, None)
    second = await fetcher.fetch(url, last_modified=first.last_modified)
    assert second.not_modified
    assert second.last_modified == stamp
    assert "If-None-Match" not in httpserver.log[-1][0].headers


async def test_sends_user_agent_and_only_decodable_encodings(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(RSS)
    async with Fetcher(allow_private_addresses=True, user_agent="probe/1") as f:
        await f.fetch(httpserver.url_for("/feed"))
    sent = httpserver.log[-1][0].headers
    assert sent["User-Agent"] == "probe/1"
    assert sent["Accept-Encoding"] == "gzip, deflate"


# --- decoding and size limits ----------------------------------------------------------------


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 says
        ("deflate", _raw_deflate),  # raw, as many servers send it
        ("gzip", lambda d: gzip.compress(d[:40]) + gzip.compress(d[40:])),  # two members
    ],
)
async def test_compressed_body_is_decoded(
    httpserver: HTTPServer, fetcher: Fetcher, encoding: str, encode: object
) -> None:
    assert callable(encode)
    httpserver.expect_request("/feed").respond_with_data(
        encode(RSS), headers={"Content-Encoding": encoding}
    )
    result = await fetcher.fetch(httpserver.url_for("/feed"))
    assert result.body == RSS


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_compressed_body_split_after_one_byte_is_decoded(
    httpserver: HTTPServer, fetcher: Fetcher, encoding: str
) -> None:
    packed = gzip.compress(RSS) if encoding == "gzip" else zlib.compress(RSS)

    def split(_request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            yield packed[:1]
            time.sleep(0.05)  # so the client reads the first byte on its own
            yield packed[1:] + b"\n"  # plus a stray newline after the stream ends

        return Response(chunks(), headers={"Content-Encoding": encoding})

    httpserver.expect_request("/feed").respond_with_handler(split)
    assert (await fetcher.fetch(httpserver.url_for("/feed"))).body == RSS


async def test_corrupt_compressed_body_is_refused(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        b"this is not gzip", headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(FetchError, match="body is not valid gzip data"):
        await fetcher.fetch(httpserver.url_for("/feed"))


async def test_unknown_content_encoding_is_refused(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        b"\x00", headers={"Content-Encoding": "br"}
    )
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'"):
        await fetcher.fetch(httpserver.url_for("/feed"))


def _gzip_bomb(inflated_mb: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1_000_000)
    return b"".join(packer.compress(block) for _ in range(inflated_mb)) + packer.flush()


async def test_gzip_bomb_is_stopped_without_inflating_it(httpserver: HTTPServer) -> None:
    bomb = _gzip_bomb(200)  # ~200 KB on the wire, 200 MB inflated
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    httpserver.expect_request("/warm").respond_with_data(RSS)
    async with Fetcher(allow_private_addresses=True, max_bytes=1_000_000) as f:
        await f.fetch(httpserver.url_for("/warm"))  # first-use allocations are not the bomb's
        tracemalloc.start()
        try:
            with pytest.raises(FetchError, match="larger than 1MB limit"):
                await f.fetch(httpserver.url_for("/bomb"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # Budget 1 MB: the decoder peaks near 2.3 MB. The bound leaves room for transient
    # allocations of the in-process server thread, which tracemalloc counts too; a decoder
    # that inflated whole 64 KB network chunks would reach ~64 MB, the whole bomb 200 MB.
    assert peak < 20_000_000


async def test_content_length_over_limit_is_refused_before_reading(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 2_000)
    async with Fetcher(allow_private_addresses=True, max_bytes=1_000) as f:
        with pytest.raises(FetchError, match=r"larger than 1KB limit \(Content-Length 2000\)"):
            await f.fetch(httpserver.url_for("/big"))


async def test_streamed_body_over_limit_is_refused(httpserver: HTTPServer) -> None:
    def endless(_request: Request) -> Response:
        # No Content-Length: only the running count can stop this one.
        return Response((b"y" * 10_000 for _ in range(1_000)), content_type="text/xml")

    httpserver.expect_request("/stream").respond_with_handler(endless)
    async with Fetcher(allow_private_addresses=True, max_bytes=50_000) as f:
        with pytest.raises(FetchError, match="larger than 50KB limit") as caught:
            await f.fetch(httpserver.url_for("/stream"))
    assert "Content-Length" not in str(caught.value)


async def test_body_exactly_at_limit_is_accepted(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/edge").respond_with_data(
        gzip.compress(b"z" * 1_000), headers={"Content-Encoding": "gzip"}
    )
    async with Fetcher(allow_private_addresses=True, max_bytes=1_000) as f:
        assert (await f.fetch(httpserver.url_for("/edge"))).body == b"z" * 1_000


# --- time limits and concurrency ---------------------------------------------------------


def _trickle(_request: Request) -> Response:
    def drip() -> Iterator[bytes]:
        for _ in range(30):  # ends by itself after 3 s should the client never hang up
            yield b"<"
            time.sleep(0.1)

    return Response(drip(), content_type="application/rss+xml")


async def test_trickling_server_is_cut_at_total_timeout(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/slow").respond_with_handler(_trickle)
    async with Fetcher(allow_private_addresses=True, timeout=0.5) as f:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"^timed out after 0.5s$"):
            await f.fetch(httpserver.url_for("/slow"))
    # Each byte arrives well within the read timeout; only the total deadline stops it.
    assert time.monotonic() - started < 1.0


async def test_waiting_for_a_free_slot_does_not_count_against_the_deadline(
    httpserver: HTTPServer,
) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(0.4)
        return Response(RSS)

    httpserver.expect_request("/feed").respond_with_handler(slow)
    url = httpserver.url_for("/feed")
    async with Fetcher(allow_private_addresses=True, timeout=0.7, max_connections=1) as f:
        # Three fetches through one slot take ~1.2 s, longer than one deadline of 0.7 s.
        results = await asyncio.gather(*(f.fetch(url) for _ in range(3)))
    assert [r.body for r in results] == [RSS] * 3


# --- status codes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message"), [(404, "HTTP 404 Not Found"), (500, "HTTP 500 Internal Server Error")]
)
async def test_error_status_becomes_fetch_error(
    httpserver: HTTPServer, fetcher: Fetcher, status: int, message: str
) -> None:
    httpserver.expect_request("/feed").respond_with_data("nope", status=status)
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(httpserver.url_for("/feed"))
    assert str(caught.value) == message
    assert caught.value.retry_after is None


async def test_429_retry_after_seconds(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "", status=429, headers={"Retry-After": "120"}
    )
    with pytest.raises(FetchError, match="HTTP 429 Too Many Requests") as caught:
        await fetcher.fetch(httpserver.url_for("/feed"))
    assert caught.value.retry_after == 120.0


async def test_503_retry_after_http_date(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    when = datetime.now(UTC) + timedelta(minutes=10)
    httpserver.expect_request("/feed").respond_with_data(
        "", status=503, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )
    with pytest.raises(FetchError, match="HTTP 503 Service Unavailable") as caught:
        await fetcher.fetch(httpserver.url_for("/feed"))
    assert caught.value.retry_after is not None
    assert 590 <= caught.value.retry_after <= 600


async def test_unreadable_retry_after_is_ignored(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "", status=429, headers={"Retry-After": "soon"}
    )
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(httpserver.url_for("/feed"))
    assert caught.value.retry_after is None


async def test_connection_refused(fetcher: Fetcher) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match="^connection refused$"):
        await fetcher.fetch(f"http://127.0.0.1:{port}/feed")


# --- redirects ---------------------------------------------------------------------------


async def test_redirects_are_followed(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": "/middle"}
    )
    httpserver.expect_request("/middle").respond_with_data(
        "", status=307, headers={"Location": httpserver.url_for("/new")}
    )
    httpserver.expect_request("/new").respond_with_data(RSS)
    result = await fetcher.fetch(httpserver.url_for("/old"))
    assert result.url == httpserver.url_for("/new")
    assert result.body == RSS


async def test_redirect_loop_stops(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/loop").respond_with_data(
        "", status=302, headers={"Location": "/loop"}
    )
    with pytest.raises(FetchError, match=r"too many redirects \(more than 5\)"):
        await fetcher.fetch(httpserver.url_for("/loop"))
    assert len(httpserver.log) == 6


async def test_public_url_redirecting_to_loopback_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"public.example": ["93.184.216.34"]})
    requested: list[str] = []

    def app(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://127.0.0.1:8080/admin"})

    async with Fetcher(transport=httpx.MockTransport(app)) as f:
        with pytest.raises(FetchError, match=f"blocked loopback address 127.0.0.1 \\({HINT}"):
            await f.fetch("http://public.example/feed")
    assert requested == ["http://public.example/feed"]  # the hop to 127.0.0.1 never left


# --- SSRF guard ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1/", "blocked loopback address 127.0.0.1"),
        ("http://10.1.2.3:8080/feed", "blocked private address 10.1.2.3"),
        ("http://192.168.0.1/", "blocked private address 192.168.0.1"),
        ("http://100.64.0.1/", "blocked private address 100.64.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "blocked link-local address 169.254.169.254"),
        ("http://0.0.0.0/", "blocked unspecified address 0.0.0.0"),
        ("http://[::1]/", "blocked loopback address ::1"),
        ("http://[::ffff:127.0.0.1]/", "blocked loopback address 127.0.0.1"),
        ("http://[::ffff:10.0.0.1]/", "blocked private address 10.0.0.1"),
        ("http://[2002:a00:1::]/", "blocked private address 10.0.0.1"),  # 6to4 of 10.0.0.1
        ("http://[64:ff9b::a9fe:a9fe]/", "blocked link-local address 169.254.169.254"),  # NAT64
        ("http://[fd00::1]/", "blocked private address fd00::1"),
        ("http://[fe80::1]/", "blocked link-local address fe80::1"),
        ("http://224.0.0.1/", "blocked multicast address 224.0.0.1"),
        ("http://2130706433/", "blocked loopback address 127.0.0.1"),  # decimal IPv4
        ("http://localhost:9/", "blocked loopback address"),  # from /etc/hosts
        ("file:///etc/passwd", "unsupported URL scheme 'file'"),
        ("ftp://example.org/feed", "unsupported URL scheme 'ftp'"),
        ("gopher://example.org/", "unsupported URL scheme 'gopher'"),
        ("http://user:secret@example.org/", "URLs with a user name or password are not allowed"),
        ("example.org/feed", "URL 'example.org/feed' needs http:// or https:// in front"),
        ("http:///feed", "has no host"),
    ],
)
async def test_check_url_refuses(url: str, message: str) -> None:
    with pytest.raises(FetchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await check_url(url, allow_private=False)


async def test_blocked_message_tells_what_to_set() -> None:
    with pytest.raises(FetchError) as caught:
        await check_url("http://10.0.0.1/", allow_private=False)
    assert str(caught.value) == (
        "blocked private address 10.0.0.1 "
        "(set fetch.allow_private_addresses: true for feeds on your own network)"
    )


async def test_check_url_names_the_host_and_refuses_mixed_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"mixed.example": ["93.184.216.34,10.0.0.7"]})
    with pytest.raises(
        FetchError, match=r"blocked private address 10.0.0.7 \(host mixed.example\)"
    ):
        await check_url("https://mixed.example/feed", allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/feed",
        "https://[2606:2800:220:1::]/",
        "http://[::ffff:93.184.216.34]/",
        "http://10.0.0.1/",
    ],
)
async def test_check_url_passes_public_or_allowed(url: str) -> None:
    # IP literals: no lookup and no connection happen here.
    await check_url(url, allow_private=url.startswith("http://10."))


async def test_check_url_still_refuses_bad_schemes_when_private_allowed() -> None:
    with pytest.raises(FetchError, match="unsupported URL scheme 'file'"):
        await check_url("file:///etc/passwd", allow_private=True)


async def test_fetch_of_blocked_address_never_connects(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(RSS)
    async with Fetcher(allow_private_addresses=False) as f:
        with pytest.raises(FetchError, match="blocked loopback address 127.0.0.1"):
            await f.fetch(httpserver.url_for("/feed"))
    assert httpserver.log == []


async def test_dns_rebinding_after_the_check_is_refused_at_connect(
    monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    # The name answers a public address to check_url, then 127.0.0.1 to the connect.
    calls = fake_dns(monkeypatch, {"rebind.example": ["93.184.216.34", "127.0.0.1"]})
    httpserver.expect_request("/feed").respond_with_data(RSS)
    async with Fetcher(allow_private_addresses=False) as f:
        with pytest.raises(FetchError, match=r"blocked loopback address 127.0.0.1 \(host rebind"):
            await f.fetch(f"http://rebind.example:{httpserver.port}/feed")
    assert [answer for _host, answer in calls] == [["93.184.216.34"], ["127.0.0.1"]]
    assert httpserver.log == []


async def test_connection_goes_to_the_checked_address_with_the_original_host(
    monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    fake_dns(monkeypatch, {"feeds.internal": ["127.0.0.1"]})
    httpserver.expect_request("/feed").respond_with_data(RSS)
    async with Fetcher(allow_private_addresses=True) as f:
        result = await f.fetch(f"http://feeds.internal:{httpserver.port}/feed")
    assert result.body == RSS
    assert httpserver.log[0][0].headers["Host"] == f"feeds.internal:{httpserver.port}"


async def test_unresolvable_host(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_answer(_host: str, _port: int, **_kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    # Patch the loop's lookup itself, so the real resolve_host runs without touching DNS.
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", no_answer)
    with pytest.raises(FetchError, match="cannot resolve host nowhere.invalid"):
        await check_url("http://nowhere.invalid/", allow_private=False)


# --- TLS through the pinned address ------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HTTPServer, str]]:
    """An HTTPS server on 127.0.0.1 whose self-signed certificate names feeds.internal."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=feeds.internal", "-addext", "subjectAltName=DNS:feeds.internal",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    try:
        yield server, str(cert)
    finally:
        server.stop()


@pytest.fixture
def trust_test_cert(monkeypatch: pytest.MonkeyPatch, tls_server: tuple[HTTPServer, str]) -> None:
    monkeypatch.setattr(
        httpx, "create_ssl_context", lambda **_kw: ssl.create_default_context(cafile=tls_server[1])
    )


@pytest.mark.usefixtures("trust_test_cert")
async def test_tls_verifies_the_name_while_connecting_to_the_checked_ip(
    monkeypatch: pytest.MonkeyPatch, tls_server: tuple[HTTPServer, str]
) -> None:
    server, _cert = tls_server
    server.expect_request("/feed").respond_with_data(RSS)
    fake_dns(monkeypatch, {"feeds.internal": ["127.0.0.1"], "other.internal": ["127.0.0.1"]})
    async with Fetcher(allow_private_addresses=True, timeout=2.0) as f:
        result = await f.fetch(f"https://feeds.internal:{server.port}/feed")
        assert result.body == RSS
        # Same IP, name not on the certificate: the pinned connection must still fail.
        with pytest.raises(FetchError, match="^TLS error: .*(?i:hostname|certificate)"):
            await f.fetch(f"https://other.internal:{server.port}/feed")
    server.clear()
