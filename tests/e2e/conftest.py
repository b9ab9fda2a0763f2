"""End to end: ``autovid serve`` in a child process (real workers, real render, espeak-ng),
clients over real HTTP on 127.0.0.1, a real webhook receiver, tiny media."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from autovid import samples
from autovid.adapters.local.db import Database
from autovid.adapters.local.sqlite_keys import SqliteKeyStore
from autovid.auth.plans import UsagePlan
from autovid.bootstrap import DB_FILE
from autovid.client import AutovidClient
from autovid.entrypoints.api.runner import ServiceProcess

if TYPE_CHECKING:
    from conftest import RecordingServer  # tests/conftest.py

WEBHOOK_SECRET = "e2e-webhook-secret-0123456789abcdef"
GENEROUS = UsagePlan(rate_per_s=1000.0, burst=1000, quota_per_day=None)
SERVICE_ENV = {
    "AUTOVID_ALLOW_PRIVATE_URLS": "true",  # the webhook receiver is on loopback
    "AUTOVID_ALLOW_HTTP": "true",
    "AUTOVID_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "AUTOVID_LEASE_SECONDS": "10",
    "LOG_LEVEL": "INFO",
}


@dataclass
class Media:
    video: Path  # 160x120, 2 s, H.264
    slow_video: Path  # 640x360, 20 s: re-encoding it at preset "slow" takes a few seconds
    music: Path
    blip: Path
    broken: Path  # not media at all


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    folder = tmp_path_factory.mktemp("e2e-media")
    broken = folder / "broken.mp3"
    broken.write_bytes(b"this is not an mp3 file" * 100)
    return Media(
        video=samples.make_video(folder / "base.mp4", duration_s=2.0, fps=15),
        slow_video=samples.make_video(folder / "long.mp4", duration_s=20.0, width=640, height=360, fps=30),
        music=samples.make_music_loop(folder / "music.wav", duration_s=2.0),
        blip=samples.make_effect(folder / "blip.wav", "blip"),
        broken=broken,
    )


@dataclass
class Service:
    process: ServiceProcess
    data_dir: Path

    @property
    def url(self) -> str:
        return self.process.url

    def new_key(self, plan: UsagePlan = GENEROUS) -> tuple[str, str]:
        key, secret = SqliteKeyStore(Database(self.data_dir / DB_FILE)).create(name="e2e", plan=plan)
        return key.key_id, secret

    def client(self, secret: str) -> AutovidClient:
        return AutovidClient(self.url, secret, max_throttle_wait_s=0)


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    started: list[ServiceProcess] = []

    def start(workers: int = 1, **env: str) -> Service:
        data_dir = tmp_path / f"data-{len(started)}"
        process = ServiceProcess(data_dir, workers=workers, env={**SERVICE_ENV, **env})
        started.append(process)
        process.start()
        return Service(process, data_dir)

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One server with one worker, shared by a module's tests (each makes its own key)."""
    data_dir = tmp_path_factory.mktemp("e2e-service")
    with ServiceProcess(data_dir, workers=1, env=SERVICE_ENV) as process:
        yield Service(process, data_dir)


# --- webhook receiver ---------------------------------------------------------------------------


@pytest.fixture
def webhook_receiver(recording_server: Callable[..., RecordingServer]) -> RecordingServer:
    """A real HTTP server (tests/conftest.py); webhooks go to ``url("/hooks/autovid")``."""
    return recording_server(default_status=204)
