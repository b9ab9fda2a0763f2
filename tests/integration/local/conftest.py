"""Fixtures for multi-process tests on one data folder: worker processes started with
``worker_proc.py``, the test's own container (to submit and inspect), and a real webhook
receiver on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from autovid import samples
from autovid.bootstrap import Container, bootstrap
from autovid.config import Settings
from autovid.jobs.model import Job

if TYPE_CHECKING:
    from conftest import RecordingServer  # tests/conftest.py

WORKER_SCRIPT = Path(__file__).with_name("worker_proc.py")


@pytest.fixture
def hooks(recording_server: Callable[..., RecordingServer]) -> RecordingServer:
    """A real HTTP server (tests/conftest.py) for the webhooks, at ``url("/hook")``."""
    return recording_server(default_status=204)


@dataclass
class Cluster:
    """A data folder shared by the test and the worker processes it starts."""

    data_dir: Path
    env: dict[str, str]
    container: Container
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self, render: str, *extra: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT), "--render", render, *extra],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.data_dir / f"worker-{len(self.processes)}.err", "wb"),  # noqa: SIM115
        )
        self.processes.append(process)
        return process

    def submit(self, *, title: str = "job", webhook_url: str | None = None) -> Job:
        spec: dict[str, Any] = {
            "jobInfo": {"title": title},
            "assets": {"video": {"id": "main", "source": "assets/key-a/base.mp4"}},
            "timeline": [],
            "output": {"filename": "out.mp4"},
        }
        if webhook_url:
            spec["notifications"] = {"webhook": {"url": webhook_url}}
        return self.container.service.submit(spec, owner="key-a")

    def job(self, job_id: str) -> Job:
        return self.container.service.get(job_id, owner="key-a")

    def renders(self) -> list[tuple[str, int, str, str]]:
        log = self.data_dir / "renders.log"
        if not log.exists():
            return []
        lines = [line.split(" ") for line in log.read_text().splitlines()]
        return [(event, int(pid), job_id, title) for event, pid, job_id, title in lines]

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout_s} s waiting for {what}; {self.diagnostics()}"
                )
            time.sleep(0.05)

    def diagnostics(self) -> str:
        errors = " | ".join(
            p.read_text()[-400:] for p in sorted(self.data_dir.glob("worker-*.err")) if p.stat().st_size
        )
        return f"renders={self.renders()} stderr={errors}"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    created: list[Cluster] = []

    def build(**settings: str) -> Cluster:
        data_dir = tmp_path / "data"
        env = {
            **os.environ,
            "AUTOVID_DATA_DIR": str(data_dir),
            "AUTOVID_LEASE_SECONDS": "1",
            "AUTOVID_RETRY_BASE_DELAY": "0.05",
            "AUTOVID_ALLOW_PRIVATE_URLS": "true",
            "AUTOVID_ALLOW_HTTP": "true",
            "AUTOVID_PUBLIC_URL": "http://autovid.test",
            **settings,
        }
        config = Settings(
            data_dir=data_dir,
            lease_s=float(env["AUTOVID_LEASE_SECONDS"]),
            allow_private_urls=True,
            allow_http=True,
        )
        container = bootstrap(config, assets=object(), speech=object())
        video = tmp_path / "base.mp4"
        samples.make_video(video, duration_s=1.0, fps=10)
        container.blobs.put_file("assets/key-a/base.mp4", video)
        made = Cluster(data_dir, env, container)
        created.append(made)
        return made

    yield build
    for made in created:
        for process in made.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait()
