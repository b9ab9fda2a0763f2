"""A real API server for route tests: uvicorn on 127.0.0.1 (random port) in a thread, serving
``create_app`` over a container on a temporary data folder (real SQLite, real files), with a key
store whose clock the test controls. No worker runs unless a test drains the queue itself."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from autovid import samples
from autovid.adapters.local.sqlite_keys import SqliteKeyStore
from autovid.auth.authenticators import LocalAuthenticator
from autovid.auth.plans import UsagePlan
from autovid.bootstrap import Container, bootstrap
from autovid.config import Settings
from autovid.entrypoints.api import create_app
from autovid.errors import MediaError
from autovid.render.pipeline import RenderResult

GENEROUS = UsagePlan(rate_per_s=1000.0, burst=1000, quota_per_day=None)
NOON_UTC = 1_736_942_400.0  # 2025-01-15 12:00:00 UTC


@dataclass
class Clock:
    now_s: float = NOON_UTC

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@dataclass
class CountingRender:
    """A render that counts its calls and writes a real tiny MP4 (for drain-after-cancel). A job
    whose ``jobInfo.title`` is in ``failing_titles`` fails for good (a batch's bad rows)."""

    calls: int = 0
    failing_titles: set[str] = field(default_factory=set)

    def __call__(
        self, spec: Any, *, output_path: Path, progress: Any = None, checkpoint: Any = None, **_: Any
    ) -> Any:
        self.calls += 1
        title = spec.jobInfo.title if spec.jobInfo is not None else None
        if title in self.failing_titles:
            raise MediaError(f"render refused '{title}' (a test's failing row)")
        samples.make_video(output_path, duration_s=1.0, fps=10, audio=True)
        return RenderResult(output_path, 1.0, output_path.stat().st_size, timings_s={}, video_copied=False)


@dataclass
class ApiServer:
    url: str
    container: Container
    keys: SqliteKeyStore
    clock: Clock
    render: CountingRender
    http: httpx.Client

    def new_key(self, plan: UsagePlan = GENEROUS, name: str = "test") -> tuple[str, str]:
        """(key id, secret) for a new key."""
        key, secret = self.keys.create(name=name, plan=plan)
        return key.key_id, secret

    def client(self, secret: str | None) -> httpx.Client:
        headers = {"X-API-Key": secret} if secret else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0)

    def upload_video(self, secret: str, path: Path) -> str:
        with self.client(secret) as client:
            response = client.post("/assets", params={"filename": path.name}, content=path.read_bytes())
        assert response.status_code == 201, response.text
        source: str = response.json()["source"]
        return source


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # so asyncio sets NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def serve_in_thread(app: Any, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.01)
    return server, thread


@pytest.fixture
def api_factory(tmp_path: Path) -> Iterator[Callable[..., ApiServer]]:
    started: list[tuple[uvicorn.Server, threading.Thread, ApiServer]] = []

    def start(
        overrides: dict[str, Any] | None = None, *, real_render: bool = False, **settings: Any
    ) -> ApiServer:
        """``real_render``: the worker renders for real (FFmpeg, espeak-ng, the managed files)."""
        sock = free_socket()
        port = sock.getsockname()[1]
        values: dict[str, Any] = {
            "data_dir": tmp_path / f"data-{port}",
            "port": port,
            "secret_key": "s" * 32,
            "webhook_secret": "w" * 32,
            "lease_s": 2.0,
        }
        values.update(settings)
        render = CountingRender()
        fakes: dict[str, Any] = (
            {} if real_render else {"render": render, "assets": object(), "speech": object()}
        )
        container = bootstrap(Settings(**values), **fakes, **(overrides or {}))
        clock = Clock()
        keys = SqliteKeyStore(container.db, clock=clock)
        app = create_app(container, authenticator=LocalAuthenticator(keys))
        server, thread = serve_in_thread(app, sock)
        api = ApiServer(f"http://127.0.0.1:{port}", container, keys, clock, render, httpx.Client(timeout=10))
        started.append((server, thread, api))
        return api

    yield start
    for server, thread, api in started:
        api.http.close()
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def api(api_factory: Callable[..., ApiServer]) -> ApiServer:
    return api_factory()


@pytest.fixture(scope="session")
def tiny_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "base.mp4"
    samples.make_video(path, duration_s=1.0, fps=10)
    return path


@pytest.fixture
def minimal_spec() -> Callable[[str], dict[str, Any]]:
    def build(source: str) -> dict[str, Any]:
        return {
            "jobInfo": {"projectId": "demo_project", "title": "Welcome Video"},
            "assets": {"video": {"id": "main", "source": source}},
            "timeline": [],
            "output": {"filename": "my-video"},
        }

    return build
