"""Captions end to end with real espeak-ng: sidecars parsed with pysubs2, the mov_text track read
back with PyAV, cue starts measured against the speech heard in the decoded output."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import av
import numpy as np
import pysubs2
import pytest

from autovid.adapters.local.espeak import EspeakEngine
from autovid.errors import AssetError
from autovid.render.pipeline import RenderResult, render
from autovid.render.report import CAPTIONS_CUT_AT_END, NOTHING_TO_CAPTION
from autovid.spec.validation import parse_spec
from autovid.speech.synthesizer import SpeechSynthesizer

from .conftest import SR, FolderAssets, Media, decode_audio

FIRST = "Hello there, this is autovid speaking. It writes captions from the words it says."
SECOND = "Café, naïve and façade — spelled exactly as written!"
RULES = {"maxCharsPerLine": 42, "maxLines": 2}


def spec(video: str, timeline: list[dict[str, Any]], settings: dict[str, Any] | None, **assets: Any) -> Any:
    output: dict[str, Any] = {"filename": "out.mp4", "encoding": {"preset": "ultrafast"}}
    if settings is not None:
        output["captions"] = settings
    return parse_spec(
        {
            "assets": {"video": {"id": "video", "source": video}, **assets},
            "timeline": timeline,
            "output": output,
        }
    )


def tts(start: float, text: str, **extra: Any) -> dict[str, Any]:
    return {"start": start, "type": "tts", "data": {"text": text, "provider": "espeak-ng", **extra}}


def run(media: Media, tmp_path: Path, job: Any) -> RenderResult:
    return render(
        job,
        output_path=tmp_path / "out" / "out.mp4",
        assets=FolderAssets(media.folder),
        speech=SpeechSynthesizer(EspeakEngine(), tmp_path / "speech"),
        workdir=tmp_path / "work",
    )


def words(text: str) -> list[str]:
    return text.split()


def onsets_s(path: Path, *, silence_s: float = 0.25, floor_db: float = -45.0) -> list[float]:
    """Where sound starts after at least ``silence_s`` of silence, in 5 ms steps."""
    audio = decode_audio(path).mean(axis=0)
    step = SR // 200
    levels = [
        20 * np.log10(np.sqrt(np.mean(audio[i : i + step] ** 2)) + 1e-12)
        for i in range(0, len(audio) - step, step)
    ]
    found, quiet = [], silence_s  # the file's start counts as silence
    for k, level in enumerate(levels):
        if level < floor_db:
            quiet += step / SR
        else:
            if quiet >= silence_s:
                found.append(k * step / SR)
            quiet = 0.0
    return found


@pytest.fixture(scope="module")
def captioned(media: Media, tmp_path_factory: pytest.TempPathFactory) -> tuple[RenderResult, Any]:
    video = media.video("captions-10s.mp4", duration_s=10.0)
    job = spec(video.name, [tts(0.5, FIRST), tts(6.0, SECOND, captions=True)], {"language": "en-US", **RULES})
    return run(media, tmp_path_factory.mktemp("captioned"), job), job


def test_sidecars_hold_every_word_once_in_order(captioned: tuple[RenderResult, Any]) -> None:
    result, _ = captioned
    assert [(c.format, c.language) for c in result.captions] == [("srt", "en-US"), ("vtt", "en-US")]
    for caption in result.captions:
        assert caption.path == result.output_path.with_suffix(f".{caption.format}")
        subs = pysubs2.load(str(caption.path))
        shown = [w for event in subs for w in words(event.plaintext)]
        assert shown == words(FIRST) + words(SECOND)


def test_every_cue_obeys_the_rules(captioned: tuple[RenderResult, Any]) -> None:
    result, _ = captioned
    subs = pysubs2.load(str(result.captions[0].path))
    previous_end = 0
    for event in subs:
        lines = event.plaintext.split("\n")
        assert len(lines) <= 2 and all(len(line) <= 42 for line in lines), lines
        duration_s = (event.end - event.start) / 1000
        assert 0.8 <= duration_s <= 7.0
        assert len("".join(lines)) / duration_s <= 20.0
        assert event.start - previous_end >= 66  # two frames at 30 fps
        previous_end = event.end
    assert subs[-1].end / 1000 <= result.duration_s


def test_cues_start_where_the_speech_is_heard(captioned: tuple[RenderResult, Any]) -> None:
    result, _ = captioned
    starts = [e.start / 1000 for e in pysubs2.load(str(result.captions[0].path))]
    heard = onsets_s(result.output_path)
    assert len(heard) >= 2
    for onset in heard:  # every speech onset after a pause of >= 250 ms opens a cue
        assert min(abs(onset - s) for s in starts) <= 0.080, (onset, starts)
    for event_start in (0.5, 6.0):  # the first cue of each event
        first = min(s for s in starts if s >= event_start - 0.01)
        assert min(abs(first - o) for o in heard) <= 0.080


def test_the_mp4_carries_the_cues_as_a_mov_text_track(
    captioned: tuple[RenderResult, Any], media: Media
) -> None:
    result, _ = captioned
    subs = pysubs2.load(str(result.captions[0].path))
    with av.open(str(result.output_path)) as container:
        stream = container.streams.subtitles[0]
        assert stream.codec_context.name == "mov_text"
        assert stream.metadata["language"] == "eng"
        samples = [(p.pts, bytes(p)[2:].decode()) for p in container.demux(stream) if p.size > 2]
    assert samples == [(e.start, e.plaintext) for e in subs]


def test_on_the_fast_path_the_video_packets_are_unchanged(
    captioned: tuple[RenderResult, Any], media: Media
) -> None:
    result, _ = captioned
    assert result.video_copied

    def packets(path: Path) -> list[bytes]:
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]

    assert packets(result.output_path) == packets(media.folder / "captions-10s.mp4")


def test_the_reencode_path_carries_the_track_too(media: Media, tmp_path: Path) -> None:
    video = media.video("captions-mpeg4.mp4", duration_s=3.0, codec="mpeg4")
    result = run(media, tmp_path, spec(video.name, [tts(0.2, "Encoded again.")], {"formats": ["vtt"]}))
    assert not result.video_copied
    assert [c.format for c in result.captions] == ["vtt"]
    with av.open(str(result.output_path)) as container:
        stream = container.streams.subtitles[0]
        texts = [bytes(p)[2:].decode() for p in container.demux(stream) if p.size > 2]
    assert texts == ["Encoded again."]


def test_ssml_captions_show_what_is_said(media: Media, tmp_path: Path) -> None:
    video = media.video("captions-3s.mp4", duration_s=3.0)
    text = '<speak>Visit the <sub alias="World Wide Web">WWW</sub> <break time="300ms"/>today.</speak>'
    job = spec(video.name, [tts(0.1, text, providerConfig={"textType": "ssml"})], {"track": False})
    result = run(media, tmp_path, job)
    subs = pysubs2.load(str(result.captions[0].path))
    assert " ".join(e.plaintext.replace("\n", " ") for e in subs) == "Visit the World Wide Web today."
    with av.open(str(result.output_path)) as container:
        assert not container.streams.subtitles


def test_captions_asset_is_shifted_by_the_event_start(media: Media, tmp_path: Path) -> None:
    video = media.video("captions-3s.mp4", duration_s=3.0)
    media.tone("captions-tone.wav", 1.0)
    (media.folder / "own.srt").write_text("1\n00:00:00,200 --> 00:00:01,200\nRock & roll, 100% kept\n")
    job = spec(
        video.name,
        [{"start": 1.0, "type": "audio", "data": {"assetId": "tone", "captionsAssetId": "own"}}],
        {},
        audio=[{"id": "tone", "source": "captions-tone.wav"}],
        captions=[{"id": "own", "source": "own.srt"}],
    )
    result = run(media, tmp_path, job)
    vtt = result.output_path.with_suffix(".vtt").read_text()
    assert "00:00:01.200 --> 00:00:02.200\nRock &amp; roll, 100% kept" in vtt
    assert [(e.start, e.plaintext) for e in pysubs2.load(str(result.captions[0].path))] == [
        (1200, "Rock & roll, 100% kept")
    ]


def test_a_captions_asset_that_is_no_subtitle_file_names_the_asset(media: Media, tmp_path: Path) -> None:
    video = media.video("captions-3s.mp4", duration_s=3.0)
    media.tone("captions-tone.wav", 1.0)
    (media.folder / "bad.srt").write_bytes(b"\x00\xff\xfe not text")
    job = spec(
        video.name,
        [{"start": 0.0, "type": "audio", "data": {"assetId": "tone", "captionsAssetId": "bad"}}],
        {},
        audio=[{"id": "tone", "source": "captions-tone.wav"}],
        captions=[{"id": "bad", "source": "bad.srt"}],
    )
    with pytest.raises(AssetError, match=r"bad.*not (a UTF-8 text|an SRT or WebVTT) file"):
        run(media, tmp_path, job)


def test_nothing_to_caption_is_a_warning(media: Media, tmp_path: Path) -> None:
    video = media.video("captions-3s.mp4", duration_s=3.0)
    result = run(media, tmp_path, spec(video.name, [tts(0.1, "Not shown.", captions=False)], {}))
    assert [w.code for w in result.warnings] == [NOTHING_TO_CAPTION]
    assert pysubs2.load(str(result.captions[0].path), format_="srt").events == []
    assert result.captions[1].path.read_text() == "WEBVTT\n\n"


def test_captions_are_cut_at_the_video_end(media: Media, tmp_path: Path) -> None:
    video = media.video("captions-2s.mp4", duration_s=2.0)
    result = run(
        media, tmp_path, spec(video.name, [tts(0.5, "One. Two. Three. Four. Five. Six. Seven.")], {})
    )
    assert CAPTIONS_CUT_AT_END in [w.code for w in result.warnings]
    subs = pysubs2.load(str(result.captions[0].path))
    assert subs.events and all(e.end <= 2000 for e in subs)
    message = next(w.message for w in result.warnings if w.code == CAPTIONS_CUT_AT_END)
    assert re.search(r"\d+ word\(s\)", message)


class CountingEspeak(EspeakEngine):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def synthesize(self, request: Any) -> Any:
        self.calls += 1
        return super().synthesize(request)


def test_a_cached_voice_over_keeps_its_captions(media: Media, tmp_path: Path) -> None:
    video = media.video("captions-3s.mp4", duration_s=3.0)
    job = spec(video.name, [tts(0.2, "Cached words stay timed.")], {"formats": ["srt"]})
    engine = CountingEspeak()
    texts = []
    for attempt in range(2):
        result = render(
            job,
            output_path=tmp_path / f"out{attempt}" / "out.mp4",
            assets=FolderAssets(media.folder),
            speech=SpeechSynthesizer(engine, tmp_path / "speech"),
            workdir=tmp_path / f"work{attempt}",
        )
        texts.append(result.captions[0].path.read_text())
    assert engine.calls == 1
    assert texts[0] == texts[1] and "Cached words stay timed." in texts[0]
