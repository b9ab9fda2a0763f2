"""A worker process for the integration tests: ``python worker_proc.py --render MODE [--grace S]``.

Settings come from the environment (``AUTOVID_DATA_DIR``, ``AUTOVID_LEASE_SECONDS``, …), exactly
as ``autovid worker`` reads them. The render is chosen by ``--render``:

- ``real``: the real render engine, with the real asset fetcher and espeak-ng;
- ``fast``: writes a real 1 s MP4 with PyAV (no fetching or speech);
- ``slow``: like ``fast`` after ``--render-s`` seconds of checkpointed work;
- ``poison``: like ``fast``, except a job titled ``poison`` kills this process (SIGKILL) mid-render.

Every render start and finish is appended to ``$AUTOVID_DATA_DIR/renders.log`` as
``<event> <pid> <job_id>`` so tests can count them.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from autovid import samples
from autovid.bootstrap import bootstrap
from autovid.config import Settings
from autovid.jobs.processor import ProcessorOptions
from autovid.jobs.worker import install_signal_handlers, run_worker
from autovid.render.pipeline import RenderResult


def log_event(event: str, job_title: str | None, workdir: Path) -> None:
    job_id = workdir.name.rsplit("-", 1)[0]
    log = Path(os.environ["AUTOVID_DATA_DIR"]) / "renders.log"
    with log.open("a") as handle:
        handle.write(f"{event} {os.getpid()} {job_id} {job_title}\n")


def make_render(mode: str, render_s: float) -> Any:
    def render(
        spec: Any, *, output_path: Path, workdir: Path, progress: Any, checkpoint: Any, **_: Any
    ) -> Any:
        title = spec.jobInfo.title if spec.jobInfo else None
        log_event("start", title, workdir)
        seconds = render_s if mode == "slow" else 0.2
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            checkpoint()
            progress("mixing", 100 * (1 - (deadline - time.monotonic()) / seconds))
            if mode == "poison" and title == "poison":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(0.02)
        samples.make_video(output_path, duration_s=1.0, fps=10, audio=True)
        log_event("finish", title, workdir)
        return RenderResult(output_path, 1.0, output_path.stat().st_size, timings_s={}, video_copied=False)

    return render


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--render", choices=("real", "fast", "slow", "poison"), required=True)
    parser.add_argument("--render-s", type=float, default=30.0)
    parser.add_argument("--grace", type=float, default=30.0)
    args = parser.parse_args()
    overrides: dict[str, Any] = {
        "processor_options": ProcessorOptions(shutdown_grace_s=args.grace, cancel_poll_s=0.1),
        "webhook_retry_delays_s": (0.05, 0.1, 0.2),
    }
    if args.render != "real":
        overrides.update(render=make_render(args.render, args.render_s), assets=object(), speech=object())
    stop = threading.Event()
    install_signal_handlers(stop)
    container = bootstrap(Settings(), **overrides)
    (Path(os.environ["AUTOVID_DATA_DIR"]) / f"ready-{os.getpid()}").touch()
    run_worker(container, stop, wait_s=0.2)


if __name__ == "__main__":
    main()
