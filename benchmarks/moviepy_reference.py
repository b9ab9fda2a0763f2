"""The benchmark job rendered with MoviePy 2: what a user would write without autovid.

Idiomatic MoviePy 2, in the style of the MoviePy-based implementation autovid replaces: one
``AudioFileClip`` per placed track, ``with_volume_scaled`` for levels, ``AudioFadeIn`` /
``AudioFadeOut`` for crossfades, a time-varying gain through ``transform`` for ducking,
``CompositeAudioClip`` for the mix and ``write_videofile`` (libx264 ``preset``, AAC) for the output.
It reads the same autovid job spec and follows docs/SPEC.md's render semantics where MoviePy can
(crossfades are linear rather than equal-power, and there is no limiter: MoviePy has neither).

Speech is not synthesized here: the harness passes the pre-synthesized WAV file of each TTS event
(``--speech INDEX=PATH``), the same files autovid's warm cache serves.

    python benchmarks/moviepy_reference.py job.json out.mp4 --speech 0=s0.wav --speech 2=s2.wav
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from moviepy import AudioFileClip, CompositeAudioClip, VideoFileClip, afx

MUSIC_DEFAULTS = {"loop": True, "volume": 0.3, "crossfadeDuration": 2.0}
EVENT_VOLUME_DEFAULTS = {"tts": 1.0, "audio": 0.5}
DUCKING_FADE_DEFAULT_S = 0.5
AUDIO_BITRATE = "192k"  # autovid's default AAC bitrate


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    spec = json.loads(args.spec.read_text())
    speech = dict(_speech_arg(item) for item in args.speech)
    started = time.perf_counter()
    video, mix = build(spec, args.spec.parent, speech)
    built = time.perf_counter()
    video.with_audio(mix).write_videofile(
        str(args.output),
        codec="libx264",
        audio_codec="aac",
        preset=spec["output"].get("encoding", {}).get("preset", "medium"),
        audio_bitrate=AUDIO_BITRATE,
        temp_audiofile_path=str(args.output.parent),
        threads=os.cpu_count(),
        logger=None,
    )
    done = time.perf_counter()
    video.close()
    print(json.dumps({"build_s": built - started, "write_s": done - built, "duration_s": video.duration}))
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="autovid job spec; asset paths relative to it")
    parser.add_argument("output", type=Path, help="output MP4")
    parser.add_argument("--speech", action="append", default=[], metavar="INDEX=PATH")
    return parser.parse_args(argv)


def _speech_arg(item: str) -> tuple[int, Path]:
    index, _, path = item.partition("=")
    return int(index), Path(path)


def build(spec: dict[str, Any], base_dir: Path, speech: dict[int, Path]) -> tuple[Any, Any]:
    """The video clip and its new soundtrack (music bed, ducked, plus the timeline's events)."""
    sources = {asset["id"]: base_dir / asset["source"] for asset in spec["assets"].get("audio", [])}
    video = VideoFileClip(str(base_dir / spec["assets"]["video"]["source"]))
    events, duck_ranges = timeline_clips(spec.get("timeline", []), sources, speech)
    layers = list(events)
    if spec.get("backgroundMusic"):
        bed = music_bed({**MUSIC_DEFAULTS, **spec["backgroundMusic"]}, sources, video.duration)
        if bed is not None:
            layers.insert(0, duck(bed, duck_ranges))
    mix = CompositeAudioClip(layers).with_duration(video.duration)
    return video, mix


def timeline_clips(
    timeline: list[dict[str, Any]], sources: dict[str, Path], speech: dict[int, Path]
) -> tuple[list[Any], list[tuple[float, float, float, float]]]:
    """Each event as a placed, scaled clip; and (start, end, level, fade) for the ducking ones."""
    clips, duck_ranges = [], []
    for index, event in enumerate(timeline):
        data = event["data"]
        path = speech[index] if event["type"] == "tts" else sources[data["assetId"]]
        clip = AudioFileClip(str(path))
        volume = data.get("volume", EVENT_VOLUME_DEFAULTS[event["type"]])
        clips.append(clip.with_volume_scaled(volume).with_start(event["start"]))
        if data.get("duckingLevel") is not None:
            fade_s = data.get("duckingFadeDuration", DUCKING_FADE_DEFAULT_S)
            duck_ranges.append((event["start"], event["start"] + clip.duration, data["duckingLevel"], fade_s))
    return clips, duck_ranges


def music_bed(music: dict[str, Any], sources: dict[str, Path], duration_s: float) -> Any | None:
    """Playlist tracks in order, each overlapping the previous one by the crossfade; repeated
    while ``loop`` until the video ends."""
    playlist = [sources[asset_id] for asset_id in music["playlist"]]
    crossfade_s = music["crossfadeDuration"]
    tracks, start_s, index = [], 0.0, 0
    while start_s < duration_s and (music["loop"] or index < len(playlist)):
        # A fresh clip per placement, as MoviePy users do: clips sharing one reader would seek
        # back and forth during every crossfade.
        track = AudioFileClip(str(playlist[index % len(playlist)])).with_volume_scaled(music["volume"])
        effects = []
        if index > 0 and crossfade_s > 0:
            effects.append(afx.AudioFadeIn(crossfade_s))
        if start_s + track.duration < duration_s and crossfade_s > 0:
            effects.append(afx.AudioFadeOut(crossfade_s))
        if effects:
            track = track.with_effects(effects)
        tracks.append(track.with_start(start_s))
        start_s += max(track.duration - crossfade_s, 0.01)
        index += 1
    if not tracks:
        return None
    return CompositeAudioClip(tracks).with_duration(min(duration_s, tracks[-1].end))


def duck(bed: Any, duck_ranges: list[tuple[float, float, float, float]]) -> Any:
    """Multiply the bed by a gain that ramps down to each range's level over its fade before the
    range starts and back up after it ends; overlapping or touching ranges merge (lowest level)."""
    merged = merge_ranges(duck_ranges)
    if not merged:
        return bed

    def gain(t: np.ndarray) -> np.ndarray:
        result = np.ones_like(t, dtype=float)
        for start, end, level, fade_s in merged:
            xs = [start - fade_s, start, end, end + fade_s] if fade_s > 0 else [start, start, end, end]
            result = np.minimum(result, np.interp(t, xs, [1.0, level, level, 1.0]))
        return result

    def apply(get_frame: Any, t: Any) -> Any:
        frame = get_frame(t)
        factor = gain(np.atleast_1d(np.asarray(t, dtype=float)))
        return frame * (factor[:, None] if frame.ndim == 2 else factor[0])

    return bed.transform(apply)


def merge_ranges(
    ranges: list[tuple[float, float, float, float]],
) -> list[tuple[float, float, float, float]]:
    merged: list[tuple[float, float, float, float]] = []
    for start, end, level, fade_s in sorted(ranges):
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), min(last[2], level), max(last[3], fade_s))
        else:
            merged.append((start, end, level, fade_s))
    return merged


if __name__ == "__main__":
    sys.exit(main())
