"""`autovid batch` as a user runs it: each row's video carries exactly the audio a direct render of
that row's substituted spec makes; markup in a value is spoken, not parsed; the music the rows share
is downloaded once; a bad row is listed and exits 1 while the others render."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from autovid import samples
from autovid.bootstrap import build_renderer
from autovid.config import Settings
from autovid.spec.validation import parse_spec
from autovid.templates import parse_template, rows_from_csv, substitute
from tests.integration.render.conftest import SR, decode_audio
from tests.page_cache import cached_bytes

if TYPE_CHECKING:
    from conftest import RecordingServer  # tests/conftest.py

ENV = {"AUTOVID_TTS_ENGINE": "espeak", "AUTOVID_ALLOW_PRIVATE_URLS": "true", "AUTOVID_ALLOW_HTTP": "true"}
# Cy's greeting would end the SSML document if it were markup: it is spoken instead.
ROWS = 'firstName,greeting\nAda,\nBartholomew,Good evening\nCy,"</speak><speak> Hey & ""you"""\nX/Y,\n'


@pytest.fixture
def media_server(recording_server: Callable[..., RecordingServer], tmp_path: Path) -> RecordingServer:
    """A real HTTP server (tests/conftest.py) with the rows' shared music at ``/music.mp3``."""
    music = tmp_path / "served" / "music.mp3"
    music.parent.mkdir()
    samples.make_music_loop(music, duration_s=3.0)
    server = recording_server()
    server.serve("/music.mp3", music.read_bytes(), content_type="audio/mpeg")
    return server


def write_template(folder: Path, music_url: str) -> Path:
    samples.make_video(folder / "clip.mp4", duration_s=2.5)
    document = {
        "name": "hello",
        "variables": {
            "firstName": {"type": "string", "maxLength": 40},
            "greeting": {"type": "string", "default": "Hello"},
        },
        "spec": {
            "assets": {
                "video": {"id": "v", "source": "clip.mp4"},
                "audio": [{"id": "music", "source": f"{music_url}/music.mp3"}],
            },
            "backgroundMusic": {"playlist": ["music"], "volume": 0.2},
            "timeline": [
                {
                    "start": 0.2,
                    "type": "tts",
                    "data": {
                        "text": "<speak>{{greeting}} {{firstName}}</speak>",
                        "provider": "espeak-ng",
                        "providerConfig": {"textType": "ssml"},
                        "duckingLevel": 0.1,
                    },
                }
            ],
            "output": {"filename": "hello-{{firstName}}"},
        },
    }
    path = folder / "hello.template.json"
    path.write_text(json.dumps(document))
    return path


def test_batch_rows_equal_direct_renders(tmp_path: Path, media_server: RecordingServer) -> None:
    template_path = write_template(tmp_path, media_server.url())
    (tmp_path / "rows.csv").write_text(ROWS)
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "autovid", "batch", template_path.name, "rows.csv", "-o", str(out), "-w", "2"],
        cwd=tmp_path,
        env={**os.environ, **ENV, "AUTOVID_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 1, done.stderr  # the X/Y row cannot be a file name
    assert "row 3: spec.output.filename" in done.stderr and "without '/'" in done.stderr
    names = ["hello-Ada.mp4", "hello-Bartholomew.mp4", "hello-Cy.mp4"]
    assert done.stdout.split() == [str(out / name) for name in names]
    assert sorted(p.name for p in out.iterdir()) == names  # no partial files, no shared-asset folder
    fetches = [(r.method, r.path) for r in media_server.received()]
    assert fetches == [("GET", "/music.mp3")]  # once for all the rows
    assert "videos per minute" in done.stderr
    assert {cached_bytes(out / name) for name in names} <= {0, None}  # flushed, freed for the next rows

    template = parse_template(template_path.read_bytes())
    rows = rows_from_csv(template, ROWS)
    settings = Settings(
        speech_engine="espeak", allow_private_urls=True, allow_http=True, data_dir=tmp_path / "d2"
    )
    renderer = build_renderer(settings, base_dir=tmp_path, allowed_roots=[tmp_path])
    decoded = []
    for row, name in zip(rows, names, strict=False):
        spec = parse_spec(substitute(template, row))
        with tempfile.TemporaryDirectory() as workdir:
            renderer(spec, output_path=tmp_path / f"direct-{name}", workdir=Path(workdir))
        batch_audio, direct_audio = decode_audio(out / name), decode_audio(tmp_path / f"direct-{name}")
        assert batch_audio.shape == direct_audio.shape and batch_audio.shape[1] > 2 * SR
        assert np.max(np.abs(batch_audio - direct_audio)) < 1e-6, name
        decoded.append(batch_audio)
    # The rows really differ: each speaks its own name.
    assert np.max(np.abs(decoded[0] - decoded[1])) > 0.05 and np.max(np.abs(decoded[1] - decoded[2])) > 0.05
