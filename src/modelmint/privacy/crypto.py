"""Encryption at rest of stored bodies and files: AES-256-GCM, with a key id on every blob.

Keys come from `MODELMINT_ENCRYPTION_KEYS` (JSON: {"key id": "base64 of 32 bytes"}, the
last one encrypts) or, when unset, from `encryption_keys.json` in the data dir, created
on first use with one random key, readable by its owner only. A blob is
nonce (12 bytes) + ciphertext + tag; the row's key id says which key opens it, so keys
can be rotated: add a key, then re-encrypt the rows (`modelmint privacy rotate-keys`).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class Keyring:
    def __init__(self, keys: dict[str, bytes]) -> None:
        if not keys:
            raise ValueError("no encryption keys: add one to MODELMINT_ENCRYPTION_KEYS")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"encryption key {key_id!r} must be 32 bytes (AES-256)")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active = list(keys)[-1]

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            raw = json.loads(text)
            return cls({k: base64.b64decode(v, validate=True) for k, v in raw.items()})
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(
                'encryption keys must be JSON like {"k1": "<base64 of 32 bytes>"}: ' + str(exc)
            ) from exc

    @classmethod
    def load(cls, data_dir: Path, configured: str | None) -> Keyring:
        if configured:
            return cls.from_json(configured)
        path = data_dir / "encryption_keys.json"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                json.dump({"k1": new_key_text()}, handle)
        return cls.from_json(path.read_text())

    def encrypt(self, plaintext: str, context: str) -> tuple[str, bytes]:
        """(key id, blob); `context` (the row's id) is authenticated, so a blob cannot be
        moved to another row unnoticed."""
        return self.encrypt_bytes(plaintext.encode(), context)

    def decrypt(self, key_id: str, blob: bytes, context: str) -> str:
        return self.decrypt_bytes(key_id, blob, context).decode()

    def encrypt_bytes(self, plaintext: bytes, context: str) -> tuple[str, bytes]:
        """`encrypt` for bytes."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        blob = self._ciphers[self.active].encrypt(nonce, plaintext, context.encode())
        return self.active, nonce + blob

    def decrypt_bytes(self, key_id: str, blob: bytes, context: str) -> bytes:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise KeyError(f"encryption key {key_id!r} is not configured; it is needed to read")
        nonce, body = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
        return cipher.decrypt(nonce, body, context.encode())


def new_key_text() -> str:
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()
