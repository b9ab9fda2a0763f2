"""What one job may ask of a worker: frame size, duration, speech, audio layout, streams.

The defaults let a 2-core machine and a 3008 MB Lambda survive any input: a frame of 36 MP
decodes into ~54 MB, and what is refused is refused from the file's headers, before a frame is
decoded or a word is spoken. Each limit is a setting (``AUTOVID_MAX_…``, see docs/SETTINGS.md);
a job over one fails permanently, naming the asset (or the timeline) and the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from autovid.spec.models import JobSpec, TtsEvent


@dataclass(frozen=True)
class RenderLimits:
    max_frame_width: int = 8192
    max_frame_height: int = 8192
    max_frame_pixels: int = 36_000_000
    max_duration_s: float = 4 * 3600.0
    max_speech_chars: int = 50_000  # per job, all speech events together: ~54 min of speech
    max_sample_rate: int = 192_000
    max_channels: int = 8
    max_streams: int = 16  # audio and subtitle streams of one file

    def frame_problem(self, width: int, height: int) -> str | None:
        if width > self.max_frame_width or height > self.max_frame_height:
            return (
                f"its frames are {width}x{height}, over the limit of "
                f"{self.max_frame_width}x{self.max_frame_height} (AUTOVID_MAX_FRAME_WIDTH, _HEIGHT)"
            )
        if width * height > self.max_frame_pixels:
            return (
                f"its frames are {width}x{height} = {width * height} pixels, over the limit of "
                f"{self.max_frame_pixels} (AUTOVID_MAX_FRAME_PIXELS)"
            )
        return None

    def duration_problem(self, duration_s: float | None) -> str | None:
        if duration_s is not None and duration_s > self.max_duration_s:
            return (
                f"it lasts {duration_s:.0f} s, over the limit of {self.max_duration_s:.0f} s "
                "(AUTOVID_MAX_VIDEO_DURATION)"
            )
        return None

    def audio_problem(self, sample_rate: int, channels: int) -> str | None:
        if sample_rate > self.max_sample_rate:
            return (
                f"its audio is sampled at {sample_rate} Hz, over the limit of {self.max_sample_rate} Hz "
                "(AUTOVID_MAX_SAMPLE_RATE)"
            )
        if channels > self.max_channels:
            return (
                f"its audio has {channels} channels, over the limit of {self.max_channels} "
                "(AUTOVID_MAX_CHANNELS)"
            )
        return None

    def streams_problem(self, count: int) -> str | None:
        if count > self.max_streams:
            return (
                f"it has {count} audio and subtitle streams, over the limit of {self.max_streams} "
                "(AUTOVID_MAX_STREAMS)"
            )
        return None

    def speech_problem(self, spec: JobSpec) -> str | None:
        """Speech costs memory and time in proportion to its text: the job's total is capped."""
        total = speech_chars(spec)
        if total > self.max_speech_chars:
            return (
                f"the speech events hold {total} characters together, over the limit of "
                f"{self.max_speech_chars} per job (AUTOVID_MAX_SPEECH_CHARS)"
            )
        return None


def speech_chars(spec: JobSpec) -> int:
    return sum(len(event.data.text) for event in spec.timeline if isinstance(event, TtsEvent))
