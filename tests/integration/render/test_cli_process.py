"""`autovid render` and `autovid validate` run as a user runs them: a process of their own, which
ends at once after the command (no interpreter teardown) with its output flushed and its status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from autovid import samples
from tests.integration.render.conftest import SR, decode_audio, onset_s


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTOVID_DATA_DIR": str(cwd / "data"), "AUTOVID_TTS_ENGINE": "espeak"}
    return subprocess.run(
        [sys.executable, "-m", "autovid", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_render_process_writes_the_mp4_and_reports_it(tmp_path: Path) -> None:
    samples.make_video(tmp_path / "clip.mp4", duration_s=2.0)
    samples.make_effect(tmp_path / "hit.wav", "impact")
    spec = {
        "assets": {"video": {"id": "v", "source": "clip.mp4"}, "audio": [{"id": "hit", "source": "hit.wav"}]},
        "timeline": [{"start": 0.5, "type": "audio", "data": {"assetId": "hit", "volume": 1.0}}],
        "output": {"filename": "out.mp4"},
    }
    (tmp_path / "job.json").write_text(json.dumps(spec))
    done = run_cli("render", "job.json", "-o", "result.mp4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.strip().splitlines()[-1] == str((tmp_path / "result.mp4").resolve())
    assert not list(tmp_path.glob("*.partial"))
    audio = decode_audio(tmp_path / "result.mp4")
    assert abs(onset_s(audio, 0.3, 1.0) - 0.5) < 0.01
    assert audio.shape[1] / SR > 1.9


def test_validate_process_exits_1_with_the_problems(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"assets": {}, "output": {}}))
    done = run_cli("validate", "bad.json", cwd=tmp_path)
    assert done.returncode == 1
    assert "assets.video" in done.stdout + done.stderr


def test_render_summary_prints_the_audio_voices_and_warnings(tmp_path: Path) -> None:
    samples.make_video(tmp_path / "clip.mp4", duration_s=2.0)
    samples.make_effect(tmp_path / "hit.wav", "impact")
    spec = {
        "assets": {"video": {"id": "v", "source": "clip.mp4"}, "audio": [{"id": "hit", "source": "hit.wav"}]},
        "timeline": [
            {"start": 0.2, "type": "tts", "data": {"text": "Hi."}},
            {"start": 1.9, "type": "audio", "data": {"assetId": "hit", "volume": 1.0}},
        ],
        "output": {"filename": "out.mp4", "loudness": {"target": "podcast"}},
    }
    (tmp_path / "job.json").write_text(json.dumps(spec))
    done = run_cli("render", "job.json", "-o", "result.mp4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    printed = " ".join((done.stdout + done.stderr).split())  # the table may wrap
    assert "(target -16.0 LUFS), true peak" in printed and " LU" in printed
    assert (
        "asked for Polly voice Joanna; spoken by local espeak-ng voice" in printed and "en-us+f3" in printed
    )
    assert "voice_substituted: timeline[0]: the Polly voice 'Joanna'" in printed
    assert "clip_cut_at_end: timeline[1] (audio asset 'hit')" in printed
