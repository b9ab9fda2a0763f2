"""Fixtures shared by every test folder."""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


# What the core (spec, render, jobs, assets, captions, templates, speech) never imports: vendor
# SDKs, web servers, the database driver and the wiring; it reaches them through the ports.
OUTSIDE_THE_CORE = (
    "boto3",
    "botocore",
    "httpx",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlite3",
    "autovid.adapters",
    "autovid.entrypoints",
    "autovid.bootstrap",
)


@pytest.fixture(scope="session", autouse=True)
def _own_user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The suite's CLI renders (in-process and in subprocesses) keep their speech and AAC
    segments in a cache of their own, not in the user's ``~/.cache/autovid``."""
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if saved is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved


@pytest.fixture(scope="session")
def outside_the_core() -> tuple[str, ...]:
    return OUTSIDE_THE_CORE


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared folder (real third-party media, reference specs); skip when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: real-media tests need ../shared beside the repository")
    return SHARED


@pytest.fixture(scope="session")
def reference_specs(shared_dir: Path) -> list[Path]:
    specs = sorted((shared_dir / "reference-specs").glob("*.json"))
    if not specs:
        pytest.skip("no reference specs in ../shared/reference-specs")
    return specs


# --- hostile media -----------------------------------------------------------------------------


class _Bits:
    """An H.264 RBSP as a string of '0'/'1' characters, read with the spec's u(n) and ue(v)."""

    def __init__(self, data: bytes) -> None:
        self.bits = "".join(f"{byte:08b}" for byte in data)
        self.pos = 0

    def u(self, n: int) -> int:
        value = int(self.bits[self.pos : self.pos + n] or "0", 2)
        self.pos += n
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bits[self.pos] == "0":
            zeros += 1
            self.pos += 1
        self.pos += 1
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


def _ue_bits(value: int) -> str:
    binary = bin(value + 1)[2:]
    return "0" * (len(binary) - 1) + binary


def _escape(rbsp: bytes) -> bytes:
    """Insert the emulation-prevention bytes a NAL unit needs (00 00 0x -> 00 00 03 0x)."""
    out, zeros = bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


_HIGH_PROFILES = (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135)


def rewrite_sps_frame_size(sps: bytes, width: int, height: int) -> bytes:
    """The SPS NAL unit ``sps`` declaring ``width`` x ``height`` (multiples of 16) instead."""
    rbsp = _Bits(sps[1:].replace(b"\x00\x00\x03", b"\x00\x00"))
    profile = rbsp.u(8)
    rbsp.u(16)  # constraint flags, level
    rbsp.ue()  # seq_parameter_set_id
    if profile in _HIGH_PROFILES:
        if rbsp.ue() == 3:
            rbsp.u(1)
        rbsp.ue(), rbsp.ue(), rbsp.u(1)
        assert rbsp.u(1) == 0, "scaling matrices are not handled"
    rbsp.ue()  # log2_max_frame_num_minus4
    poc_type = rbsp.ue()
    if poc_type == 0:
        rbsp.ue()
    elif poc_type == 1:
        rbsp.u(1), rbsp.se(), rbsp.se()
        for _ in range(rbsp.ue()):
            rbsp.se()
    rbsp.ue(), rbsp.u(1)  # max_num_ref_frames, gaps_in_frame_num_allowed
    start = rbsp.pos
    rbsp.ue(), rbsp.ue()  # pic_width_in_mbs_minus1, pic_height_in_map_units_minus1
    size_bits = _ue_bits(width // 16 - 1) + _ue_bits(height // 16 - 1)
    bits = (rbsp.bits[:start] + size_bits + rbsp.bits[rbsp.pos :]).rstrip("0")  # keep the stop bit
    bits += "0" * (-len(bits) % 8)
    return sps[:1] + _escape(bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)))


def declare_frame_size(path: Path, width: int, height: int) -> None:
    """Rewrite the SPS in an MP4's ``avcC`` box (and the sizes of the boxes around it): the
    frames stay tiny, the stream claims ``width`` x ``height``."""
    data = bytearray(path.read_bytes())
    at = data.find(b"avcC")
    box_start, box_size = at - 4, int.from_bytes(data[at - 4 : at], "big")
    body = bytes(data[at + 4 : box_start + box_size])
    assert body[5] & 0x1F == 1, "one SPS expected"
    sps_len = int.from_bytes(body[6:8], "big")
    sps = rewrite_sps_frame_size(body[8 : 8 + sps_len], width, height)
    new_body = body[:6] + len(sps).to_bytes(2, "big") + sps + body[8 + sps_len :]
    delta = len(new_body) - len(body)
    data[box_start : box_start + box_size] = (box_size + delta).to_bytes(4, "big") + b"avcC" + new_body
    moov = data.find(b"moov")
    assert moov < box_start and data.find(b"mdat") < moov, "moov after mdat: chunk offsets stay valid"
    for name in (b"avc1", b"stsd", b"stbl", b"minf", b"mdia", b"trak", b"moov"):
        pos = data.rfind(name, moov - 1, box_start)
        size = int.from_bytes(data[pos - 4 : pos], "big")
        data[pos - 4 : pos] = (size + delta).to_bytes(4, "big")
    path.write_bytes(bytes(data))


@pytest.fixture(scope="session")
def huge_frame_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~71 KB H.264 MP4 of 64x64 frames whose SPS declares 16384x16000 (262 MP a frame)."""
    from autovid import samples

    path = tmp_path_factory.mktemp("hostile") / "huge.mp4"
    samples.make_video(path, duration_s=4.6, width=64, height=64, fps=30)
    declare_frame_size(path, 16384, 16000)
    return path


# --- a recording HTTP server on 127.0.0.x ------------------------------------------------------
# Test modules are imported in importlib mode, so they reach this class through the
# ``recording_server`` fixture (and import the names only for type checking).

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # with its query
    headers: Message  # names match without regard to case, as in HTTP
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RecordingServer:
    """A real threaded HTTP server on a random port that records every request and answers it
    through ``routes`` (by path, the query ignored), else with ``default_status`` and no body."""

    def __init__(
        self, *, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None, default_status: int = 404
    ) -> None:
        self.host = host
        self.ssl_context = ssl_context
        self.default_status = default_status
        self.routes: dict[str, Route] = {}
        self.sni_names: list[str | None] = []
        self._requests: list[Received] = []
        self._arrived = threading.Condition()
        self._httpd = _Server((host, 0), _handler_class(self))
        if ssl_context is not None:
            ssl_context.sni_callback = lambda _sock, name, _ctx: self.sni_names.append(name)
            self._httpd.socket = ssl_context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str = "", *, host: str | None = None) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def received(self, path: str | None = None) -> list[Received]:
        """The requests so far, in order (those on ``path`` only, when given)."""
        with self._arrived:
            return [r for r in self._requests if path is None or r.path.split("?")[0] == path]

    def count(self, path: str | None = None) -> int:
        return len(self.received(path))

    def wait_for(self, count: int, path: str | None = None, timeout_s: float = 10.0) -> list[Received]:
        """The requests on ``path`` once there are ``count`` of them; fails after ``timeout_s``."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received(path)) >= count, timeout_s):
                pytest.fail(f"{count} request(s) on {path or 'any path'} not received within {timeout_s} s")
            return self.received(path)

    def record(self, received: Received) -> None:
        with self._arrived:
            self._requests.append(received)
            self._arrived.notify_all()

    # routes: what the server answers on a path
    def serve(
        self, path: str, body: bytes, *, content_type: str = "application/octet-stream", length: bool = True
    ) -> None:
        self.routes[path] = serve_bytes(body, content_type=content_type, length=length)

    def answer(self, path: str, *statuses: int) -> None:
        """Answer ``statuses`` in turn (with no body), then ``default_status``."""
        self.routes[path] = _statuses_then(list(statuses), self.default_status)

    def fail_then_serve(self, path: str, status: int, failures: int, body: bytes) -> None:
        self.routes[path] = fail_then_serve(status, failures, body)

    def always(self, path: str, status: int, body: bytes = b"no") -> None:
        self.routes[path] = lambda handler: send_status(handler, status, body)

    def slow(self, path: str, delay_s: float, body: bytes) -> None:
        self.routes[path] = slow(delay_s, body)

    def drip(self, path: str, chunk: bytes, chunks: int, interval_s: float) -> None:
        self.routes[path] = drip(chunk, chunks, interval_s)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = redirect(location, status)

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
            server.record(Received(self.command, self.path, self.headers, body))
            route = server.routes.get(self.path.split("?")[0])
            if route is None:
                send_status(self, server.default_status)
            else:
                route(self)

        do_GET = do_POST = do_PUT = do_HEAD = _dispatch

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def send_status(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"") -> None:
    handler.send_response(status)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if body and handler.command != "HEAD":
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


def _statuses_then(statuses: list[int], then: int) -> Route:
    lock = threading.Lock()

    def route(handler: BaseHTTPRequestHandler) -> None:
        with lock:
            status = statuses.pop(0) if statuses else then
        send_status(handler, status)

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


@pytest.fixture
def recording_server() -> Iterator[Callable[..., RecordingServer]]:
    """Starts ``RecordingServer(**options)`` servers, each closed after the test."""
    started: list[RecordingServer] = []

    def start(**options: Any) -> RecordingServer:
        started.append(RecordingServer(**options))
        return started[-1]

    yield start
    for server in started:
        server.close()
