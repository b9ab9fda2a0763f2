"""Fixtures for the job service and processor: a container on a temporary data folder (real
SQLite, real files), a scripted render that writes real tiny MP4s, and a real HTTP webhook
receiver on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from autovid import samples
from autovid.adapters.local.db import Database
from autovid.adapters.local.sqlite_jobs import SqliteJobStore
from autovid.bootstrap import Container, bootstrap
from autovid.config import Settings
from autovid.jobs.model import Job
from autovid.jobs.processor import ProcessorOptions
from autovid.render.pipeline import RenderResult

if TYPE_CHECKING:
    from conftest import RecordingServer  # tests/conftest.py

# --- webhook receiver -------------------------------------------------------------------------


@pytest.fixture
def webhook_receiver(recording_server: Callable[..., RecordingServer]) -> RecordingServer:
    """A real HTTP server (tests/conftest.py) that answers 200 unless told otherwise."""
    return recording_server(default_status=200)


# --- scripted render --------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeRenderResult:
    output_path: Path
    duration_s: float
    size_bytes: int
    timings_s: dict[str, float]
    video_copied: bool


Step = Callable[[], None]


class ScriptedRender:
    """A render function whose attempts follow a script: each entry is None (render normally) or
    an exception to raise, or a callable run mid-render. It reports progress through every stage,
    calls ``checkpoint`` every ``block_s`` for ``duration_s``, then writes a real 1 s MP4."""

    def __init__(self, *script: BaseException | Step | None, duration_s: float = 0.2, block_s: float = 0.01):
        self.script = list(script)
        self.duration_s = duration_s
        self.block_s = block_s
        self.calls = 0
        self.running = 0
        self.max_running = 0
        self.started = threading.Event()
        self.progress_seen: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def __call__(
        self,
        spec: Any,
        *,
        output_path: Path,
        assets: Any,
        speech: Any,
        workdir: Path,
        progress: Any = None,
        checkpoint: Any = None,
    ) -> RenderResult:
        with self._lock:
            step = self.script[self.calls] if self.calls < len(self.script) else None
            self.calls += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            self.started.set()
            if isinstance(step, BaseException):
                raise step
            stages = ("fetching", "speech", "mixing", "encoding")
            blocks = max(1, int(self.duration_s / self.block_s))
            for i in range(blocks):
                stage = stages[min(len(stages) - 1, i * len(stages) // blocks)]
                if progress:
                    progress(stage, 100.0 * i / blocks)
                    self.progress_seen.append((stage, 100.0 * i / blocks))
                if checkpoint:
                    checkpoint()
                if callable(step) and i == blocks // 2:
                    step()
                time.sleep(self.block_s)
            samples.make_video(output_path, duration_s=1.0, width=160, height=120, fps=10, audio=True)
            if progress:
                progress("encoding", 100.0)
            return RenderResult(output_path, 1.0, output_path.stat().st_size, {}, False)
        finally:
            with self._lock:
                self.running -= 1


# --- container --------------------------------------------------------------------------------


class RecordingStore(SqliteJobStore):
    """The real SQLite store, remembering every progress value written (to check monotonicity)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.progress_writes: list[tuple[str, float]] = []

    def update(self, job_id: str, changes: dict[str, Any], **kwargs: Any) -> Job:
        job = super().update(job_id, changes, **kwargs)
        if "progress" in changes:
            self.progress_writes.append((job.progress.stage, job.progress.percent))
        return job


@dataclass
class Env:
    container: Container
    render: ScriptedRender
    store: RecordingStore
    sleeps: list[float]

    @property
    def service(self) -> Any:
        return self.container.service

    @property
    def processor(self) -> Any:
        return self.container.processor

    @property
    def queue(self) -> Any:
        return self.container.queue

    def receive(self, wait_s: float = 2.0) -> Any:
        messages = self.queue.receive(max_messages=1, wait_s=wait_s)
        assert messages, "no message became visible"
        return messages[0]


def make_env(
    tmp_path: Path,
    render: ScriptedRender,
    *,
    options: ProcessorOptions | None = None,
    **settings: Any,
) -> Env:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "lease_s": 2.0,
        "retry_base_delay_s": 0.05,
        "allow_private_urls": True,
        "allow_http": True,
        "public_url": "http://autovid.test",
        "secret_key": "k" * 32,
        "webhook_secret": "w" * 32,
    }
    values.update(settings)
    config = Settings(**values)
    db = Database(config.data_dir / "autovid.db")
    store = RecordingStore(db)
    sleeps: list[float] = []
    from autovid.adapters.http.webhooks import HttpWebhookSender

    webhooks = HttpWebhookSender(
        b"w" * 32,
        retry_delays_s=(0.01, 0.02, 0.04),
        allow_private=True,
        allow_http=True,
        timeout_s=2.0,
        sleep=lambda s: (sleeps.append(s), time.sleep(s))[-1],
    )
    container = bootstrap(
        config,
        store=store,
        render=render,
        assets=object(),  # the scripted render does not fetch
        speech=object(),
        webhooks=webhooks,
        processor_options=options or ProcessorOptions(cancel_poll_s=0.05, progress_interval_s=0.0),
    )
    video = tmp_path / "base.mp4"
    samples.make_video(video, duration_s=1.0, fps=10)
    container.blobs.put_file("assets/key-a/base.mp4", video)
    return Env(container, render, store, sleeps)


def job_spec(webhook_url: str | None = None, **webhook: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "jobInfo": {"projectId": "demo_project", "title": "Welcome Video"},
        "assets": {"video": {"id": "main", "source": "assets/key-a/base.mp4"}},
        "timeline": [],
        "output": {"filename": "my-video"},
    }
    if webhook_url:
        spec["notifications"] = {"webhook": {"url": webhook_url, **webhook}}
    return spec


# --- fixtures (test modules cannot import this file under --import-mode=importlib) --------------


@pytest.fixture
def scripted() -> type[ScriptedRender]:
    return ScriptedRender


@pytest.fixture
def make(tmp_path: Path) -> Callable[..., Env]:
    def build(render: ScriptedRender | None = None, **kwargs: Any) -> Env:
        return make_env(tmp_path, render or ScriptedRender(), **kwargs)

    return build


@pytest.fixture
def spec() -> Callable[..., dict[str, Any]]:
    return job_spec
