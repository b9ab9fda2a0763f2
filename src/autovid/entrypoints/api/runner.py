"""Run ``autovid serve`` as a child process: start it on a free port, learn its URL, stop it
gracefully (SIGTERM). Used by the demo, the end-to-end tests and the API benchmark."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

_SERVING = re.compile(r"autovid serving (http://\S+) ")


class ServiceError(RuntimeError):
    pass


class ServiceProcess:
    """``with ServiceProcess(data_dir) as service: service.url`` — the server and its workers."""

    def __init__(
        self,
        data_dir: Path,
        *,
        workers: int | None = None,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = ("--no-access-log",),
        log_path: Path | None = None,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path or data_dir / "serve.log"
        self.url = ""
        self._workers = workers
        self._env = dict(env or {})
        self._args = list(args)
        self._start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServiceProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "autovid", "serve", "--port", "0", *self._args]
        if self._workers is not None:
            command += ["--workers", str(self._workers)]
        env = {**os.environ, "AUTOVID_DATA_DIR": str(self.data_dir), **self._env}
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.url = self._wait_for_url()
        self._wait_healthy()
        return self.url

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM, then wait: workers finish or give back their jobs. Returns the exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            match = _SERVING.search(self.log_path.read_text(errors="replace"))
            if match:
                return match.group(1)
            if self._process is not None and self._process.poll() is not None:
                raise ServiceError(
                    f"autovid serve exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            time.sleep(0.05)
        self.stop()
        raise ServiceError(
            f"autovid serve did not start within {self._start_timeout_s:g} s:\n{self.log_tail()}"
        )

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServiceError(f"{self.url}/health did not answer:\n{self.log_tail()}")
