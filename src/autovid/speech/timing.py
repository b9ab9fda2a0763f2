"""Word timings from an engine's anchors: the spoken text cut into words, each timed by the engine.

An engine reports where it is in the text at some moments of the audio (espeak-ng's word and mark
events, Polly's speech marks, or the start of each separately synthesized phrase): an *anchor* is a
character position in the spoken text and the time its word starts. The words captions show come
from the text itself (split at whitespace; CJK ideographs and kana one by one), so every word is
shown once, in order, spelled as written; a word the engine did not time (a dash, a symbol, the
rest of a phrase) joins the timed word before it. Nothing is ever timed from the text's length.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autovid.ports import WordTiming

if TYPE_CHECKING:
    import numpy as np

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A pattern, compiled on first use (and kept in re's cache): this one takes ~3 ms to compile, and
# only word timings (captions) need it.
_TOKEN = rf"[{_CJK}]|[^\s{_CJK}]+"


@dataclass(frozen=True)
class Anchor:
    char: int  # position in the spoken text
    start_s: float
    end_s: float | None = None  # None: the word lasts until the next anchor (or the audio's end)


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the words of ``text``."""
    return [match.span() for match in re.finditer(_TOKEN, text)]


def timed_words(text: str, anchors: list[Anchor], duration_s: float) -> tuple[WordTiming, ...]:
    """The words of ``text`` with the times of the anchors that fall in them."""
    spans = word_spans(text)
    if not spans or not anchors:
        return ()
    ends = [end for _, end in spans]
    starts: dict[int, float] = {}
    finishes: dict[int, float] = {}
    for anchor in sorted(anchors, key=lambda a: (a.start_s, a.char)):
        # An anchor in the space between two words belongs to the word after it.
        index = min(bisect.bisect_right(ends, anchor.char), len(spans) - 1)
        if index not in starts:
            starts[index] = anchor.start_s
        if anchor.end_s is not None:
            finishes[index] = max(finishes.get(index, 0.0), anchor.end_s)
    return _units(text, spans, starts, finishes, duration_s)


def _units(
    text: str,
    spans: list[tuple[int, int]],
    starts: dict[int, float],
    finishes: dict[int, float],
    duration_s: float,
) -> tuple[WordTiming, ...]:
    timed = sorted(starts)
    # Words before the first timed one join it; each other untimed word joins the one before it.
    groups = [
        (timed[k] if k else 0, timed[k + 1] if k + 1 < len(timed) else len(spans)) for k in range(len(timed))
    ]
    units: list[WordTiming] = []
    for k, (first, stop) in enumerate(groups):
        start_s = max(starts[timed[k]], units[-1].start_s if units else 0.0)
        next_s = starts[timed[k + 1]] if k + 1 < len(timed) else duration_s
        end_s = max((finishes[i] for i in range(first, stop) if i in finishes), default=next_s)
        end_s = min(max(end_s, start_s), max(next_s, start_s))
        char_start, char_end = spans[first][0], spans[stop - 1][1]
        units.append(WordTiming(text[char_start:char_end], start_s, end_s, char_start, char_end))
    return tuple(units)


def trim_to_sound(
    words: tuple[WordTiming, ...], samples: np.ndarray, sample_rate_hz: int, *, floor: float = 0.01
) -> tuple[WordTiming, ...]:
    """Each word's times moved in to where its own audio is audible: an engine that counts the
    pause before a word as the word's start (espeak-ng does) would show the caption early."""
    import numpy as np  # here: the API process builds the speech engine but never synthesizes

    level = np.abs(samples.astype(np.float32)) / (np.abs(samples).max() or 1)
    loud = np.flatnonzero(level > floor)
    trimmed: list[WordTiming] = []
    for word in words:
        first, last = round(word.start_s * sample_rate_hz), round(word.end_s * sample_rate_hz)
        inside = loud[np.searchsorted(loud, first) : np.searchsorted(loud, last)]  # loud is sorted
        if inside.size:
            start_s, end_s = inside[0] / sample_rate_hz, (inside[-1] + 1) / sample_rate_hz
            word = WordTiming(word.text, float(start_s), float(end_s), word.start_char, word.end_char)
        trimmed.append(word)
    return tuple(trimmed)
