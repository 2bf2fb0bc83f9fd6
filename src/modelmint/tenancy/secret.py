"""The server secret that keys are HMAC'd with: from settings, or a file in the data dir.

The file is created on first use with 32 random bytes, readable by its owner only. Every
replica must share it (set `MODELMINT_SECRET_KEY`, or the same file), or keys made on one
replica will not verify on another.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_secret(data_dir: Path, configured: str | None) -> bytes:
    if configured:
        if len(configured) < 32:
            raise ValueError("MODELMINT_SECRET_KEY must be at least 32 characters long")
        return configured.encode()
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
