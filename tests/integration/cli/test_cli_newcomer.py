"""The command line as a newcomer meets it: every broken source in one run, refusals that say
how to admit a folder, messages that are not wrapped into files, a render that says what it did
and leaves nothing behind but its output, ``--version``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from autovid import samples
from autovid.config import Settings
from autovid.entrypoints.cli import app
from autovid.entrypoints.cli.render import summary_lines
from autovid.render.pipeline import RenderResult
from autovid.render.report import AudioReport, RenderWarning, VoiceUsed

runner = CliRunner()


def run_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AUTOVID_")}
    environment.update({"AUTOVID_TTS_ENGINE": "espeak", "COLUMNS": "80", **env})
    return subprocess.run(
        [sys.executable, "-m", "autovid", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("media")
    samples.make_video(folder / "clip.mp4", duration_s=1.0, fps=10)
    samples.make_effect(folder / "hit.wav", "impact")
    return folder


def write_spec(folder: Path, video: str, audio: dict[str, str], **extra: Any) -> Path:
    spec = {
        "assets": {
            "video": {"id": "main", "source": video},
            "audio": [{"id": asset_id, "source": source} for asset_id, source in audio.items()],
        },
        "timeline": [],
        "output": {"filename": "out.mp4"},
        **extra,
    }
    path = folder / "job.json"
    path.write_text(json.dumps(spec))
    return path


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"autovid {version('autovid')}"


def test_check_files_reports_every_broken_source_at_once(tmp_path: Path, media: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes((media / "clip.mp4").read_bytes())
    (tmp_path / "notes.mp3").write_text("not audio")
    outside = media / "hit.wav"
    spec = write_spec(
        tmp_path,
        "missing.mp4",
        {"gone": "gone.wav", "text": "notes.mp3", "far": str(outside), "silent": "clip.mp4"},
    )
    done = run_cli("validate", "--check-files", str(spec), cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0] == f"{spec}: 5 assets cannot be used"
    by_asset = {line.split("(asset '")[1].split("'")[0]: line for line in lines[1:] if "(asset '" in line}
    assert set(by_asset) == {"main", "gone", "text", "far", "silent"}
    assert "file not found: 'missing.mp4'" in by_asset["main"]
    assert by_asset["silent"].endswith("has no audio stream (an audio asset needs one)")
    assert "not a readable audio or video file" in by_asset["text"]
    # the refusal names the allowed folder once (the spec's folder is also the current one)
    assert by_asset["far"].count(str(tmp_path)) == 1
    assert done.stderr.count("--allow-root") == 1
    admitted = run_cli("validate", "--check-files", str(spec), "--allow-root", str(media), cwd=tmp_path)
    assert "(asset 'far')" not in admitted.stderr


def test_check_files_passes_good_sources(tmp_path: Path, media: Path) -> None:
    spec = write_spec(tmp_path, str(media / "clip.mp4"), {"hit": str(media / "hit.wav")})
    result = runner.invoke(app, ["validate", "--check-files", str(spec), "--allow-root", str(media)])
    assert result.exit_code == 0, result.output
    assert "valid, every asset readable" in result.output


def test_render_checks_every_source_before_any_work(tmp_path: Path, media: Path) -> None:
    spec = write_spec(tmp_path, "a.mp4", {"b": "b.wav", "c": "c.wav"})
    done = run_cli("render", str(spec), cwd=tmp_path)
    assert done.returncode == 1
    assert all(f"(asset '{name}')" in done.stderr for name in ("main", "b", "c"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.json"]  # no out/, no cache, no data


def test_render_keeps_its_speech_cache_in_the_users_cache_folder(tmp_path: Path, media: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "clip.mp4").write_bytes((media / "clip.mp4").read_bytes())
    tts = {"start": 0.1, "type": "tts", "data": {"text": "Hi.", "provider": "espeak-ng"}}
    spec = write_spec(work, "clip.mp4", {}, timeline=[tts])
    cache = tmp_path / "xdg"
    done = run_cli("render", spec.name, cwd=work, XDG_CACHE_HOME=str(cache), HOME=str(tmp_path / "home"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in work.iterdir()) == ["clip.mp4", "job.json", "out"]
    assert [p.name for p in (work / "out").iterdir()] == ["out.mp4"]
    assert len(list((cache / "autovid").rglob("*.wav"))) == 1  # the one synthesized line
    assert not list((tmp_path / "home").rglob("autovid"))  # XDG_CACHE_HOME wins over ~/.cache
    configured = tmp_path / "configured"
    again = run_cli("render", spec.name, cwd=work, AUTOVID_CACHE_DIR=str(configured))
    assert again.returncode == 0, again.stderr
    assert len(list(configured.rglob("*.wav"))) == 1


def test_long_lines_are_not_wrapped_into_a_file_and_the_output_path_is_whole(
    tmp_path: Path, media: Path
) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-for-renders" * 2) / "and-another-one-below-it"
    deep.mkdir(parents=True)
    (deep / "clip.mp4").write_bytes((media / "clip.mp4").read_bytes())
    tts = {"start": 0, "type": "tts", "data": {"text": "x", "providerConfig": {"voiceId": "Jonna"}}}
    spec = write_spec(deep, "clip.mp4", {}, timeline=[tts])
    invalid = run_cli("validate", str(spec), cwd=deep)
    voice_line = next(line for line in invalid.stderr.splitlines() if "voiceId" in line)
    assert "did you mean 'Joanna'?" in voice_line and voice_line.rstrip().endswith("Tiffany")
    spec.write_text(spec.read_text().replace("Jonna", "Joanna"))
    done = run_cli("render", str(spec), "-o", str(deep / "final-output-file-name.mp4"), cwd=deep)
    assert done.returncode == 0, done.stderr
    output = str(deep / "final-output-file-name.mp4")
    assert len(output) > 120 and f"rendered {output}" in done.stderr.splitlines()
    assert done.stdout.splitlines() == [output]


def test_summary_names_voices_loudness_and_warnings(tmp_path: Path) -> None:
    result = RenderResult(
        output_path=tmp_path / "out.mp4",
        duration_s=12.5,
        size_bytes=2_500_000,
        timings_s={"fetching": 0.1, "total": 1.0},
        video_copied=True,
        warnings=(RenderWarning("crossfade_clamped", "crossfade shortened to 1.5 s"),),
        audio=AudioReport(-16.04, -1.52, 5.0, target_lufs=-16.0),
        voices=(
            VoiceUsed(1, "Joanna", "espeak-ng", "en-us+f3"),
            VoiceUsed(3, "Matthew", "polly:neural", "Matthew"),
        ),
    )
    lines = summary_lines(result)
    assert lines[0] == f"[green]rendered[/green] {tmp_path / 'out.mp4'}"
    assert any(
        line.startswith("  loudness -16.04 LUFS (target -16.0 LUFS), true peak -1.52 dBTP") for line in lines
    )
    assert (
        "  timeline[1] asked for Polly voice Joanna; spoken by local espeak-ng voice en-us+f3 standing in"
        in lines
    )
    assert "  timeline[3] spoken by Amazon Polly voice Matthew (neural)" in lines
    assert "  [yellow]warning[/yellow] crossfade_clamped: crossfade shortened to 1.5 s" in lines


def test_check_files_fetches_remote_sources_too(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "missing.mp4", {"web": "https://127.0.0.1/clip.wav", "bucket": "s3://"})
    result = runner.invoke(app, ["validate", "--check-files", str(spec)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "(asset '" in line]
    assert [line.split("(asset '")[1].split("'")[0] for line in lines] == ["main", "web", "bucket"]
    assert "private" in lines[1] or "loopback" in lines[1]


def test_without_xdg_cache_home_the_cache_is_in_home_dot_cache(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code = "from autovid.config import Settings; print(Settings().cli_cache_dir)"
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "AUTOVID_CACHE_DIR")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == str(home / ".cache" / "autovid")
    assert Settings(cache_dir=tmp_path / "c").cli_cache_dir == tmp_path / "c"
