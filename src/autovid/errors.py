"""The error types of autovid.

Every failure is an ``AutovidError``. ``PermanentError`` means retrying cannot help (a bad spec, a
missing asset, corrupt media); ``RetryableError`` means the same job may succeed later (timeouts,
throttling, 5xx answers). Adapters translate vendor errors into these; each entrypoint maps them to
an HTTP answer, an exit code or a job status in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


class AutovidError(Exception):
    """Base of every error autovid raises on purpose."""

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermanentError(AutovidError):
    """Retrying the same job cannot succeed."""


class RetryableError(AutovidError):
    """A transient failure: the same job may succeed on a later attempt."""

    retryable = True


@dataclass(frozen=True)
class ErrorDetail:
    """One problem in a job spec: the JSON path of the field and what is wrong with it."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


def format_path(loc: tuple[str | int, ...]) -> str:
    """('timeline', 2, 'data', 'assetId') -> 'timeline[2].data.assetId'; () -> '$' (the whole
    document). The one way a field's path is written, by the CLI and the service alike."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "$"


class SpecError(PermanentError):
    """The job spec is invalid; ``errors`` lists every problem found."""

    def __init__(self, errors: list[ErrorDetail]) -> None:
        self.errors = errors
        summary = "; ".join(f"{e.path}: {e.message}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"invalid job spec: {summary}{more}")

    def as_list(self) -> list[dict[str, str]]:
        """The problems as the HTTP API answers them (``details``)."""
        return [e.as_dict() for e in self.errors]

    def as_lines(self) -> list[str]:
        """The problems as the command line prints them: ``path: message``, one a line."""
        return [f"{e.path}: {e.message}" for e in self.errors]


class AssetError(PermanentError):
    """An asset cannot be used: missing, refused, too large, or not media we can read."""

    def __init__(self, asset_id: str, reason: str) -> None:
        self.asset_id = asset_id
        self.reason = reason
        super().__init__(f"asset '{asset_id}': {reason}")


class TransientAssetError(RetryableError):
    """Fetching an asset failed in a way that may pass (timeout, 5xx, throttling)."""

    def __init__(self, asset_id: str, reason: str) -> None:
        self.asset_id = asset_id
        self.reason = reason
        super().__init__(f"asset '{asset_id}': {reason}")


class MediaError(PermanentError):
    """Media could not be decoded, encoded or muxed."""


class SpeechError(PermanentError):
    """Text-to-speech refused the request (bad SSML, unknown voice, text too long, …)."""


class TransientSpeechError(RetryableError):
    """Text-to-speech failed in a way that may pass (throttling, timeouts, 5xx)."""


class StorageError(PermanentError):
    """A key or URI is outside the allowed storage, or a stored object is missing."""


class TransientStorageError(RetryableError):
    """The storage backend failed in a way that may pass."""


class JobTimeoutError(PermanentError):
    """A render ran past the configured job timeout."""


class JobCancelledError(PermanentError):
    """The job was cancelled while it ran."""


class JobNotFoundError(AutovidError):
    """No such job (or not visible to the caller)."""


class ConflictError(AutovidError):
    """A conditional write lost: the record was not in the expected state."""


class ConfigError(AutovidError):
    """Settings are missing or inconsistent."""
