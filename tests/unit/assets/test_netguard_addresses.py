"""check_url: which URLs and addresses the guard refuses, and why (no sockets opened)."""

from __future__ import annotations

import socket

import pytest

from autovid.errors import PermanentError
from autovid.netguard import (
    UrlRefusedError,
    UrlResolutionError,
    address_refusal,
    check_url,
    redact_url,
)


def refusal(url: str, **settings: object) -> str:
    options: dict[str, object] = {"allow_private": False, "allow_http": True, **settings}
    with pytest.raises(UrlRefusedError) as caught:
        check_url(url, **options)  # type: ignore[arg-type]
    assert isinstance(caught.value, PermanentError)
    return caught.value.reason


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("[::1]", "loopback"),
        ("169.254.169.254", "link-local"),
        ("[fe80::1]", "link-local"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("224.0.0.251", "multicast"),
        ("[ff02::1]", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("[::]", "unspecified"),
        ("240.0.0.1", "private"),  # reserved, which Python also counts as private
        ("[fd00:ec2::254]", "private"),  # AWS's IPv6 metadata endpoint
        ("[fc00::1]", "private"),
        ("192.0.2.10", "private"),  # documentation range
        ("[::ffff:10.0.0.1]", "private address (10.0.0.1)"),  # IPv4-mapped
        ("[::ffff:169.254.169.254]", "link-local address (169.254.169.254)"),
        ("[2002:7f00:1::]", "loopback address (127.0.0.1)"),  # 6to4
        ("[64:ff9b::a9fe:a9fe]", "link-local address (169.254.169.254)"),  # NAT64
    ],
)
def test_non_public_address_literals_are_refused(host: str, kind: str) -> None:
    assert kind in refusal(f"https://{host}/a.mp3")


def test_metadata_address_names_link_local_and_metadata() -> None:
    reason = refusal("http://169.254.169.254/latest/meta-data/", allow_http=False)

    assert "link-local/metadata addresses" in reason and "not allowed" in reason


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "127.1", "017700000001"])
def test_numeric_spellings_of_loopback_are_refused(host: str) -> None:
    # getaddrinfo reads these like inet_aton does: all are 127.0.0.1
    assert "127.0.0.1, a loopback address" in refusal(f"https://{host}/x")


def test_localhost_is_refused() -> None:
    assert "host 'localhost' resolves to" in refusal("https://localhost/x")


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("ftp://example.com/a.mp3", "ftp"),
        ("file:///etc/passwd", "file"),
        ("gopher://example.com/", "gopher"),
        ("s3://bucket/key", "s3"),
    ],
)
def test_other_schemes_are_refused(url: str, scheme: str) -> None:
    assert f"scheme '{scheme}' is not allowed" in refusal(url)


def test_plain_http_needs_the_setting() -> None:
    assert "plain http://" in refusal("http://93.184.216.34/a.mp3", allow_http=False)
    vetted = check_url("http://93.184.216.34/a.mp3", allow_private=False, allow_http=True)
    assert vetted.port == 80


@pytest.mark.parametrize("url", ["https://93.184.216.34/a.mp3", "https://[2606:4700::1]:8443/a"])
def test_public_literals_pass_with_their_address(url: str) -> None:
    vetted = check_url(url, allow_private=False, allow_http=False)

    assert vetted.addresses == (vetted.host,)


def test_allow_private_lets_everything_through() -> None:
    vetted = check_url("https://10.0.0.1/x", allow_private=True, allow_http=False)

    assert vetted.addresses == ("10.0.0.1",)


def test_allowed_networks_open_just_those_networks() -> None:
    assert check_url(
        "https://10.1.2.3/x", allow_private=False, allow_http=False, allowed_networks=["10.1.0.0/16"]
    )
    assert "private" in refusal("https://10.2.0.1/x", allowed_networks=["10.1.0.0/16"])
    assert "link-local" in refusal("https://169.254.169.254/x", allowed_networks=["10.1.0.0/16"])


def test_a_host_with_any_private_address_is_refused() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.5"]

    reason = refusal("https://cdn.example.com/a.mp3", resolver=resolver)

    assert "host 'cdn.example.com' resolves to 10.0.0.5, a private address" in reason


def test_a_public_host_returns_its_vetted_addresses() -> None:
    def resolver(host: str, port: int) -> list[str]:
        assert (host, port) == ("cdn.example.com", 443)
        return ["93.184.216.34", "2606:2800:220:1::1"]

    vetted = check_url(
        "https://cdn.example.com/a.mp3", allow_private=False, allow_http=False, resolver=resolver
    )

    assert vetted.addresses == ("93.184.216.34", "2606:2800:220:1::1")


def test_a_name_that_does_not_exist_is_permanent() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    assert "does not resolve" in refusal("https://nowhere.example/x", resolver=resolver)


def test_a_temporary_dns_failure_is_retryable() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    with pytest.raises(UrlResolutionError) as caught:
        check_url("https://cdn.example.com/x", allow_private=False, allow_http=False, resolver=resolver)

    assert caught.value.retryable


@pytest.mark.parametrize("url", ["https:///nohost", "not a url at all", ""])
def test_urls_without_a_host_are_refused(url: str) -> None:
    with pytest.raises(UrlRefusedError):
        check_url(url, allow_private=True, allow_http=True)


def test_address_refusal_of_a_public_address_is_none() -> None:
    assert address_refusal("8.8.8.8") is None
    assert address_refusal("::ffff:8.8.8.8") is None
    assert address_refusal("fe80::1%eth0") is not None


def test_redact_url_drops_credentials_and_query() -> None:
    shown = redact_url("https://user:secret@cdn.example.com/a.mp3?X-Amz-Signature=abc#frag")

    assert shown == "https://cdn.example.com/a.mp3"
