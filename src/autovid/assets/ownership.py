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
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from autovid.assets.common import FetchRefused
from autovid.assets.s3 import parse_s3_uri
from autovid.errors import AssetError, StorageError

if TYPE_CHECKING:
    from autovid.spec.models import JobSpec

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


@dataclass(frozen=True)
class SourceRules:
    """What a job of ``owner`` may read and write: its own managed keys, ``s3://`` objects of
    ``s3_buckets`` (the managed bucket's objects, on AWS, under the same rule as its keys)."""

    owner: str
    s3_buckets: frozenset[str] = frozenset()
    managed_bucket: str | None = None

    def source_refusal(self, source: str) -> tuple[str | None, str | None]:
        """(why ``source`` is refused, or None; the managed key it names, whose existence the
        caller may check, or None)."""
        if source.startswith("s3://"):
            try:
                bucket, key = parse_s3_uri(source)
            except FetchRefused as exc:
                return exc.reason, None
            if bucket not in self.s3_buckets:
                return self._bucket_refusal(bucket), None
            if bucket != self.managed_bucket:
                return None, None
            source = key  # the managed bucket's objects follow the managed storage's rules
        elif "://" in source:
            return None, None  # https:// URLs are vetted by the network guard when fetched
        if not owns(self.owner, source):
            return missing_message(source), None  # the same words as a missing file: no oracle
        return None, source

    def destination_refusal(self, destination: str) -> str | None:
        key = destination
        if destination.startswith("s3://"):
            bucket, _sep, key = destination.removeprefix("s3://").partition("/")
            if bucket != self.managed_bucket:
                return None  # another bucket: the stack's role grants what may be written
        elif "://" in destination:
            return None
        prefix = output_prefix(self.owner)
        if key.startswith(prefix) and ".." not in key.split("/"):
            return None
        return (
            f"'{destination}' is outside your outputs; name a folder or .mp4 key under '{prefix}', "
            "or leave it out to store the video under your outputs"
        )

    def check_spec(self, spec: JobSpec) -> None:
        """``AssetError`` for the first source the owner may not read, ``StorageError`` for a
        destination outside its outputs (a worker's second look: the job was checked at submit,
        but a record from before a setting changed may remain)."""
        for asset in (spec.assets.video, *spec.assets.audio):
            refusal, _key = self.source_refusal(asset.source)
            if refusal is not None:
                raise AssetError(asset.id, refusal)
        destination = spec.output.destination
        if destination is not None and (refusal := self.destination_refusal(destination)):
            raise StorageError(f"output.destination: {refusal}")

    def _bucket_refusal(self, bucket: str) -> str:
        if not self.s3_buckets:
            return (
                f"s3:// sources are off on this server (bucket '{bucket}'); upload the file "
                "(POST /assets) or ask the operator to name the bucket in AUTOVID_S3_SOURCE_BUCKETS"
            )
        allowed = ", ".join(sorted(self.s3_buckets))
        return f"bucket '{bucket}' is not allowed for s3:// sources; allowed: {allowed}"


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
