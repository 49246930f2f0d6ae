"""SSRF guard: feeds may only reach public addresses unless the operator allows private ones.

Anyone who can type ``addfeed URL`` in a chat could otherwise make the bot fetch
``http://169.254.169.254/`` (cloud metadata), ``http://127.0.0.1:8080/`` or a router's admin
page, and read the answer back through ``status`` or an alert. Two layers stop that:

1. :func:`check_url` runs before every request and every redirect hop. It refuses
   non-HTTP schemes and URLs with credentials, resolves the host and refuses blocked
   addresses, so the user gets a clear message early.
2. :class:`GuardedNetworkBackend` runs when the socket is opened. It resolves the host
   again, validates every address and connects to the validated IP itself. This closes the
   DNS-rebinding gap between the check and the connection (a host that answers a public IP
   to the check and 127.0.0.1 to the connect). TLS still verifies the original host name,
   because httpcore passes the origin host as ``server_hostname`` after connecting.

A transport injected into the fetcher (tests, custom setups) skips layer 2 and keeps layer 1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

import httpcore
import httpx

from bot.errors import FetchError
from bot.feeds import messages as msg
from bot.feeds.limits import LINK_MAX
from bot.i18n import Text

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_ALLOWED_SCHEMES = frozenset({"http", "https"})
# NAT64 (RFC 6052) embeds an IPv4 address in the low 32 bits; a private one behind it is
# as private as the bare address.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Resolve ``host`` to its IP addresses without blocking the event loop.

    Args:
        host: A host name or an IP literal (IPv6 without brackets).
        port: The port, passed to getaddrinfo so service-specific answers apply.

    Returns:
        The distinct addresses in resolver order.

    Raises:
        FetchError: The name does not resolve.
    """
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(Text(msg.HOST_UNRESOLVED, host=host)) from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]))
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FetchError(Text(msg.HOST_UNRESOLVED, host=host))
    return addresses


def blocked_reason(address: IPAddress) -> tuple[str, IPAddress] | None:
    """Say why ``address`` is not public, or return None when it is.

    IPv6 forms that carry an IPv4 address (IPv4-mapped, 6to4, NAT64) are judged by the
    IPv4 address inside too, so ``::ffff:127.0.0.1`` counts as loopback.

    Args:
        address: The address to judge.

    Returns:
        A short adjective such as ``"loopback"`` or ``"private"`` and the address it
        applies to (the embedded IPv4 address, if that is the blocked one), or None.
    """
    for candidate in _with_embedded_ipv4(address):
        reason = _classify(candidate)
        if reason is not None:
            return reason, candidate
    return None


def _with_embedded_ipv4(address: IPAddress) -> Iterable[IPAddress]:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            # The kernel connects to the IPv4 address itself: judge that alone.
            yield address.ipv4_mapped
            return
        if address.sixtofour is not None:
            yield address.sixtofour
        if address in _NAT64:
            yield ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    yield address


def _classify(address: IPAddress) -> str | None:
    # Order matters only for the wording: the most specific reason comes first.
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    # is_global also excludes shared (CGNAT 100.64/10), documentation and benchmark ranges.
    if address.is_private or not address.is_global:
        return "private"
    return None


def ensure_allowed(host: str, addresses: Iterable[IPAddress], *, allow_private: bool) -> None:
    """Refuse the host when any of its addresses is not public.

    One bad address is enough: a name that mixes public and private answers is either
    misconfigured or an attack, and the connection could land on either.

    Args:
        host: The host name, for the message.
        addresses: Its resolved addresses.
        allow_private: The operator's ``fetch.allow_private_addresses`` setting.

    Raises:
        FetchError: An address is blocked.
    """
    if allow_private:
        return
    for address in addresses:
        blocked = blocked_reason(address)
        if blocked is None:
            continue
        reason, judged = blocked
        named = not _is_literal_of(host, judged)  # a host name, or an address behind it
        via = judged != address and not _is_literal_of(host, address)
        raise FetchError(
            Text(
                (msg.BLOCKED_HOST_VIA if via else msg.BLOCKED_HOST)
                if named
                else (msg.BLOCKED_VIA if via else msg.BLOCKED),
                kind=Text(msg.ADDRESS_KINDS[reason]),
                address=judged,
                host=host,
                via=address,
                hint=Text(msg.PRIVATE_HINT),
            )
        )


def _is_literal_of(host: str, address: IPAddress) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")) == address
    except ValueError:
        return False


async def check_url(url: str, *, allow_private: bool) -> httpx.URL:
    """Refuse a URL the bot must not fetch, before any connection is made.

    Args:
        url: The absolute URL about to be requested (first request or redirect hop).
        allow_private: When True, private, loopback and other non-public addresses pass.

    Returns:
        The URL, parsed: the request is made to what was checked.

    Raises:
        FetchError: The URL is too long to store, the scheme is not http(s), the URL
            carries credentials, the host does not resolve, or it resolves to a blocked
            address.
    """
    if len(url) > LINK_MAX:
        raise FetchError(Text(msg.URL_TOO_LONG, length=len(url), limit=LINK_MAX))
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(Text(msg.INVALID_URL, url=url, detail=exc)) from exc
    if not parsed.scheme:
        raise FetchError(Text(msg.NO_SCHEME, url=url))
    if parsed.scheme not in _ALLOWED_SCHEMES:
        raise FetchError(Text(msg.BAD_SCHEME, scheme=parsed.scheme))
    if parsed.userinfo:
        raise FetchError(Text(msg.CREDENTIALS))
    if not parsed.host:
        raise FetchError(Text(msg.NO_HOST, url=url))
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = await resolve_host(parsed.host, port)
    ensure_allowed(parsed.host, addresses, allow_private=allow_private)
    return parsed


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to validated addresses.

    It resolves the host itself, refuses it if any address is blocked, and then connects
    to the validated IPs in resolver order, so the address that was checked is the address
    that is used.
    """

    def __init__(self, *, allow_private: bool) -> None:
        """Create the backend.

        Args:
            allow_private: When True, non-public addresses are allowed.
        """
        self._allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve, validate, then connect to the first address that answers."""
        addresses = await resolve_host(host.strip("[]"), port)
        ensure_allowed(host, addresses, allow_private=self._allow_private)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # resolve_host never returns an empty list
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Refuse: feeds are never read from a local socket."""
        raise FetchError(Text(msg.UNIX_SOCKET))

    async def sleep(self, seconds: float) -> None:
        """Sleep, as the connection pool's retry logic asks."""
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport with its connection pool rebuilt on a guarded backend.

    httpx offers no public hook for the network backend, so the pool is replaced right
    after construction. The attribute check makes an httpx upgrade that renames it fail
    loudly instead of silently dropping the guard.
    """

    def __init__(self, *, allow_private: bool, limits: httpx.Limits) -> None:
        """Create the transport.

        Args:
            allow_private: When True, non-public addresses are allowed.
            limits: Pool size and keep-alive limits.
        """
        ssl_context = httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("httpx internals changed: cannot install the SSRF guard")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(allow_private=allow_private),
        )
