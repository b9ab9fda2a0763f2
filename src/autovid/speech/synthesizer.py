"""Cached speech synthesis: the same text with the same settings is synthesized once.

The cache key is a SHA-256 of the engine's name and version and every field of the request, so
anything that changes the audio changes the key. Files are written to a temporary name and renamed
into place, so a reader never sees half a file; concurrent requests for the same key in one
process wait for a single synthesis, and across processes the last rename simply wins.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path

from autovid.errors import SpeechError
from autovid.ports import SpeechEngine, SpeechRequest
from autovid.spec.models import TtsData

log = logging.getLogger(__name__)

_EXTENSIONS = frozenset({"wav", "mp3", "ogg", "flac", "m4a", "pcm"})


def speech_request(data: TtsData) -> SpeechRequest:
    """The speech request for a spec's TTS event data."""
    config = data.providerConfig
    return SpeechRequest(
        text=data.text,
        text_type=config.textType,
        voice_id=config.voiceId,
        engine=config.engine,
        language_code=config.languageCode,
    )


class SpeechSynthesizer:
    """``render.Synthesizer``: ``synthesize(request) -> Path`` of a cached audio file."""

    def __init__(self, engine: SpeechEngine, cache_dir: Path) -> None:
        self.engine = engine
        self.cache_dir = Path(cache_dir)
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
        _write_atomically(path, audio.data)
        log.debug("synthesized %s (%d bytes) with %s", path.name, len(audio.data), self.engine.name)
        return path

    def _find(self, key: str) -> Path | None:
        shard = self._shard(key)
        for extension in _EXTENSIONS:
            path = shard / f"{key}.{extension}"
            if path.is_file() and path.stat().st_size > 0:
                return path
        return None

    def _shard(self, key: str) -> Path:
        return self.cache_dir / key[:2]

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:16]}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
