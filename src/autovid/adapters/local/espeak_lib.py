"""espeak-ng through its library (libespeak-ng, ctypes): the audio and the engine's own timings.

The command line cannot say where each word falls in the audio; the library reports it with every
block of samples it hands back (``espeakEVENT_WORD`` with the word's character position, and
``espeakEVENT_MARK`` for an SSML ``<mark>``). The library keeps one global state, so syntheses
take turns behind a process-wide lock; the callback's return value stops a synthesis that runs
over its time limit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import struct
import threading
import time
from dataclasses import dataclass, field

from autovid.errors import SpeechError, TransientSpeechError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 0x1
_SSML = 0x10
_ENDPAUSE = 0x1000
EVENT_LIST_TERMINATED, EVENT_WORD, EVENT_SENTENCE, EVENT_MARK, EVENT_END = 0, 1, 2, 3, 5

_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_sample_rate_hz = 0


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based, in characters
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # milliseconds
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_void_p),  # a number, or for marks a char* to the name
    ]


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class EngineEvent:
    kind: int  # EVENT_WORD, EVENT_MARK, EVENT_END, …
    char: int  # 0-based character position in the text given (words)
    time_s: float
    name: str = ""  # the mark's name


@dataclass
class Synthesis:
    samples: list[bytes] = field(default_factory=list)
    events: list[EngineEvent] = field(default_factory=list)
    sample_rate_hz: int = 22_050

    def wav(self) -> bytes:
        data = b"".join(self.samples)
        header = struct.pack(
            "<4sI4s4sIHHIIHH4sI",
            b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16, 1, 1,
            self.sample_rate_hz, self.sample_rate_hz * 2, 2, 16, b"data", len(data),
        )  # fmt: skip
        return header + data


def synthesize(text: str, voice: str, *, ssml: bool, timeout_s: float) -> Synthesis:
    """Speak ``text`` with ``voice``: 16-bit mono samples and the engine's events."""
    with _lock:
        library = _load()
        result = Synthesis(sample_rate_hz=_sample_rate_hz)
        deadline = time.monotonic() + timeout_s
        timed_out = False

        def on_samples(wav: ctypes.Array, count: int, events: ctypes.Array) -> int:
            nonlocal timed_out
            if wav and count > 0:
                result.samples.append(ctypes.string_at(wav, count * 2))
            _collect_events(events, result.events)
            timed_out = time.monotonic() > deadline
            return 1 if timed_out else 0

        callback = _Callback(on_samples)  # kept referenced until the synthesis has returned
        library.espeak_SetSynthCallback(callback)
        if library.espeak_SetVoiceByName(voice.encode()) != 0:
            raise SpeechError(f"espeak-ng has no voice '{voice}'")
        encoded = text.encode("utf-8")
        flags = _CHARS_UTF8 | _ENDPAUSE | (_SSML if ssml else 0)
        status = library.espeak_Synth(
            ctypes.c_char_p(encoded),
            ctypes.c_size_t(len(encoded) + 1),
            0,
            _POS_CHARACTER,
            0,
            flags,
            None,
            None,
        )
        library.espeak_Synchronize()
        library.espeak_SetSynthCallback(None)
    if timed_out:
        raise TransientSpeechError(f"espeak-ng did not finish within {timeout_s:g} s")
    if status != 0:
        raise SpeechError(f"espeak-ng's library failed to synthesize (status {status})")
    return result


def _collect_events(events: ctypes.Array, into: list[EngineEvent]) -> None:
    index = 0
    while events and events[index].type != EVENT_LIST_TERMINATED:
        event = events[index]
        name = ""
        if event.type == EVENT_MARK and event.id:
            name = ctypes.string_at(event.id).decode("utf-8", errors="replace")
        into.append(
            EngineEvent(event.type, max(0, event.text_position - 1), event.audio_position / 1000, name)
        )
        index += 1


def _load() -> ctypes.CDLL:
    global _library, _sample_rate_hz
    if _library is not None:
        return _library
    try:
        library = ctypes.CDLL(ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1")
    except OSError:
        raise SpeechError(
            "libespeak-ng is not installed (captions need its word timings); "
            "install it (Debian/Ubuntu: apt-get install libespeak-ng1)"
        ) from None
    library.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    rate = library.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_DONT_EXIT)
    if rate <= 0:
        raise SpeechError("libespeak-ng could not be initialised (is espeak-ng-data installed?)")
    _library, _sample_rate_hz = library, rate
    return library
