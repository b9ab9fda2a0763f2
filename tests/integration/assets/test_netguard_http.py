"""The network guard on real sockets: pinned connections, DNS rebinding, guarded_request."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest

from autovid.netguard import GuardedClient, UrlRefusedError, guarded_request

if TYPE_CHECKING:  # fixtures come from conftest.py (importlib mode: no imports at run time)
    from conftest import Certificates, RecordingServer

    Resolve = Callable[[dict[str, str]], Callable[[str, int], list[str]]]

PUBLIC_ADDRESS = "93.184.216.34"


def rebinding_resolver(first: str, then: str) -> Callable[[str, int], list[str]]:
    """A hostile DNS: a public answer for the first lookup, a private one afterwards."""
    answers = [first]

    def resolve(host: str, port: int) -> list[str]:
        if host != "rebind.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = answers[-1]
        answers.append(then)
        return [answer]

    return resolve


def test_dns_rebinding_between_check_and_connect_is_refused(http_server: RecordingServer) -> None:
    http_server.serve("/hook", b"ok")
    url = f"http://rebind.test:{http_server.port}/hook"
    resolver = rebinding_resolver(first=PUBLIC_ADDRESS, then="127.0.0.1")

    with GuardedClient(allow_private=False, allow_http=True, timeout_s=2, resolver=resolver) as client:
        client.check(url)  # the first answer is public: the check passes
        with pytest.raises(UrlRefusedError) as caught:
            client.get(url)  # the connect resolves again and vets what it connects to

    assert "127.0.0.1" in str(caught.value) and "loopback" in str(caught.value)
    assert http_server.count() == 0


def test_a_plain_client_call_on_a_guarded_client_is_vetted(http_server: RecordingServer) -> None:
    http_server.serve("/x", b"ok")

    client = GuardedClient(allow_private=False, allow_http=True, timeout_s=2)
    with client, pytest.raises(UrlRefusedError):
        client.get(http_server.url("/x"))  # no check_url first: the transport still refuses

    assert http_server.count() == 0


def test_pinned_connection_keeps_the_host_header(http_server: RecordingServer, resolver_for: Resolve) -> None:
    http_server.serve("/x", b"ok")

    with GuardedClient(
        allow_private=False,
        allow_http=True,
        timeout_s=2,
        allowed_networks=["127.0.0.1/32"],
        resolver=resolver_for({"assets.test": "127.0.0.1"}),
    ) as client:
        response = client.get(f"http://assets.test:{http_server.port}/x")

    assert response.status_code == 200
    assert http_server.received()[0].headers["Host"] == f"assets.test:{http_server.port}"


def test_tls_uses_the_host_name_for_sni_and_verification(
    https_server: RecordingServer, certificates: Certificates, resolver_for: Resolve
) -> None:
    https_server.serve("/x", b"ok")

    with GuardedClient(
        allow_private=False,
        allow_http=False,
        timeout_s=2,
        allowed_networks=["127.0.0.1/32"],
        resolver=resolver_for({certificates.hostname: "127.0.0.1"}),
        verify=certificates.client_context(),
    ) as client:
        response = client.get(https_server.url("/x", host=certificates.hostname))

    assert response.status_code == 200
    assert https_server.sni_names == [certificates.hostname]


def test_guarded_request_posts_like_a_webhook(http_server: RecordingServer) -> None:
    http_server.always("/hook", 204)
    body = {"jobId": "j1", "status": "completed"}

    with GuardedClient(
        allow_private=False, allow_http=True, timeout_s=2, allowed_networks=["127.0.0.1/32"]
    ) as client:
        response = guarded_request(
            client,
            "POST",
            http_server.url("/hook"),
            allow_private=False,
            allow_http=True,
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-Custom": "yes"},
        )

    assert response.status_code == 204
    seen = http_server.received()[0]
    assert (seen.method, json.loads(seen.body), seen.headers["X-Custom"]) == ("POST", body, "yes")


def test_guarded_request_refuses_loopback_before_connecting(http_server: RecordingServer) -> None:
    http_server.always("/hook", 204)

    with pytest.raises(UrlRefusedError) as caught:
        guarded_request(None, "POST", http_server.url("/hook"), allow_private=False, allow_http=True)

    assert "loopback" in caught.value.reason
    assert http_server.count() == 0


def test_guarded_request_does_not_follow_redirects(http_server: RecordingServer) -> None:
    http_server.redirect("/hook", "http://169.254.169.254/latest/meta-data/")

    response = guarded_request(None, "PUT", http_server.url("/hook"), allow_private=True, allow_http=True)

    assert response.status_code == 302  # handed back to the caller, not followed


def test_guarded_request_with_development_setting_reaches_loopback(http_server: RecordingServer) -> None:
    http_server.always("/hook", 200)

    response = guarded_request(None, "POST", http_server.url("/hook"), allow_private=True, allow_http=True)

    assert response.status_code == 200


def test_guarded_request_refuses_a_plain_httpx_client(http_server: RecordingServer) -> None:
    with httpx.Client() as plain, pytest.raises(TypeError):
        guarded_request(plain, "POST", http_server.url("/hook"), allow_private=True, allow_http=True)

    assert http_server.count() == 0


def test_connection_refused_is_a_transport_error(closed_port: int) -> None:
    with pytest.raises(httpx.ConnectError):
        guarded_request(
            None, "POST", f"http://127.0.0.1:{closed_port}/hook", allow_private=True, allow_http=True
        )
