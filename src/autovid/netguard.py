"""Outbound HTTP guard: no requests to private, loopback or link-local addresses (SSRF defence).

Asset URLs and webhook URLs come from clients, so a URL such as
``http://169.254.169.254/latest/meta-data/`` must never be fetched from inside the deployment.

Two layers:

* ``check_url`` parses a URL the way httpx will, requires ``https`` (or ``http`` when allowed),
  resolves the host and refuses it when ANY of its addresses is not public. It gives a clear error
  before any connection is made.
* ``GuardedClient`` (an ``httpx.Client`` with ``GuardedTransport``) re-resolves and re-vets the
  host at connect time and connects to exactly the address it vetted. The URL keeps its host name,
  so the ``Host`` header, TLS SNI and certificate verification all use the name while the socket
  goes to the vetted IP: a DNS answer that changes between the check and the connect (DNS
  rebinding) cannot smuggle a private address in. It never follows redirects by itself and ignores
  proxy environment variables (a proxy would connect on our behalf, unvetted).

``guarded_request`` combines both for one-shot requests such as webhooks.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from autovid.errors import PermanentError, RetryableError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
"""``resolver(host, port) -> addresses`` (strings); the default uses ``socket.getaddrinfo``."""

_SHARED_NETWORK = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix embeds IPv4
_PUBLIC_ONLY = "only public internet addresses are allowed"
_LINK_LOCAL_RULE = (
    "link-local/metadata addresses (169.254.0.0/16, fe80::/10, where cloud metadata services live) "
    "are not allowed"
)


class UrlRefusedError(PermanentError):
    """The URL may not be requested: bad scheme, unresolvable host or a non-public address."""

    def __init__(self, target: str, reason: str) -> None:
        self.target = target
        self.reason = reason
        super().__init__(f"{target}: {reason}")


class UrlResolutionError(RetryableError):
    """The host name could not be resolved right now (a temporary DNS failure)."""

    def __init__(self, host: str, reason: str) -> None:
        self.host = host
        self.reason = reason
        super().__init__(f"cannot resolve host '{host}': {reason}")


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses outbound requests may reach.

    ``allow_private`` (development only) allows everything. ``allowed_networks`` allows just these
    networks, e.g. an internal asset server, while every other non-public address stays refused.
    """

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def of(cls, *, allow_private: bool, allowed_networks: Iterable[str | IPNetwork] = ()) -> AddressPolicy:
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks)
        return cls(allow_private=allow_private, allowed_networks=networks)

    def refusal(self, address: str) -> str | None:
        """Why ``address`` may not be contacted, or None when it may."""
        ip = _parse_ip(address)
        if self.allow_private or any(ip in network for network in self.allowed_networks):
            return None
        return address_refusal(ip)


def address_refusal(address: str | IPAddress) -> str | None:
    """Why a non-public address is refused, e.g. "a loopback address; only public internet addresses
    are allowed", or None for a public address."""
    ip = _parse_ip(address) if isinstance(address, str) else address
    reached = _embedded_ipv4(ip)
    kind = _address_kind(reached)
    if kind is None:
        return None
    embedded = f" ({reached})" if reached != ip else ""
    rule = _LINK_LOCAL_RULE if kind == "link-local" else _PUBLIC_ONLY
    return f"a {kind} address{embedded}; {rule}"


def _address_kind(ip: IPAddress) -> str | None:
    # Order matters: the most specific and most telling name first.
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip in _SHARED_NETWORK:
        return "shared (carrier-grade NAT)"
    if ip.is_private or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local):
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-public"
    return None


def _embedded_ipv4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address really reaches (mapped, 6to4, NAT64), else ``ip`` itself."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64_NETWORK:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _parse_ip(address: str) -> IPAddress:
    # getaddrinfo may append an IPv6 zone ("fe80::1%eth0"); the zone does not change the kind.
    return ipaddress.ip_address(address.split("%", 1)[0])


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, as getaddrinfo (and so the socket layer) sees it."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def resolve_host(host: str, port: int, resolver: Resolver | None = None) -> list[str]:
    """Resolve ``host``; ``UrlRefusedError`` when it does not exist, ``UrlResolutionError`` when
    DNS failed temporarily."""
    try:
        addresses = list((resolver or system_resolver)(host, port))
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise UrlResolutionError(host, str(exc)) from exc
        raise UrlRefusedError(host, f"host '{host}' does not resolve ({exc.strerror})") from exc
    except (OSError, UnicodeError) as exc:
        raise UrlRefusedError(host, f"host '{host}' cannot be resolved ({exc})") from exc
    if not addresses:
        raise UrlRefusedError(host, f"host '{host}' resolves to no address")
    return addresses


@dataclass(frozen=True)
class VettedUrl:
    url: httpx.URL
    host: str
    port: int
    addresses: tuple[str, ...]


def redact_url(url: str | httpx.URL) -> str:
    """The URL without credentials, query or fragment (pre-signed URLs carry secrets there)."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid URL>"
    return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))


def check_url(
    url: str | httpx.URL,
    *,
    allow_private: bool,
    allow_http: bool,
    allowed_networks: Iterable[str | IPNetwork] = (),
    resolver: Resolver | None = None,
) -> VettedUrl:
    """Vet ``url`` for an outbound request and return its host, port and resolved addresses.

    Raises ``UrlRefusedError`` for a scheme other than https (http only with ``allow_http``), a
    missing or unresolvable host, or a host with any address that is private, loopback,
    link-local (cloud metadata), multicast, reserved, unspecified or shared — including IPv4-mapped,
    6to4 and NAT64 forms of those — unless ``allow_private`` (or ``allowed_networks``) allows it.
    Raises ``UrlResolutionError`` (retryable) when DNS fails temporarily.
    """
    policy = AddressPolicy.of(allow_private=allow_private, allowed_networks=allowed_networks)
    return _check_url(url, policy=policy, allow_http=allow_http, resolver=resolver)


def _check_url(
    url: str | httpx.URL, *, policy: AddressPolicy, allow_http: bool, resolver: Resolver | None
) -> VettedUrl:
    parsed = _parse_url(url)
    shown = redact_url(parsed)
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    literal = _ip_literal(host)
    if literal is not None:
        # Refuse a private literal before the scheme so the reason names the real danger.
        _refuse_if_blocked(shown, host, [literal], policy)
    if parsed.scheme == "http" and not allow_http:
        raise UrlRefusedError(shown, "plain http:// URLs are not allowed; use https://")
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolve_host(host, port, resolver)
        except UrlRefusedError as exc:
            raise UrlRefusedError(shown, exc.reason) from exc
        _refuse_if_blocked(shown, host, addresses, policy)
    return VettedUrl(url=parsed, host=host, port=port, addresses=tuple(addresses))


def _parse_url(url: str | httpx.URL) -> httpx.URL:
    # Parse with httpx itself so the vetted host is exactly the host httpx will connect to.
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UrlRefusedError("<invalid URL>", f"not a valid URL ({exc})") from exc
    if parsed.scheme not in ("https", "http"):
        scheme = parsed.scheme or "(none)"
        shown = str(url)[:100]
        raise UrlRefusedError(shown, f"URL scheme '{scheme}' is not allowed; use https:// (or s3://)")
    if not parsed.host:
        raise UrlRefusedError(redact_url(parsed), "the URL has no host")
    return parsed


def _ip_literal(host: str) -> str | None:
    try:
        return str(_parse_ip(host))
    except ValueError:
        return None


def _refuse_if_blocked(shown: str, host: str, addresses: Sequence[str], policy: AddressPolicy) -> None:
    literal = _ip_literal(host) is not None
    for address in addresses:
        reason = policy.refusal(address)
        if reason is not None:
            subject = f"{address} is" if literal else f"host '{host}' resolves to {address},"
            raise UrlRefusedError(shown, f"{subject} {reason}")


class _PinnedNetworkBackend(httpcore.NetworkBackend):
    """Resolves and vets the host at connect time, then connects to the vetted address itself."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver | None) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._vetted_addresses(host, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    def _vetted_addresses(self, host: str, port: int) -> list[str]:
        literal = _ip_literal(host)
        try:
            addresses = [literal] if literal is not None else resolve_host(host, port, self._resolver)
        except UrlResolutionError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        _refuse_if_blocked(f"{host}:{port}", host, addresses, self._policy)
        return addresses

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed for outbound requests")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport whose every connection goes to a vetted address (see module doc)."""

    def __init__(
        self,
        *,
        allow_private: bool,
        allowed_networks: Iterable[str | IPNetwork] = (),
        resolver: Resolver | None = None,
        verify: Any = True,
        limits: httpx.Limits = httpx.Limits(max_connections=20, max_keepalive_connections=10),
    ) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self.policy = AddressPolicy.of(allow_private=allow_private, allowed_networks=allowed_networks)
        # httpx builds its pool without a way to pass a network backend; rebuild it with ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedNetworkBackend(self.policy, resolver),
        )


class GuardedClient(httpx.Client):
    """An ``httpx.Client`` that only reaches vetted addresses, never follows redirects by itself and
    ignores proxy environment variables. Thread-safe; close it (or use ``with``) when done."""

    def __init__(
        self,
        *,
        allow_private: bool,
        allow_http: bool,
        timeout_s: float,
        allowed_networks: Iterable[str | IPNetwork] = (),
        resolver: Resolver | None = None,
        verify: Any = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        networks = tuple(allowed_networks)
        transport = GuardedTransport(
            allow_private=allow_private, allowed_networks=networks, resolver=resolver, verify=verify
        )
        super().__init__(
            transport=transport,
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            trust_env=False,
            headers=headers,
        )
        self.policy = transport.policy
        self.allow_http = allow_http
        self.resolver = resolver

    def check(self, url: str | httpx.URL) -> VettedUrl:
        """``check_url`` with this client's settings."""
        return _check_url(url, policy=self.policy, allow_http=self.allow_http, resolver=self.resolver)


def guarded_request(
    client: GuardedClient | None,
    method: str,
    url: str,
    *,
    allow_private: bool,
    allow_http: bool,
    timeout_s: float = 30.0,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request (body read) to ``url`` after vetting it; redirects are not followed.

    ``client`` must be a ``GuardedClient`` (reuse one across attempts) or None for a throw-away one
    built with ``timeout_s``. ``kwargs`` go to ``httpx.Client.request`` (``content``, ``json``,
    ``headers``, ``timeout``…). Raises ``UrlRefusedError`` (permanent) before any connection when the
    URL is not allowed, ``UrlResolutionError`` on a temporary DNS failure, and httpx's own errors
    (``httpx.TimeoutException``, ``httpx.TransportError``) for network failures; HTTP error statuses
    are returned, not raised.
    """
    if client is not None and not isinstance(client, GuardedClient):
        raise TypeError("guarded_request needs a GuardedClient (a plain httpx.Client is not pinned)")
    check_url(
        url,
        allow_private=allow_private,
        allow_http=allow_http,
        allowed_networks=client.policy.allowed_networks if client is not None else (),
        resolver=client.resolver if client is not None else None,
    )
    kwargs["follow_redirects"] = False
    if client is not None:
        return client.request(method, url, **kwargs)
    with GuardedClient(allow_private=allow_private, allow_http=allow_http, timeout_s=timeout_s) as own:
        return own.request(method, url, **kwargs)
