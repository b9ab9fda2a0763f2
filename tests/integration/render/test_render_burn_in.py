"""Burned-in captions on real video: decoded frames compared with the same render uncaptioned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pysubs2
import pytest

from autovid.adapters.local.espeak import EspeakEngine
from autovid.captions.burn_in import CaptionPainter
from autovid.captions.subtitles import read_subtitles
from autovid.render.pipeline import RenderResult, render
from autovid.spec.models import BurnIn
from autovid.spec.validation import parse_spec
from autovid.speech.synthesizer import SpeechSynthesizer

from .conftest import FolderAssets, Media

WIDTH, HEIGHT = 320, 240
STYLE = {"highlightColor": "#FFFF00", "backgroundOpacity": 0.6, "fontSize": 0.07}


def job(video: str, captions: dict[str, Any] | None) -> Any:
    output: dict[str, Any] = {"filename": "out.mp4", "encoding": {"preset": "ultrafast"}}
    if captions is not None:
        output["captions"] = captions
    timeline = [
        {"start": 0.3, "type": "tts", "data": {"text": "One two three four.", "provider": "espeak-ng"}},
        {"start": 3.2, "type": "tts", "data": {"text": "Five six.", "provider": "espeak-ng"}},
    ]
    return parse_spec(
        {"assets": {"video": {"id": "v", "source": video}}, "timeline": timeline, "output": output}
    )


def run(media: Media, folder: Path, spec: Any) -> RenderResult:
    return render(
        spec,
        output_path=folder / "out.mp4",
        assets=FolderAssets(media.folder),
        speech=SpeechSynthesizer(EspeakEngine(), folder / "speech"),
        workdir=folder / "work",
    )


def frame_at(path: Path, time_s: float) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time >= time_s - 1e-3:
                return frame.to_ndarray(format="rgb24").astype(np.int16)
    raise AssertionError(f"no frame at {time_s}")


@pytest.fixture(scope="module")
def renders(media: Media, tmp_path_factory: pytest.TempPathFactory) -> dict[str, RenderResult]:
    # MPEG-4 input: both renders re-encode with libx264 at the same settings, frame for frame.
    video = media.video("burn-in.mp4", duration_s=5.0, width=WIDTH, height=HEIGHT, codec="mpeg4")
    burned = run(media, tmp_path_factory.mktemp("burned"), job(video.name, {"burnIn": STYLE}))
    uncaptioned = run(media, tmp_path_factory.mktemp("uncaptioned"), job(video.name, None))
    return {"burned": burned, "uncaptioned": uncaptioned}


def cues(result: RenderResult) -> list[Any]:
    return read_subtitles(result.output_path.with_suffix(".srt"))


def region(cue: Any) -> tuple[slice, slice]:
    """Rows and columns the cue's block covers, out to the 16-pixel blocks the encoder codes."""
    painter = CaptionPainter([cue], BurnIn(**STYLE), "en-US", WIDTH, HEIGHT)
    block, (x, y) = painter.image(painter.cues[0])
    left, top, right, bottom = block.getbbox()
    grid = lambda v, up: (v + 15) // 16 * 16 if up else v // 16 * 16  # noqa: E731
    return slice(grid(y + top, False), grid(y + bottom, True)), slice(
        grid(x + left, False), grid(x + right, True)
    )


def test_burn_in_leaves_the_fast_path(renders: dict[str, RenderResult]) -> None:
    assert not renders["burned"].video_copied
    with av.open(str(renders["burned"].output_path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"


def test_frames_differ_only_inside_the_caption_region(renders: dict[str, RenderResult]) -> None:
    for cue in cues(renders["burned"]):
        middle_s = (cue.start_s + cue.end_s) / 2
        burned, plain = (
            frame_at(renders["burned"].output_path, middle_s),
            frame_at(renders["uncaptioned"].output_path, middle_s),
        )
        rows, cols = region(cue)
        difference = np.abs(burned - plain).mean(axis=2)
        inside = difference[rows, cols]
        outside = difference.copy()
        outside[rows, cols] = 0
        # Outside, only the encoder's noise (the two encodes' reference frames differ a little).
        assert inside.mean() > 15, "the caption is not drawn"
        changed = outside > 8
        assert changed.mean() < 0.002 and outside.mean() < 1.5, "pixels changed outside the caption region"


def test_frames_between_cues_show_no_caption(renders: dict[str, RenderResult]) -> None:
    first, second = cues(renders["burned"])[:2]
    between_s = (first.end_s + second.start_s) / 2
    assert second.start_s - first.end_s > 0.3
    burned = frame_at(renders["burned"].output_path, between_s)
    plain = frame_at(renders["uncaptioned"].output_path, between_s)
    difference = np.abs(burned - plain).mean(axis=2)
    rows, cols = region(first)
    assert difference.mean() < 1.5 and difference[rows, cols].mean() < 3  # a caption there: > 15


def test_the_highlight_follows_the_spoken_word(renders: dict[str, RenderResult]) -> None:
    cue = cues(renders["burned"])[0]
    rows, cols = region(cue)

    def yellow_centre(time_s: float) -> float:
        rgb = frame_at(renders["burned"].output_path, time_s)[rows, cols]
        mask = (rgb[..., 0] > 180) & (rgb[..., 1] > 180) & (rgb[..., 2] < 110)
        assert mask.sum() > 20, f"no highlighted word at {time_s:.2f} s"
        return float(np.flatnonzero(mask.any(axis=0)).mean())

    early, late = yellow_centre(cue.start_s + 0.1), yellow_centre(cue.end_s - 0.25)
    assert late - early > 30  # "One" on the left, "four." on the right


def test_the_sidecars_are_still_written(renders: dict[str, RenderResult]) -> None:
    subs = pysubs2.load(str(renders["burned"].output_path.with_suffix(".vtt")))
    assert " ".join(e.plaintext for e in subs) == "One two three four. Five six."
