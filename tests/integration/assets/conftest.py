"""Real servers for the asset tests: HTTP(S) on 127.0.0.x (random port) and moto's S3 server.

Test modules are imported in importlib mode, so they reach these helpers through fixtures (and
import the names only for type checking).
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingServer:
    """A threaded HTTP server that answers through ``routes`` and records every request."""

    host: str = "127.0.0.1"
    ssl_context: ssl.SSLContext | None = None
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    sni_names: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd = _Server((self.host, 0), _handler_class(self))
        if self.ssl_context is not None:
            self.ssl_context.sni_callback = self._record_sni
            self._httpd.socket = self.ssl_context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str, *, host: str | None = None) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def count(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for s in self.seen if path is None or s.path.split("?")[0] == path)

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    # routes: what the server answers on a path
    def serve(
        self, path: str, body: bytes, *, content_type: str = "application/octet-stream", length: bool = True
    ) -> None:
        self.routes[path] = serve_bytes(body, content_type=content_type, length=length)

    def fail_then_serve(self, path: str, status: int, failures: int, body: bytes) -> None:
        self.routes[path] = fail_then_serve(status, failures, body)

    def always(self, path: str, status: int) -> None:
        self.routes[path] = always(status)

    def slow(self, path: str, delay_s: float, body: bytes) -> None:
        self.routes[path] = slow(delay_s, body)

    def drip(self, path: str, chunk: bytes, chunks: int, interval_s: float) -> None:
        self.routes[path] = drip(chunk, chunks, interval_s)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = redirect(location, status)

    def _record_sni(self, _sock: object, name: str | None, _ctx: object) -> None:
        self.sni_names.append(name)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up on purpose (size cap, timeouts) are not errors here


def _handler_class(server: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server.record(Seen(self.command, self.path, dict(self.headers.items()), body))
            route = server.routes.get(self.path.split("?")[0])
            if route is None:
                send_status(self, 404)
            else:
                route(self)

        do_GET = do_POST = do_PUT = _dispatch

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


# --- routes ------------------------------------------------------------------------------------


def send_status(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"") -> None:
    handler.send_response(status)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def serve_bytes(body: bytes, *, content_type: str = "application/octet-stream", length: bool = True) -> Route:
    """200 with ``body``; without ``length`` the body ends when the connection closes (HTTP/1.0)."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        if length:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for start in range(0, len(body), 8192):
            handler.wfile.write(body[start : start + 8192])

    return route


def fail_then_serve(status: int, failures: int, body: bytes) -> Route:
    remaining = [failures]

    def route(handler: BaseHTTPRequestHandler) -> None:
        if remaining[0] > 0:
            remaining[0] -= 1
            send_status(handler, status, b"try later")
        else:
            serve_bytes(body)(handler)

    return route


def always(status: int) -> Route:
    return lambda handler: send_status(handler, status, b"no")


def slow(delay_s: float, body: bytes) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(delay_s)
        serve_bytes(body)(handler)

    return route


def drip(chunk: bytes, chunks: int, interval_s: float) -> Route:
    """A slow but steady body: ``chunks`` pieces, one every ``interval_s``."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(chunk) * chunks))
        handler.end_headers()
        for _ in range(chunks):
            handler.wfile.write(chunk)
            handler.wfile.flush()
            time.sleep(interval_s)

    return route


def redirect(location: str, status: int = 302) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


# --- TLS ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path
    hostname: str

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context


def make_certificates(folder: Path) -> Certificates:
    """A throw-away CA and a server certificate for ``assets.test``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "autovid test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    hostname = "assets.test"
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key", hostname)
    paths.ca_file.write_bytes(ca_cert.public_bytes(pem))
    paths.cert_file.write_bytes(cert.public_bytes(pem))
    paths.key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def fixed_resolver(names: dict[str, str]) -> Callable[[str, int], list[str]]:
    """A DNS stand-in: these names resolve to these addresses, all others do not exist."""

    def resolve(host: str, port: int) -> list[str]:
        if host in names:
            return [names[host]]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    return resolve


# --- S3 (moto server mode) ---------------------------------------------------------------------


@dataclass(frozen=True)
class S3Endpoint:
    url: str

    def client(self, **config: object) -> object:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(**config) if config else None,  # type: ignore[arg-type]
        )


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    server = RecordingServer()
    yield server
    server.close()


@pytest.fixture
def second_loopback_server() -> Iterator[RecordingServer]:
    """A server on 127.0.0.2: loopback, but outside an allow-list of 127.0.0.1/32."""
    try:
        server = RecordingServer(host="127.0.0.2")
    except OSError as exc:
        pytest.skip(f"cannot bind 127.0.0.2 here: {exc}")
    yield server
    server.close()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_server(certificates: Certificates) -> Iterator[RecordingServer]:
    server = RecordingServer(ssl_context=certificates.server_context())
    yield server
    server.close()


@pytest.fixture
def resolver_for() -> Callable[[dict[str, str]], Callable[[str, int], list[str]]]:
    return fixed_resolver


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield S3Endpoint(f"http://{host}:{port}")
    server.stop()


@pytest.fixture
def closed_port() -> int:
    return free_port()
