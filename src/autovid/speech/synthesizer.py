"""Cached speech synthesis: the same text with the same settings is synthesized once.

The cache key is a SHA-256 of the engine's name and version and every field of the request, so
anything that changes the audio changes the key. Files are written to a temporary name and renamed
into place, so a reader never sees half a file; concurrent requests for the same key in one
process wait for a single synthesis, and across processes the last rename simply wins.

The cache is bounded: every hit refreshes its file's modification time, and after each write the
least recently used files go until the cache fits in ``max_bytes`` again (to 90 %, so the next
writes do not each trigger a sweep). Files used within ``in_use_s`` stay, whatever their size: a
render may still be about to read them (the file system may be shared by several workers).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from autovid.errors import SpeechError
from autovid.files import write_bytes_atomically
from autovid.ports import SpeechEngine, SpeechRequest, WordTiming
from autovid.spec.models import TtsData

log = logging.getLogger(__name__)

_EXTENSIONS = frozenset({"wav", "mp3", "ogg", "flac", "m4a", "pcm"})
DEFAULT_CACHE_BYTES = 2 * 1024**3
IN_USE_S = 900.0  # longer than a job may run (AUTOVID_JOB_TIMEOUT defaults to 840 s)


def speech_request(data: TtsData, *, word_timings: bool = False) -> SpeechRequest:
    """The speech request for a spec's TTS event data (with word timings for captions)."""
    config = data.providerConfig
    return SpeechRequest(
        text=data.text,
        text_type=config.textType,
        voice_id=config.voiceId,
        engine=config.engine,
        language_code=config.languageCode,
        word_timings=word_timings,
    )


def words_path(audio_path: Path) -> Path:
    """Where the word timings of a cached speech file are kept: beside it, same key."""
    return audio_path.with_name(audio_path.name.split(".")[0] + ".words.json")


def read_word_timings(audio_path: Path) -> tuple[WordTiming, ...]:
    """The word timings cached with ``audio_path`` (none when the request asked for none)."""
    path = words_path(audio_path)
    if not path.is_file():
        return ()
    try:
        return tuple(WordTiming(**item) for item in json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise SpeechError(f"the cached word timings {path.name} are unreadable: {exc}") from None


class SpeechSynthesizer:
    """``render.Synthesizer``: ``synthesize(request) -> Path`` of a cached audio file."""

    def __init__(
        self,
        engine: SpeechEngine,
        cache_dir: Path,
        *,
        max_bytes: int = DEFAULT_CACHE_BYTES,
        in_use_s: float = IN_USE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.cache_dir = Path(cache_dir)
        self.max_bytes = max_bytes
        self.in_use_s = in_use_s
        self._clock = clock
        self._sweep_lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def cache_key(self, request: SpeechRequest) -> str:
        # Nested, so a request field can never overwrite the engine's identity.
        fields = {
            "speech_engine": {"name": self.engine.name, "version": self.engine.version},
            "request": request.cache_fields(),
        }
        canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def voice_used(self, request: SpeechRequest) -> tuple[str, str]:
        return self.engine.voice_used(request)

    def cached_path(self, request: SpeechRequest) -> Path | None:
        return self._find(self.cache_key(request))

    def synthesize(self, request: SpeechRequest) -> Path:
        key = self.cache_key(request)
        found = self._find(key)
        if found is not None:
            return found
        lock = self._lock_for(key)
        try:
            with lock:
                found = self._find(key)  # another thread may have made it while we waited
                return found if found is not None else self._synthesize_into_cache(request, key)
        finally:
            # Forget the lock; a later caller finds the file (written before the lock was released).
            with self._locks_guard:
                if self._locks.get(key) is lock:
                    del self._locks[key]

    def _synthesize_into_cache(self, request: SpeechRequest, key: str) -> Path:
        audio = self.engine.synthesize(request)
        extension = audio.extension.lower().lstrip(".")
        if extension not in _EXTENSIONS:
            raise SpeechError(f"speech engine '{self.engine.name}' returned unknown audio type '{extension}'")
        if not audio.data:
            raise SpeechError(f"speech engine '{self.engine.name}' returned no audio")
        path = self._shard(key) / f"{key}.{extension}"
        if request.word_timings:
            # Written before the audio: whoever finds the audio finds its timings too.
            timings = [vars(word) for word in audio.words]
            write_bytes_atomically(words_path(path), json.dumps(timings, ensure_ascii=False).encode("utf-8"))
        write_bytes_atomically(path, audio.data, fsync=True)
        self._touch(path)
        log.debug("synthesized %s (%d bytes) with %s", path.name, len(audio.data), self.engine.name)
        self.evict()
        return path

    def evict(self) -> int:
        """Remove least recently used files until the cache fits; the number of bytes freed."""
        with self._sweep_lock:
            entries = _cache_entries(self.cache_dir)
            total = sum(size for _used, size, _path in entries)
            if total <= self.max_bytes:
                return 0
            target = self.max_bytes * 9 // 10
            recent = self._clock() - self.in_use_s
            freed = 0
            for used, size, path in sorted(entries):
                if total - freed <= target or used >= recent:
                    break
                with contextlib.suppress(FileNotFoundError):  # another worker evicted it first
                    path.unlink()
                    freed += size
                    words_path(path).unlink(missing_ok=True)  # the timings go with their audio
            log.info("speech cache: evicted %d bytes (limit %d)", freed, self.max_bytes)
            return freed

    def _touch(self, path: Path) -> None:
        now = self._clock()
        with contextlib.suppress(FileNotFoundError):
            os.utime(path, (now, now))

    def _find(self, key: str) -> Path | None:
        shard = self._shard(key)
        for extension in _EXTENSIONS:
            path = shard / f"{key}.{extension}"
            if path.is_file() and path.stat().st_size > 0:
                self._touch(path)  # a hit: the least recently used files are evicted first
                return path
        return None

    def _shard(self, key: str) -> Path:
        return self.cache_dir / key[:2]

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())


def _is_shard(name: str) -> bool:
    """A shard folder of this cache: the first two hex digits of its keys."""
    return len(name) == 2 and all(c in "0123456789abcdef" for c in name)


def _cache_entries(cache_dir: Path) -> list[tuple[float, int, Path]]:
    """(last use, size, path) of every cached file; temporary files of running writes are left out."""
    entries: list[tuple[float, int, Path]] = []
    with contextlib.suppress(FileNotFoundError):
        for shard in os.scandir(cache_dir):
            if not _is_shard(shard.name) or not shard.is_dir(follow_symlinks=False):
                continue  # e.g. segments/, the AAC segment cache kept beside the speech
            for entry in os.scandir(shard.path):
                if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                    continue
                if entry.name.endswith(".words.json"):
                    continue  # counted with, and evicted with, its audio file
                with contextlib.suppress(FileNotFoundError):
                    stat = entry.stat(follow_symlinks=False)
                    path = Path(entry.path)
                    words = words_path(path)
                    size = stat.st_size + (words.stat().st_size if words.is_file() else 0)
                    entries.append((stat.st_mtime, size, path))
    return entries
