"""The benchmark's inputs, generated once into a cache folder and reused by every run.

One job, scaled to the video's length: a music loop (played in a loop with crossfades), two
speech events that duck the music, two sound effects. The video is a cheap moving test pattern
encoded once as a short H.264 segment (libx264 ultrafast) whose packets are then repeated up to
the wanted length: a 10-minute 1080p input takes seconds to make, not minutes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from autovid import samples
from autovid.adapters.local.espeak import EspeakEngine
from autovid.spec.models import TtsData
from autovid.speech.synthesizer import SpeechSynthesizer, speech_request

SPEECH_TEXTS = (
    "Welcome to the quarterly product update. Today we walk through three new features.",
    "Thanks for watching. Every voice, sound and music cue here was mixed automatically.",
)
SHORT_SPEECH_TEXTS = ("Hello.", "Bye.")
INPUTS_VERSION = 3  # part of the cache folder's name: bump it when the inputs change
MIX_RATE_HZ = 48_000
MIX_CHUNK_SAMPLES = 2_000  # MoviePy's own audio buffer: its readers fail on larger overshoots
SEGMENT_S = 10  # length of the video segment that is encoded once and repeated
Window = tuple[float, float]  # (start_s, end_s)


@dataclass(frozen=True)
class JobShape:
    """Where things happen in the benchmark job, as a function of the video's length."""

    duration_s: int
    width: int = 1920
    height: int = 1080
    fps: int = 30

    @property
    def music_s(self) -> float:
        # ~24 s so a 60 s video loops the track twice and crosses two crossfades.
        return 24.0 if self.duration_s >= 40 else max(0.8, round(self.duration_s * 0.45, 2))

    @property
    def crossfade_s(self) -> float:
        return min(2.0, round(self.music_s / 4, 2))

    @property
    def short(self) -> bool:
        return self.duration_s < 10

    def speech_starts_s(self) -> tuple[float, float]:
        return (round(self.duration_s * 0.15, 2), round(self.duration_s * 0.6, 2))

    def effect_starts_s(self) -> tuple[float, float]:
        return (round(self.duration_s * 0.05, 2), round(self.duration_s * 0.85, 2))


@dataclass(frozen=True)
class BenchInputs:
    """Everything a contender needs for one job, all inside ``folder``."""

    folder: Path
    shape: JobShape
    spec_path: Path
    video_path: Path
    speech_paths: dict[int, Path]  # timeline index -> pre-synthesized WAV (for the MoviePy side)
    speech_cache_dir: Path  # autovid's speech cache (AUTOVID_CACHE_DIR)
    mix_pcm: Path  # the job's mix, interleaved stereo float32 at 48 kHz, for the AAC floor
    ducked_window_s: Window | None
    unducked_window_s: Window | None


def prepare(cache_dir: Path, shape: JobShape, *, log: Callable[[str], None] = print) -> BenchInputs:
    """Make (or reuse) every input for ``shape`` under ``cache_dir``."""
    cache_dir = cache_dir.resolve()  # children run in other working directories
    folder = cache_dir / f"job{INPUTS_VERSION}_{shape.width}x{shape.height}_{shape.duration_s}s"
    folder.mkdir(parents=True, exist_ok=True)
    video_path = folder / "video.mp4"
    if not video_path.exists():
        log(f"generating {shape.duration_s} s {shape.width}x{shape.height} video")
        make_video(video_path, shape, cache_dir)
    music = folder / "music_loop.mp3"
    if not music.exists():  # 44.1 kHz like most music files: autovid resamples it
        samples.make_music_loop(_partial(music), shape.music_s, sample_rate=44_100).replace(music)
    whoosh = folder / "whoosh.wav"
    if not whoosh.exists():
        samples.make_effect(_partial(whoosh), "whoosh", sample_rate=44_100).replace(whoosh)
    impact = folder / "impact.mp3"
    if not impact.exists():
        samples.make_effect(_partial(impact), "impact", sample_rate=48_000).replace(impact)
    spec = job_spec(shape)
    spec_path = folder / "job.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    speech_cache = cache_dir / "speech-cache"
    speech_paths = synthesize_speech(spec, speech_cache)
    assets = {"whoosh": whoosh, "impact": impact}
    durations = {index: audio_duration_s(path) for index, path in speech_paths.items()}
    for index, event in enumerate(spec["timeline"]):
        if event["type"] == "audio":
            durations[index] = audio_duration_s(assets[event["data"]["assetId"]])
    ducked, unducked = measurement_windows(spec, durations, shape.duration_s)
    mix_pcm = folder / "mix_48k_f32.raw"
    if not mix_pcm.exists():
        log(f"mixing the {shape.duration_s} s job losslessly for the AAC floor")
        write_reference_mix(spec_path, speech_paths, mix_pcm)
    return BenchInputs(
        folder=folder,
        shape=shape,
        spec_path=spec_path,
        video_path=video_path,
        speech_paths=speech_paths,
        speech_cache_dir=speech_cache,
        mix_pcm=mix_pcm,
        ducked_window_s=ducked,
        unducked_window_s=unducked,
    )


# --- the job spec ------------------------------------------------------------------------------


def job_spec(shape: JobShape) -> dict[str, Any]:
    """The autovid job: looped, crossfaded music; two ducking speech events; two effects; no
    ``bitrate``/``fps`` so the video takes the fast path (packet copy)."""
    texts = SHORT_SPEECH_TEXTS if shape.short else SPEECH_TEXTS
    speech = [
        {
            "start": start,
            "type": "tts",
            "data": {"text": text, "volume": 1.0, "duckingLevel": 0.2, "duckingFadeDuration": 0.5},
        }
        for start, text in zip(shape.speech_starts_s(), texts, strict=True)
    ]
    effect_whoosh, effect_impact = shape.effect_starts_s()
    effects = [
        {"start": effect_whoosh, "type": "audio", "data": {"assetId": "whoosh", "volume": 0.6}},
        {"start": effect_impact, "type": "audio", "data": {"assetId": "impact", "volume": 0.8}},
    ]
    return {
        "jobInfo": {"projectId": "benchmarks", "title": f"render benchmark {shape.duration_s}s"},
        "assets": {
            "video": {"id": "main_video", "source": "video.mp4"},
            "audio": [
                {"id": "music", "source": "music_loop.mp3"},
                {"id": "whoosh", "source": "whoosh.wav"},
                {"id": "impact", "source": "impact.mp3"},
            ],
        },
        "backgroundMusic": {
            "playlist": ["music"],
            "loop": True,
            "volume": 0.3,
            "crossfadeDuration": shape.crossfade_s,
        },
        "timeline": [speech[0], effects[0], speech[1], effects[1]],
        "output": {"filename": "bench.mp4"},
    }


def measurement_windows(
    spec: dict[str, Any], event_durations_s: dict[int, float], duration_s: float
) -> tuple[Window | None, Window | None]:
    """A window inside the first speech event (music ducked) and one with music alone (the middle
    of the longest stretch clear of every event and its ducking ramps); None when the job is too
    short to have one."""
    timeline = spec["timeline"]
    assert isinstance(timeline, list)
    speech = [i for i, event in enumerate(timeline) if event["type"] == "tts"]
    ducked = None
    if speech:
        first = speech[0]
        length = min(1.0, event_durations_s[first] / 2)
        middle = float(timeline[first]["start"]) + event_durations_s[first] / 2
        ducked = (middle - length / 2, middle + length / 2)
    busy = sorted(
        (float(event["start"]) - 0.6, float(event["start"]) + event_durations_s[i] + 0.6)
        for i, event in enumerate(timeline)
    )
    gaps, cursor = [], 0.0
    for begin, end in busy:
        gaps.append((cursor, begin))
        cursor = max(cursor, end)
    gaps.append((cursor, duration_s))
    gap_start, gap_end = max(gaps, key=lambda gap: gap[1] - gap[0])
    if gap_end - gap_start < 0.2:
        return ducked, None
    length = min(1.0, (gap_end - gap_start) / 2)
    centre = (gap_start + gap_end) / 2
    return ducked, (centre - length / 2, centre + length / 2)


# --- speech --------------------------------------------------------------------------------------


def synthesize_speech(spec: dict[str, Any], speech_cache: Path) -> dict[int, Path]:
    """Speech for every TTS event, synthesized once through autovid's own synthesizer and cache:
    the MoviePy side reads exactly the files autovid's warm cache serves."""
    synthesizer = SpeechSynthesizer(EspeakEngine(), speech_cache)
    return {
        index: Path(synthesizer.synthesize(speech_request(TtsData.model_validate(event["data"]))))
        for index, event in enumerate(spec["timeline"])
        if event["type"] == "tts"
    }


def write_reference_mix(spec_path: Path, speech_paths: dict[int, Path], pcm_path: Path) -> None:
    """The job's mix, rendered without loss by the MoviePy reference's audio graph, as raw
    interleaved stereo float32 at 48 kHz: the content the AAC floor encodes. (The AAC encoder's
    speed depends on the content: a test tone encodes ~1.5x faster than this mix, and a decoded
    AAC file slower.)"""
    from benchmarks.moviepy_reference import build  # MoviePy only when a mix is missing

    video, mix = build(json.loads(spec_path.read_text()), spec_path.parent, speech_paths)
    partial = pcm_path.with_name(pcm_path.name + ".partial")
    try:
        with partial.open("wb") as out:
            for chunk in mix.iter_chunks(chunksize=MIX_CHUNK_SAMPLES, fps=MIX_RATE_HZ):
                np.asarray(chunk, np.float32).reshape(-1, 2).tofile(out)
    finally:
        video.close()
        _close_all(mix)
    partial.replace(pcm_path)


def _close_all(clip: Any) -> None:
    """Close a composite clip's sources (each holds an ffmpeg reader process)."""
    for inner in getattr(clip, "clips", []):
        _close_all(inner)
    clip.close()


def audio_duration_s(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.rate


def _partial(path: Path) -> Path:
    """Where to write ``path`` first (same suffix, so the encoder is chosen alike), so that an
    interrupted run never leaves a truncated input in the cache."""
    return path.with_name(f"{path.stem}.partial{path.suffix}")


# --- video ---------------------------------------------------------------------------------------


def make_video(path: Path, shape: JobShape, scratch_dir: Path) -> None:
    """H.264 test pattern of ``shape.duration_s``: one segment encoded, its packets repeated."""
    segment_s = shape.duration_s if shape.duration_s <= 12 else SEGMENT_S
    if shape.duration_s % segment_s:
        raise ValueError(f"video length must be at most 12 s or a multiple of {SEGMENT_S} s")
    segment = scratch_dir / f"segment_{shape.width}x{shape.height}_{shape.fps}fps_{segment_s}s.mp4"
    if not segment.exists():
        encode_segment(segment, shape.width, shape.height, shape.fps, segment_s * shape.fps)
    repeat_packets(segment, path, shape.duration_s // segment_s, segment_s * shape.fps, shape.fps)


def encode_segment(path: Path, width: int, height: int, fps: int, frames: int) -> None:
    """A scrolling noise texture over a gradient with film grain and a moving box: ~4-5 Mbit/s at
    1080p, a realistic rate for a 1080p30 upload."""
    rng = np.random.default_rng(1)
    texture = np.kron(
        rng.integers(0, 255, (height // 2, width // 2), dtype=np.uint8), np.ones((2, 2), np.uint8)
    )
    gradient = (np.arange(width)[None, :] * 255 // width).astype(np.uint16)
    base = ((texture.astype(np.uint16) + gradient) // 2).astype(np.uint8)
    grain = [rng.integers(0, 8, (height, width), dtype=np.uint8) for _ in range(7)]
    chroma = np.full((height // 2, width), 128, np.uint8)  # U and V planes, grey
    tmp = path.with_name(path.name + ".part.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "28", "g": str(2 * fps)}
        box = max(8, height // 10)
        for index in range(frames):
            luma = np.roll(base, index * max(1, width // 480), axis=1) + grain[index % len(grain)]
            top = (index * 3) % max(1, height - box)
            luma[top : top + box, width // 10 : width // 10 + 2 * box] = 235
            frame = av.VideoFrame.from_ndarray(np.concatenate([luma, chroma]), format="yuv420p")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    tmp.replace(path)


def repeat_packets(segment: Path, path: Path, repeats: int, segment_frames: int, fps: int) -> None:
    """Concatenate ``repeats`` copies of ``segment`` without re-encoding. Each copy starts with an
    IDR frame (x264 closed GOPs), so the result is a valid stream."""
    tmp = path.with_name(path.name + ".part.mp4")
    with av.open(str(tmp), "w", options={"movflags": "+faststart"}) as out:
        out_stream = None
        for copy in range(repeats):
            with av.open(str(segment)) as source:
                in_stream = source.streams.video[0]
                if out_stream is None:
                    out_stream = out.add_stream_from_template(in_stream)
                shift = int(Fraction(copy * segment_frames, fps) / in_stream.time_base)
                for packet in source.demux(in_stream):
                    if packet.dts is None:  # the demuxer's end-of-stream marker
                        continue
                    packet.pts += shift
                    packet.dts += shift
                    packet.stream = out_stream
                    out.mux(packet)
    tmp.replace(path)
