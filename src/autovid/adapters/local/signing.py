"""HMAC signatures with a deployment secret: signed download URLs and webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path


class Signer:
    """HMAC-SHA256 over text with one secret; ``verify`` compares in constant time."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("a signing secret needs at least 16 bytes")
        self._secret = secret

    def sign(self, message: str) -> str:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def verify(self, message: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature)


def load_or_create_secret(path: Path) -> bytes:
    """The secret stored at ``path``; a new random one is written (mode 0600) on first use, so
    every process sharing a data folder signs with the same key."""
    if path.exists():
        return path.read_text().strip().encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    try:
        # link() fails when another process won the race; then everyone uses the winner's secret.
        os.link(candidate, path)
    except FileExistsError:
        pass
    finally:
        candidate.unlink(missing_ok=True)
    return path.read_text().strip().encode()
