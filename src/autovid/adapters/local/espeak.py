"""Local text-to-speech with espeak-ng, the embedded default.

espeak-ng runs as a subprocess with an argument list (never a shell) and reads the text from
stdin, so text that looks like an option (``-v xx``) is only ever spoken. A spec written for Polly
renders here too: the espeak-ng voice follows ``languageCode`` (or the Polly voice's language) and
the Polly voice's gender; Polly-only SSML (``amazon:*``) is unwrapped before espeak-ng sees it.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from functools import cached_property

from autovid.adapters.local import espeak_lib
from autovid.errors import SpeechError, TransientSpeechError
from autovid.ports import SpeechAudio, SpeechEngine, SpeechRequest
from autovid.spec.ssml import SsmlSyntaxError, mark_index, marked_ssml, strip_for_espeak
from autovid.spec.voices import find_voice
from autovid.speech.timing import Anchor, timed_words, trim_to_sound

# Polly language code (lower case) -> espeak-ng voice. Codes not listed fall back to an installed
# espeak-ng voice of the same name, then of the base language, then English. British English and
# French of France are named by their files ("en", "fr"), not "en-gb"/"fr-fr": espeak-ng 1.51
# ignores a gender variant ("+f3") on those two language names.
ESPEAK_VOICE_FOR_LANGUAGE: dict[str, str] = {
    "arb": "ar",
    "ar-ae": "ar",
    "ca-es": "ca",
    "cmn-cn": "cmn",
    "cs-cz": "cs",
    "cy-gb": "cy",
    "da-dk": "da",
    "de-at": "de",
    "de-ch": "de",
    "de-de": "de",
    "en-au": "en",
    "en-gb": "en",
    "en-gb-wls": "en",
    "en-ie": "en",
    "en-in": "en",
    "en-nz": "en",
    "en-sg": "en",
    "en-us": "en-us",
    "en-za": "en",
    "es-es": "es",
    "es-mx": "es-419",
    "es-us": "es-419",
    "fi-fi": "fi",
    "fr-be": "fr-be",
    "fr-ca": "fr",
    "fr-fr": "fr",
    "hi-in": "hi",
    "is-is": "is",
    "it-it": "it",
    "ja-jp": "ja",
    "ko-kr": "ko",
    "nb-no": "nb",
    "nl-be": "nl",
    "nl-nl": "nl",
    "pl-pl": "pl",
    "pt-br": "pt-br",
    "pt-pt": "pt",
    "ro-ro": "ro",
    "ru-ru": "ru",
    "sv-se": "sv",
    "tr-tr": "tr",
    "yue-cn": "yue",
}
GENDER_VARIANT = {"Female": "f3", "Male": "m3"}
FALLBACK_VOICE = "en"
ADAPTER_VERSION = "1"  # bump when the way requests become audio changes (enters the cache key)
_ESPEAK_VOICE_NAME = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*(\+[a-z0-9]{1,16})?$")
_INSTALL_HINT = "install it (Debian/Ubuntu: apt-get install espeak-ng) or use AUTOVID_TTS_ENGINE=polly"


class EspeakEngine(SpeechEngine):
    """``ports.SpeechEngine`` over the espeak-ng command line; returns 16-bit mono WAV."""

    name = "espeak-ng"

    def __init__(self, *, binary: str = "espeak-ng", timeout_s: float = 120.0) -> None:
        self.binary = binary
        self.timeout_s = timeout_s

    @cached_property
    def version(self) -> str:  # type: ignore[override]
        """Adapter version + espeak-ng's own: a new espeak-ng sounds different, so caches differ."""
        output = self._run(["--version"], b"", timeout_s=10.0).decode(errors="replace")
        match = re.search(r"(\d+\.\d+(?:\.\d+)?)", output)
        return f"{ADAPTER_VERSION}+espeak-ng-{match.group(1) if match else output.strip()[:40]}"

    @cached_property
    def installed_voices(self) -> frozenset[str]:
        """Names ``-v`` accepts: languages (``en-us``, ``es-419``) and voice files (``en``, ``fr``)."""
        listing = self._run(["--voices"], b"", timeout_s=10.0).decode(errors="replace")
        names: set[str] = set()
        for line in listing.splitlines()[1:]:
            columns = line.split()
            if len(columns) >= 5:
                names.update((columns[1].lower(), columns[4].rsplit("/", 1)[-1].lower()))
        return frozenset(names)

    def synthesize(self, request: SpeechRequest) -> SpeechAudio:
        if request.word_timings:
            return self._synthesize_timed(request)
        if request.text_type == "ssml":
            try:
                text = strip_for_espeak(request.text)
            except SsmlSyntaxError as exc:
                raise SpeechError(str(exc)) from None
        else:
            text = request.text
        if not text.strip():
            raise SpeechError("nothing to speak: the text is empty")
        args = ["-b", "1", "-v", self.voice_for(request), "--stdout"]
        if request.text_type == "ssml":
            args.append("-m")
        wav = _fix_wav_sizes(self._run(args, text.encode("utf-8"), timeout_s=self.timeout_s))
        if _wav_data_bytes(wav) == 0:
            raise SpeechError(f"espeak-ng produced no audio for the text {request.text[:60]!r}")
        return SpeechAudio(data=wav, extension="wav")

    def voice_used(self, request: SpeechRequest) -> tuple[str, str]:
        return (self.name, self.voice_for(request))

    def _synthesize_timed(self, request: SpeechRequest) -> SpeechAudio:
        """Audio and word timings in one pass through libespeak-ng: plain text is timed by the
        engine's word events, SSML by a mark before each spoken word."""
        if shutil.which(self.binary) is None:
            raise SpeechError(f"espeak-ng is not installed ('{self.binary}' is not on PATH); {_INSTALL_HINT}")
        ssml = request.text_type == "ssml"
        if ssml:
            try:
                text, spoken, positions = marked_ssml(request.text, for_espeak=True)
            except SsmlSyntaxError as exc:
                raise SpeechError(str(exc)) from None
        else:
            text = spoken = request.text
            positions = []
        if not spoken.strip():
            raise SpeechError("nothing to speak: the text is empty")
        result = espeak_lib.synthesize(text, self.voice_for(request), ssml=ssml, timeout_s=self.timeout_s)
        if not result.samples:
            raise SpeechError(f"espeak-ng produced no audio for the text {request.text[:60]!r}")
        duration_s = sum(len(block) for block in result.samples) / 2 / result.sample_rate_hz
        anchors = _anchors(result.events, positions if ssml else None)
        import numpy as np  # here: the API process builds this engine but never synthesizes

        pcm = np.frombuffer(b"".join(result.samples), dtype="<i2")
        words = trim_to_sound(timed_words(spoken, anchors, duration_s), pcm, result.sample_rate_hz)
        return SpeechAudio(data=result.wav(), extension="wav", words=words)

    def voice_for(self, request: SpeechRequest) -> str:
        """The espeak-ng voice (``fr-fr+f3``) for the request's language and the Polly voice's gender."""
        polly_voice = find_voice(request.voice_id)
        if polly_voice is None and self._is_espeak_voice(request.voice_id):
            return request.voice_id  # an espeak-ng voice named directly (provider "espeak-ng")
        language = request.language_code or (polly_voice.language_code if polly_voice else "en-US")
        voice = self.voice_for_language(language)
        variant = GENDER_VARIANT.get(polly_voice.gender) if polly_voice else None
        return f"{voice}+{variant}" if variant else voice

    def voice_for_language(self, language_code: str) -> str:
        code = language_code.lower()
        base = code.split("-")[0]
        candidates = (ESPEAK_VOICE_FOR_LANGUAGE.get(code), code, ESPEAK_VOICE_FOR_LANGUAGE.get(base), base)
        for candidate in candidates:
            if candidate and candidate in self.installed_voices:
                return candidate
        return FALLBACK_VOICE

    def _is_espeak_voice(self, voice_id: str) -> bool:
        if not _ESPEAK_VOICE_NAME.fullmatch(voice_id):
            return False
        return voice_id.split("+")[0] in self.installed_voices

    def _run(self, args: list[str], stdin: bytes, *, timeout_s: float) -> bytes:
        executable = shutil.which(self.binary)
        if executable is None:
            raise SpeechError(f"espeak-ng is not installed ('{self.binary}' is not on PATH); {_INSTALL_HINT}")
        try:
            completed = subprocess.run(
                [executable, *args],
                input=stdin,
                capture_output=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TransientSpeechError(f"espeak-ng did not finish within {timeout_s:g} s") from None
        except OSError as exc:
            raise SpeechError(f"espeak-ng could not be started: {exc}; {_INSTALL_HINT}") from None
        if completed.returncode != 0:
            detail = completed.stderr.decode(errors="replace").strip()[-500:] or "no message"
            raise SpeechError(f"espeak-ng failed (exit code {completed.returncode}): {detail}")
        return completed.stdout


def _anchors(events: list[espeak_lib.EngineEvent], mark_positions: list[int] | None) -> list[Anchor]:
    """Word starts from the engine's events; a word ends where the engine ends its clause, or
    where the next word starts (so a pause is not shown as speech)."""
    anchors: list[Anchor] = []
    for k, event in enumerate(events):
        if mark_positions is None and event.kind == espeak_lib.EVENT_WORD:
            char = event.char
        elif mark_positions is not None and event.kind == espeak_lib.EVENT_MARK:
            index = mark_index(event.name)
            if index is None or index >= len(mark_positions):
                continue  # a client's own mark
            char = mark_positions[index]
        else:
            continue
        end_s = next((e.time_s for e in events[k + 1 :] if e.kind == espeak_lib.EVENT_END), None)
        anchors.append(Anchor(char, event.time_s, end_s))
    return anchors


def _fix_wav_sizes(wav: bytes) -> bytes:
    """espeak-ng writes to a pipe, so it cannot seek back to fill in the RIFF and data sizes."""
    if len(wav) < 12 or wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise SpeechError("espeak-ng did not produce a WAV stream")
    data_at = _find_chunk(wav, b"data")
    if data_at is None:
        raise SpeechError("espeak-ng produced a WAV stream without audio data")
    fixed = bytearray(wav)
    struct.pack_into("<I", fixed, 4, len(wav) - 8)
    struct.pack_into("<I", fixed, data_at + 4, len(wav) - data_at - 8)
    return bytes(fixed)


def _wav_data_bytes(wav: bytes) -> int:
    data_at = _find_chunk(wav, b"data")
    return 0 if data_at is None else len(wav) - data_at - 8


def _find_chunk(wav: bytes, chunk_id: bytes) -> int | None:
    offset = 12
    while offset + 8 <= len(wav):
        if wav[offset : offset + 4] == chunk_id:
            return offset
        (size,) = struct.unpack_from("<I", wav, offset + 4)
        offset += 8 + size + (size & 1)
    return None
