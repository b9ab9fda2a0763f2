"""Smoke tests of the render benchmark's harness on a 2 s 160x120 job: not timed, they keep the
harness (input generation, measurement, MoviePy reference, report, doc update) from rotting."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import av
import psutil
import pytest

from autovid.spec.validation import parse_spec
from benchmarks import render as bench
from benchmarks.inputs import BenchInputs
from benchmarks.measure import ChildFailed, _own_rss, run_measured
from benchmarks.verify import check_output, decode_mono


def test_inputs_are_the_job_the_benchmark_describes(tiny_inputs: BenchInputs) -> None:
    spec = parse_spec(tiny_inputs.spec_path.read_bytes())
    assert spec.output.encoding.bitrate is None and spec.output.encoding.fps is None  # fast path
    assert spec.backgroundMusic is not None and spec.backgroundMusic.loop
    assert [event.type for event in spec.timeline].count("tts") == 2
    assert all(event.data.duckingLevel == 0.2 for event in spec.timeline if event.type == "tts")
    with av.open(str(tiny_inputs.video_path)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.width, video.height) == ("h264", 160, 120)
        assert sum(1 for _ in container.decode(video)) == 60  # 2 s at 30 fps
    assert tiny_inputs.mix_pcm.stat().st_size == 2 * 48_000 * 2 * 4  # 2 s, stereo float32
    assert tiny_inputs.ducked_window_s is not None
    first_speech = spec.timeline[0]
    assert first_speech.type == "tts" and tiny_inputs.ducked_window_s[0] > first_speech.start


def test_repeated_packets_make_a_longer_decodable_video(tmp_path: Path) -> None:
    from benchmarks.inputs import JobShape, make_video

    path = tmp_path / "video.mp4"
    make_video(path, JobShape(duration_s=20, width=64, height=48, fps=10), tmp_path)
    with av.open(str(path)) as container:
        frames = [frame.time for frame in container.decode(container.streams.video[0])]
    assert len(frames) == 200
    assert frames == sorted(frames) and frames[-1] == pytest.approx(19.9)


def test_moviepy_reference_renders_the_job(tiny_inputs: BenchInputs, tmp_path: Path) -> None:
    output = tmp_path / "moviepy.mp4"
    run = run_measured(
        bench.moviepy_command(tiny_inputs, output),
        log_path=tmp_path / "moviepy.log",
        cwd=tmp_path,
        sample_tree=True,
    )
    assert run.peak_tree_rss_mb is not None and run.peak_tree_rss_mb >= run.peak_rss_mb > 10
    assert "moviepy_reference.py" in run.peak_tree_parts  # the process the peak was made of
    check = check_output(output, tiny_inputs.ducked_window_s, tiny_inputs.unducked_window_s)
    assert check.container_s == pytest.approx(2.0, abs=0.05)
    assert check.audio_s == pytest.approx(2.0, abs=0.05)
    assert check.ducked_rms_db is not None and check.ducked_rms_db > -35  # speech over ducked music
    timings = json.loads(run.log_path.read_text().strip().splitlines()[-1])
    assert timings["duration_s"] == pytest.approx(2.0)


@pytest.mark.parametrize("with_pcm", [False, True], ids=["synthetic", "job-mix"])
def test_aac_floor_encodes_the_jobs_length(tiny_inputs: BenchInputs, tmp_path: Path, with_pcm: bool) -> None:
    pcm = tiny_inputs.mix_pcm if with_pcm else None
    output = tmp_path / "floor.m4a"
    run_measured(bench.floor_command(tiny_inputs, output, pcm), log_path=tmp_path / "floor.log")
    samples, rate = decode_mono(output)
    assert rate == 48_000
    assert samples.size / rate == pytest.approx(2.0, abs=0.05)
    assert float(abs(samples).max()) > 0.05  # not silence
    with av.open(str(output)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"


def test_suite_renders_with_autovid_and_reports(tiny_inputs: BenchInputs, tmp_path: Path) -> None:
    result = bench.run_suite(
        tiny_inputs, out_dir=tmp_path / "runs", repeat=1, with_moviepy=False, log=lambda _: None
    )
    assert len(result.autovid.runs) == 1 and len(result.floor.runs) == 1
    check = result.checks["autovid"]
    assert check.video_s == pytest.approx(2.0, abs=0.05)
    assert check.audio_s == pytest.approx(2.0, abs=0.1)
    assert check.ducked_rms_db is not None and check.ducked_rms_db > -35
    assert result.video_copied
    stages = bench.autovid_stage_timings(result.autovid.runs[0].log_path)
    assert stages["total"] > 0 and "mixing" in stages  # the render's own timings still parse
    report = bench.format_report(result, None, bench.machine_info(), "python benchmarks/render.py --smoke")
    assert "| autovid |" in report and "| AAC floor (2 s, 192 kbit/s) |" in report
    assert "MoviePy / autovid >= 40x | not run | - |" in report


def test_suite_renders_the_job_at_a_loudness_target_too(tiny_inputs: BenchInputs, tmp_path: Path) -> None:
    result = bench.run_suite(
        tiny_inputs,
        out_dir=tmp_path / "runs",
        repeat=1,
        with_moviepy=False,
        with_floor=False,
        with_loudness=True,
        log=lambda _: None,
    )
    assert result.loudness is not None and len(result.loudness.runs) == 1
    assert result.loudness_lufs == pytest.approx(bench.LOUDNESS_TARGET_LUFS, abs=1.0)
    report = bench.format_report(result, None, bench.machine_info(), "python benchmarks/render.py --smoke")
    assert "| autovid, `output.loudness` target -14 LUFS, output measures" in report
    assert "| autovid at -14 LUFS / autovid <= 1.15x |" in report


def test_write_doc_replaces_only_the_render_section(tmp_path: Path) -> None:
    doc = tmp_path / "PERFORMANCE.md"
    bench.write_doc("first figures", doc)
    text = doc.read_text()
    assert "first figures" in text and "## API" in text
    doc.write_text(text.replace("_To be written with the API benchmark._", "API figures kept"))
    bench.write_doc("second figures", doc)
    text = doc.read_text()
    assert "second figures" in text and "first figures" not in text
    assert "API figures kept" in text and text.count(bench.DOC_BEGIN) == 1


def test_aac_floor_refuses_an_empty_pcm_instead_of_cycling_forever(
    tiny_inputs: BenchInputs, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.f32"
    empty.write_bytes(b"")
    with pytest.raises(ChildFailed, match="holds no stereo float32 sample"):
        run_measured(
            bench.floor_command(tiny_inputs, tmp_path / "floor.m4a", empty), log_path=tmp_path / "floor.log"
        )


def test_a_child_between_fork_and_exec_adds_no_rss() -> None:
    """A forked child that has not exec'd yet maps its parent's pages: the tree's RSS counts them
    once; a child that has exec'd counts its own."""
    forking = "import os, subprocess, time; os.fork() or subprocess.Popen(['sleep', '30']); time.sleep(30)"
    parent = subprocess.Popen([sys.executable, "-c", forking])
    try:
        deadline = time.monotonic() + 10
        root = psutil.Process(parent.pid)
        while len(root.children(recursive=True)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        children = {tuple(child.cmdline())[:1]: child for child in root.children(recursive=True)}
        assert _own_rss(children[(sys.executable,)]) == 0  # the fork
        assert _own_rss(children[("sleep",)]) > 0  # exec'd: its own pages
        assert _own_rss(root) > 0
    finally:
        for process in psutil.Process(parent.pid).children(recursive=True):
            process.kill()
        parent.kill()
        parent.wait()
