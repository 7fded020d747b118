"""Secrets are made here and only ever written to 0600 files in the state directory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def new_secret() -> str:
    # Hex keeps it safe inside a pgpass line and YAML without any escaping.
    return secrets.token_hex(32)


def write_private(path: Path, content: str | bytes) -> None:
    data = content.encode() if isinstance(content, str) else content
    # Created with 0600 from the start, so the secret is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
