"""Uploaded files at rest: one file per upload under `<data dir>/files/<org>/`, encrypted
in chunks of 1 MiB with the keyring's active key.

Each chunk is sealed with its file id, its index and whether it is the last, so chunks
cannot be reordered, dropped, cut off or moved to another file unnoticed. A file is
written to a temporary name and renamed when whole: a crash leaves no half file behind.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from modelmint.privacy.crypto import Keyring

CHUNK_BYTES = 1 << 20
_LENGTH = struct.Struct(">I")


class TooLarge(Exception):
    """The upload passed the size limit (nothing of it is kept)."""


@dataclass(frozen=True, slots=True)
class Sealed:
    key_id: str
    bytes: int
    sha256: str


class FileVault:
    def __init__(self, root: Path, keyring: Keyring) -> None:
        self.root = root
        self.keyring = keyring

    def _path(self, org_id: str, file_id: str) -> Path:
        return self.root / org_id / file_id

    def write(self, org_id: str, file_id: str, source: BinaryIO, limit: int) -> Sealed:
        """Encrypt `source` (read to its end) into the vault; `TooLarge` past `limit`."""
        path = self._path(org_id, file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        digest, size, key_id = hashlib.sha256(), 0, self.keyring.active
        try:
            with open(partial, "wb") as out:
                chunk, index = source.read(CHUNK_BYTES), 0
                while True:
                    following = source.read(CHUNK_BYTES) if chunk else b""
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge
                    digest.update(chunk)
                    last = not following
                    key_id, blob = self.keyring.encrypt_bytes(chunk, _aad(file_id, index, last))
                    out.write(_LENGTH.pack(len(blob)) + blob)
                    if last:
                        break
                    chunk, index = following, index + 1
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return Sealed(key_id, size, digest.hexdigest())

    def read(self, org_id: str, file_id: str, key_id: str) -> Iterator[bytes]:
        """The file's bytes, chunk by chunk, each checked as it is read."""
        with open(self._path(org_id, file_id), "rb") as source:
            index = 0
            while header := source.read(_LENGTH.size):
                blob = source.read(_LENGTH.unpack(header)[0])
                last = not source.peek(1)
                yield self.keyring.decrypt_bytes(key_id, blob, _aad(file_id, index, last))
                index += 1

    def delete(self, org_id: str, file_id: str) -> None:
        self._path(org_id, file_id).unlink(missing_ok=True)


def _aad(file_id: str, index: int, last: bool) -> str:
    return f"{file_id}:{index}:{'last' if last else 'more'}"
