"""What every asset source shares: outcome exceptions, the byte cap, file extensions.

The source modules raise ``FetchRefused`` (permanent) or ``FetchFailed`` (may pass on retry)
without knowing the asset id; the fetcher turns them into ``AssetError`` / ``TransientAssetError``
naming the asset.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

CHUNK_BYTES = 256 * 1024
_EXTENSION = re.compile(r"^\.[a-z0-9]{1,10}$")
_CONTENT_TYPE_EXTENSIONS = {
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/wav": ".wav",
    "audio/wave": ".wav",
    "audio/x-wav": ".wav",
    "audio/vnd.wave": ".wav",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/aac": ".aac",
    "audio/flac": ".flac",
    "audio/x-flac": ".flac",
    "audio/ogg": ".ogg",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/x-matroska": ".mkv",
    "video/x-msvideo": ".avi",
    "video/avi": ".avi",
    "video/webm": ".webm",
}


class FetchRefused(Exception):
    """A permanent problem: retrying cannot help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FetchFailed(Exception):
    """A transient problem: the same fetch may succeed later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FetchAborted(Exception):
    """Another asset failed, so this fetch stopped early; its result is not needed."""


def too_large(size_bytes: int, max_bytes: int) -> FetchRefused:
    return FetchRefused(f"too large: {size_bytes} bytes, the limit is {max_bytes} bytes")


def write_capped(chunks: Iterable[bytes], part: Path, *, max_bytes: int, abort: threading.Event) -> int:
    """Write ``chunks`` to ``part`` and return the byte count; refuse past ``max_bytes`` (counted, so a
    lying or missing Content-Length cannot get past the cap). The caller removes ``part`` on error."""
    written = 0
    with part.open("wb") as out:
        for chunk in chunks:
            if abort.is_set():
                raise FetchAborted()
            written += len(chunk)
            if written > max_bytes:
                raise FetchRefused(f"too large: more than {max_bytes} bytes (the limit)")
            out.write(chunk)
    return written


def extension_of(path: str) -> str:
    """The lower-case file extension of a path or URL path (decoders need it), or ""."""
    suffix = PurePosixPath(path).suffix.lower()
    return suffix if _EXTENSION.match(suffix) else ""


def extension_for_content_type(content_type: str | None) -> str:
    if not content_type:
        return ""
    return _CONTENT_TYPE_EXTENSIONS.get(content_type.split(";", 1)[0].strip().lower(), "")


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
