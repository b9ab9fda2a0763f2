"""SRT and WebVTT: writing cues to sidecar files, reading a client's file into cues.

Writing is done here, exactly: the text is the voice-over's own (SRT carries it as is; WebVTT
escapes ``&``, ``<`` and ``>``). Reading a client's file goes through pysubs2, which knows the
formats' variants (BOMs, comma or dot milliseconds, cue settings, styling tags it strips).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pysubs2

from autovid.captions.cues import Cue, Piece

FORMATS = ("srt", "vtt")


class SubtitleFileError(ValueError):
    """The file is not a subtitle file autovid reads (SRT or WebVTT)."""


def srt_text(cues: Sequence[Cue]) -> str:
    blocks = [
        f"{n}\n{_stamp(c.start_s, ',')} --> {_stamp(c.end_s, ',')}\n{c.text}\n" for n, c in enumerate(cues, 1)
    ]
    return "\n".join(blocks)


def vtt_text(cues: Sequence[Cue]) -> str:
    blocks = [f"{_stamp(c.start_s, '.')} --> {_stamp(c.end_s, '.')}\n{_vtt_escape(c.text)}\n" for c in cues]
    return "WEBVTT\n\n" + "\n".join(blocks)


def write_subtitles(cues: Sequence[Cue], path: Path, format: str) -> Path:
    text = srt_text(cues) if format == "srt" else vtt_text(cues)
    path.write_text(text, encoding="utf-8", newline="\n")
    return path


def read_subtitles(path: Path, *, offset_s: float = 0.0) -> list[Cue]:
    """The cues of an SRT or WebVTT file, shifted by ``offset_s``; ``SubtitleFileError`` when it
    is neither (or has no cues)."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SubtitleFileError(f"is not a UTF-8 text file ({exc.__class__.__name__})") from None
    stripped = text.lstrip()
    format = "vtt" if stripped.startswith("WEBVTT") else "srt"
    try:
        parsed = pysubs2.SSAFile.from_string(text, format_=format)
    except Exception as exc:  # pysubs2 raises its own and plain ValueErrors for bad input
        raise SubtitleFileError(f"is not an SRT or WebVTT file: {exc}") from None
    cues = [
        _cue(e.start / 1000 + offset_s, e.end / 1000 + offset_s, e.plaintext)
        for e in parsed
        if e.plaintext.strip()
    ]
    if not cues:
        raise SubtitleFileError("is not an SRT or WebVTT file: it holds no cues")
    return cues


def _cue(start_s: float, end_s: float, text: str) -> Cue:
    lines = tuple(
        tuple(Piece(word, True, start_s, end_s) for word in line.split())
        for line in text.splitlines()
        if line.strip()
    )
    return Cue(start_s, max(end_s, start_s), lines, given=True)


def _stamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
