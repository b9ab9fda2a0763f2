"""What a render reports besides its file: warnings, the audio's loudness, the captions written,
the voice each TTS event was spoken with. Plain values, shared by the CLI, the job record, the
status document and the webhook."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Warning codes: stable strings clients can match on; the message says what and by how much.
SPEECH_CUT_AT_END = "speech_cut_at_end"
CLIP_CUT_AT_END = "clip_cut_at_end"
EVENT_AFTER_END = "event_after_end"
CROSSFADE_CLAMPED = "crossfade_clamped"
HEAVY_LIMITING = "heavy_limiting"
LOUDNESS_GAIN_CAPPED = "loudness_gain_capped"
VOICE_SUBSTITUTED = "voice_substituted"
NOTHING_TO_CAPTION = "nothing_to_caption"
CAPTIONS_CUT_AT_END = "captions_cut_at_end"


@dataclass(frozen=True)
class RenderWarning:
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class AudioReport:
    """The output's audio measured to ITU-R BS.1770 (LUFS, dBTP, LU); ``target_lufs`` is None
    when the spec asked for no loudness target."""

    integrated_lufs: float | None
    true_peak_dbtp: float | None
    loudness_range: float | None
    target_lufs: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "integratedLufs": _rounded(self.integrated_lufs),
            "truePeakDbtp": _rounded(self.true_peak_dbtp),
            "loudnessRange": _rounded(self.loudness_range),
            "targetLufs": self.target_lufs,
        }


@dataclass(frozen=True)
class CaptionFile:
    """A sidecar subtitle file written next to the MP4."""

    format: str  # "srt" | "vtt"
    language: str  # BCP 47, e.g. "en-US"
    path: Path


@dataclass(frozen=True)
class VoiceUsed:
    """The voice a TTS event was spoken with; ``requested`` differs when a local voice stood in."""

    event_index: int  # index in the spec's timeline
    requested: str  # the spec's voiceId
    engine: str  # "espeak-ng", "polly:neural", …
    voice: str  # the engine's own voice name


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
