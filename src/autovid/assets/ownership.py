"""Whose file a managed-storage key names: the owner is part of the key.

Uploads are stored at ``assets/<owner>/<id>/<file>`` and outputs at
``outputs/<owner>/<jobId>/<file>``, where ``<owner>`` is the caller's key id as the server
authenticated it (embedded: the ``key_…`` id; AWS: API Gateway's ``apiKeyId``), never anything
the client sends. A job may read only keys under its own owner's two prefixes, so one key cannot
render (and download) another key's uploads or outputs; a key outside them reads as missing,
with the very message a missing file gets, so nothing tells a caller that another key's file exists.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import PurePosixPath

from autovid.errors import StorageError

ASSETS = "assets"
OUTPUTS = "outputs"
_PLAIN_OWNER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_KEY_CHARS = 1024


def owner_segment(owner: str) -> str:
    """The key segment of an owner: the id itself when it is plain (letters, digits, '_', '-'),
    else a hash of it. A hash holds a '.', which plain ids cannot, so two owners never share one."""
    if _PLAIN_OWNER.match(owner):
        return owner
    return "h." + hashlib.sha256(owner.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def upload_key(owner: str, filename: str) -> str:
    """A fresh key for an upload named ``filename``."""
    return f"{ASSETS}/{owner_segment(owner)}/{uuid.uuid4().hex}/{filename}"


def output_prefix(owner: str) -> str:
    return f"{OUTPUTS}/{owner_segment(owner)}/"


def output_key(owner: str, job_id: str, filename: str) -> str:
    """Where a job's MP4 goes when its spec names no destination."""
    return f"{output_prefix(owner)}{job_id}/{filename}"


def owns(owner: str, key: str) -> bool:
    """Whether ``key`` lies under one of ``owner``'s prefixes (its uploads, its outputs)."""
    segment = owner_segment(owner)
    return key.startswith((f"{ASSETS}/{segment}/", f"{OUTPUTS}/{segment}/"))


def missing_message(key: str) -> str:
    """What a job is told about a key it may not read, and about a key that does not exist."""
    return f"no file '{key}' in managed storage; upload it first (POST /assets)"


def check_key(key: str) -> None:
    """A key is a relative POSIX path without '.', '..', empty parts, backslashes or NULs."""
    problem = None
    if not key or len(key) > _MAX_KEY_CHARS:
        problem = f"must be 1-{_MAX_KEY_CHARS} characters"
    elif "\\" in key or "\x00" in key or key.startswith("/"):
        problem = "must be a relative path with '/' separators"
    elif any(part in ("", ".", "..") for part in key.split("/")):
        problem = "must not contain empty, '.' or '..' segments"
    elif PurePosixPath(key).name.startswith("."):
        problem = "must not name a hidden file"
    if problem:
        raise StorageError(f"storage key '{key}' {problem}")
