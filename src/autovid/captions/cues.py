"""Cue building, pure: timed words in, subtitle cues out, following subtitle-craft rules.

A cue holds at most ``max_lines`` lines of at most ``max_chars_per_line`` characters, stays on
screen between ``min_duration_s`` and ``max_duration_s`` and long enough to be read at
``max_chars_per_second``, and leaves ``gap_s`` (two frames) before the next. Cues end at sentence
ends and at pauses in the speech; a cue that would overflow is cut at the last clause punctuation
in its second half, else between words (never inside one; CJK text, which has no spaces, between
characters). Text stays in logical order: right-to-left display is the player's job.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from autovid.ports import WordTiming

PAUSE_BREAK_S = 0.2  # a silence this long between two words starts a new cue
_SENTENCE_END = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019\u00bb)\]]*$")
_CLAUSE_END = re.compile(r"[,;:\u2014\u2013\u3001\uff0c\uff1b\uff1a][\"'\u201d\u2019\u00bb)\]]*$")


@dataclass(frozen=True)
class CaptionRules:
    max_chars_per_line: int = 42
    max_lines: int = 2
    max_chars_per_second: float = 20.0
    min_duration_s: float = 0.8
    max_duration_s: float = 7.0
    gap_s: float = 2 / 25


@dataclass(frozen=True)
class Piece:
    """A word as shown: its text, whether a space comes before it on its line, when it is said."""

    text: str
    spaced: bool
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    lines: tuple[tuple[Piece, ...], ...]
    given: bool = False  # from a client's subtitle file: its times are kept (only overlaps end)

    @property
    def text(self) -> str:
        return "\n".join(line_text(line) for line in self.lines)


@dataclass(frozen=True)
class CaptionTrack:
    """The speech of one timeline event: its words, with times relative to ``offset_s``."""

    offset_s: float
    words: tuple[WordTiming, ...]


@dataclass(frozen=True)
class BuiltCues:
    cues: tuple[Cue, ...]
    dropped_words: int  # words said after the video's end, left out
    cut_s: float | None  # where cues were cut (the video's end), when any was


def line_text(line: Sequence[Piece]) -> str:
    return "".join((" " if piece.spaced and i else "") + piece.text for i, piece in enumerate(line))


def build_cues(
    tracks: Sequence[CaptionTrack], rules: CaptionRules, *, end_s: float, given: Sequence[Cue] = ()
) -> BuiltCues:
    """Every track's words as cues, with the ``given`` ones (a client's subtitle file), in time
    order, none overlapping, none after ``end_s``."""
    cues: list[Cue] = list(given)
    for track in tracks:
        pieces = _pieces(track)
        for group in _groups(pieces, rules):
            lines = wrap(group, rules.max_chars_per_line, rules.max_lines)
            cues.append(Cue(group[0].start_s, group[-1].end_s, lines))
    cues.sort(key=lambda c: c.start_s)
    timed = _timed(cues, rules)
    return _cut_at(timed, end_s, rules)


def _pieces(track: CaptionTrack) -> list[Piece]:
    """The track's words as pieces: a phrase timed as one (engines that time phrases) is split at
    its spaces so lines can break inside it; its parts share the phrase's times."""
    pieces: list[Piece] = []
    previous_end: int | None = None
    for word in track.words:
        start_s, end_s = track.offset_s + word.start_s, track.offset_s + max(word.end_s, word.start_s)
        spaced = previous_end is None or word.start_char > previous_end
        for k, part in enumerate(word.text.split()):
            pieces.append(Piece(part, spaced or k > 0, start_s, end_s))
        previous_end = word.end_char
    return pieces


def _groups(pieces: list[Piece], rules: CaptionRules) -> list[list[Piece]]:
    groups: list[list[Piece]] = []
    current: list[Piece] = []
    for piece in pieces:
        if current and piece.start_s - current[-1].end_s >= PAUSE_BREAK_S:
            groups.append(current)
            current = []
        while current and not _fits([*current, piece], rules):
            cut = _best_cut(current)
            groups.append(current[:cut])
            current = current[cut:]
        current.append(piece)
        if _SENTENCE_END.search(piece.text):
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


def _fits(pieces: list[Piece], rules: CaptionRules) -> bool:
    if len(pieces) > 1 and pieces[-1].end_s - pieces[0].start_s > rules.max_duration_s:
        return False
    return wrap_or_none(tuple(pieces), rules.max_chars_per_line, rules.max_lines) is not None


def _best_cut(pieces: list[Piece]) -> int:
    """Where to end a full cue: after the last clause end in its second half, else at its end."""
    for k in range(len(pieces) - 1, max(0, len(pieces) // 2 - 1), -1):
        if _CLAUSE_END.search(pieces[k - 1].text):
            return k
    return len(pieces)


def wrap(pieces: Sequence[Piece], max_chars: int, max_lines: int) -> tuple[tuple[Piece, ...], ...]:
    """The pieces in at most ``max_lines`` balanced lines (a word longer than a line stays whole)."""
    lines = wrap_or_none(tuple(pieces), max_chars, max_lines)
    # None: a single word longer than a line (cues are cut before anything else overflows).
    return lines if lines is not None else (tuple(pieces),)


@lru_cache(maxsize=4096)
def wrap_or_none(
    pieces: tuple[Piece, ...], max_chars: int, max_lines: int
) -> tuple[tuple[Piece, ...], ...] | None:
    """Balanced lines (the longest as short as it can be, clause ends preferred as line ends), or
    None when the pieces do not fit."""
    if len(line_text(pieces)) <= max_chars:
        return (pieces,)
    best: tuple[float, tuple[tuple[Piece, ...], ...]] | None = None
    for cut in range(1, len(pieces)):
        head = pieces[:cut]
        if len(line_text(head)) > max_chars:
            break
        if max_lines < 2:
            continue
        rest = wrap_or_none(pieces[cut:], max_chars, max_lines - 1)
        if rest is None:
            continue
        # Shortest longest line; a clause end at a line's end is worth a few characters.
        longest = max(len(line_text(head)), *(len(line_text(line)) for line in rest))
        score = longest - (4 if _CLAUSE_END.search(head[-1].text) else 0)
        if best is None or score < best[0]:
            best = (score, (head, *rest))
    return best[1] if best else None


def _timed(cues: list[Cue], rules: CaptionRules) -> list[Cue]:
    """Ends lengthened to the reading time and the minimum duration, within the maximum and the
    gap before the next cue; a cue overlapping the next (two voices at once) ends before it."""
    timed: list[Cue] = []
    for index, cue in enumerate(cues):
        start_s = max(cue.start_s, timed[-1].end_s + rules.gap_s) if timed else cue.start_s
        chars = len(cue.text.replace("\n", ""))
        reading_s = 0.0 if cue.given else max(rules.min_duration_s, chars / rules.max_chars_per_second)
        end_s = max(cue.end_s, start_s + reading_s)
        if not cue.given:
            end_s = min(end_s, start_s + rules.max_duration_s)
        if index + 1 < len(cues):
            next_start = cues[index + 1].start_s
            end_s = min(end_s, max(next_start - rules.gap_s, start_s + min(reading_s, rules.min_duration_s)))
        timed.append(replace(cue, start_s=start_s, end_s=end_s))
    return timed


def _cut_at(cues: list[Cue], end_s: float, rules: CaptionRules) -> BuiltCues:
    kept: list[Cue] = []
    dropped = 0
    cut = False
    for cue in cues:
        if cue.start_s >= end_s - 0.1:  # a cue that could not be read before the end
            dropped += sum(len(line) for line in cue.lines)
            cut = True
        elif cue.end_s > end_s:
            kept.append(replace(cue, end_s=end_s))
            cut = True
        else:
            kept.append(cue)
    return BuiltCues(tuple(kept), dropped, end_s if cut else None)


def frame_gap_s(frame_rate: float | None) -> float:
    """Two frames at the video's rate (25 fps when unknown)."""
    rate = frame_rate if frame_rate and math.isfinite(frame_rate) and frame_rate > 0 else 25.0
    return 2 / rate
