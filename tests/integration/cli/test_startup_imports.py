"""What ``python -m autovid`` loads: each command imports what it uses and nothing more, so that a
render's start-up stays lean. The web service, the AWS SDK, the HTTP client, the caption layer,
Pillow and the template layer load only for the commands and specs that use them.

Each command runs as a user runs it, in a process of its own under ``python -X importtime``, whose
report names every module the process imported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from autovid import samples

# Never needed by a render of local files without captions.
NOT_FOR_A_PLAIN_RENDER = (
    "fastapi",
    "starlette",
    "uvicorn",
    "anyio",
    "boto3",
    "botocore",
    "httpx",
    "httpcore",
    "ssl",
    "sqlite3",
    "PIL",
    "numpy.ma",
    "pysubs2",
    "autovid.adapters.http.https_download",
    "autovid.adapters.aws.s3_download",
    "autovid.adapters.local.db",
    "autovid.captions.burn_in",
    "autovid.captions.cues",
    "autovid.captions.subtitles",
    "autovid.client",
    "autovid.entrypoints.api",
    "autovid.entrypoints.cli.batch_worker",
    "autovid.jobs.batch_model",
    "autovid.jobs.processor",
    "autovid.jobs.service",
    "autovid.netguard",
    "autovid.templates",
)
# Nor by a command that renders nothing.
THE_RENDER_STACK = ("av", "numpy", "autovid.render.media", "autovid.render.pipeline")

_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", re.MULTILINE)


def imported_by(*args: str, cwd: Path) -> set[str]:
    """The modules ``python -m autovid ARGS`` imports (the command must succeed)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AUTOVID_")}
    environment.update(
        {
            "AUTOVID_TTS_ENGINE": "espeak",
            "AUTOVID_DATA_DIR": str(cwd / "data"),
            "AUTOVID_CACHE_DIR": str(cwd / "cache"),
        }
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "autovid", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    modules = set(_IMPORTED.findall(done.stderr))
    assert "autovid.entrypoints.cli" in modules  # the report was read
    return modules


def loaded(modules: set[str], wanted: tuple[str, ...]) -> list[str]:
    """The ``wanted`` modules (or any of their submodules) among ``modules``."""
    return sorted(m for m in modules if any(m == w or m.startswith(w + ".") for w in wanted))


def write_job(folder: Path, **output: Any) -> None:
    samples.make_video(folder / "clip.mp4", duration_s=1.0)
    samples.make_effect(folder / "hit.wav", "impact")
    spec = {
        "assets": {"video": {"id": "v", "source": "clip.mp4"}, "audio": [{"id": "hit", "source": "hit.wav"}]},
        "timeline": [
            {"start": 0.1, "type": "tts", "data": {"text": "Hello there."}},
            {"start": 0.5, "type": "audio", "data": {"assetId": "hit", "volume": 1.0}},
        ],
        "output": {"filename": "out.mp4", **output},
    }
    (folder / "job.json").write_text(json.dumps(spec))


def test_help_and_version_load_neither_the_service_nor_the_render_stack(tmp_path: Path) -> None:
    for args in (["--version"], ["--help"], ["render", "--help"], ["schema"]):
        modules = imported_by(*args, cwd=tmp_path)
        assert loaded(modules, NOT_FOR_A_PLAIN_RENDER + THE_RENDER_STACK) == [], args


def test_a_render_without_captions_loads_no_service_sdk_http_or_caption_layer(tmp_path: Path) -> None:
    write_job(tmp_path)
    modules = imported_by("render", "job.json", "-o", "result.mp4", cwd=tmp_path)
    assert (tmp_path / "result.mp4").stat().st_size > 0
    assert set(THE_RENDER_STACK) <= modules
    assert loaded(modules, NOT_FOR_A_PLAIN_RENDER) == []


def test_a_render_with_caption_files_loads_the_caption_layer_but_not_the_burn_in(tmp_path: Path) -> None:
    write_job(tmp_path, captions={"formats": ["srt"]})
    modules = imported_by("render", "job.json", "-o", "result.mp4", cwd=tmp_path)
    assert "1\n00:00:00" in (tmp_path / "result.srt").read_text()
    assert {"pysubs2", "autovid.captions.cues", "autovid.captions.subtitles"} <= modules
    assert loaded(modules, ("PIL", "autovid.captions.burn_in", "httpx", "botocore", "fastapi")) == []
