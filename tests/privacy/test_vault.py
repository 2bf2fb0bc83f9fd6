"""The vault of uploaded files: round trips, refuses past its limit without leaving a
trace, and notices a file cut short, reordered or moved to another id."""

from __future__ import annotations

import io
import json
import os

import pytest
from cryptography.exceptions import InvalidTag

from modelmint.privacy.crypto import Keyring, new_key_text
from modelmint.privacy.vault import CHUNK_BYTES, FileVault, TooLarge


@pytest.fixture
def vault(tmp_path) -> FileVault:
    return FileVault(tmp_path, Keyring.from_json(json.dumps({"k1": new_key_text()})))


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES, 2 * CHUNK_BYTES + 5])
def test_round_trip(vault, size):
    data = os.urandom(size)
    sealed = vault.write("org_a", "file-1", io.BytesIO(data), limit=10 * CHUNK_BYTES)
    assert sealed.bytes == size
    assert b"".join(vault.read("org_a", "file-1", sealed.key_id)) == data


def test_past_the_limit_nothing_is_kept(vault, tmp_path):
    with pytest.raises(TooLarge):
        vault.write("org_a", "file-2", io.BytesIO(b"x" * (CHUNK_BYTES + 1)), limit=CHUNK_BYTES)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_file_cut_short_or_moved_does_not_read(vault, tmp_path):
    data = os.urandom(2 * CHUNK_BYTES + 5)
    sealed = vault.write("org_a", "file-3", io.BytesIO(data), limit=10 * CHUNK_BYTES)
    path = tmp_path / "org_a" / "file-3"
    whole = path.read_bytes()
    first_chunk = 4 + int.from_bytes(whole[:4], "big")
    path.write_bytes(whole[:first_chunk])  # the rest cut off: the first chunk is not "last"
    with pytest.raises(InvalidTag):
        b"".join(vault.read("org_a", "file-3", sealed.key_id))
    (tmp_path / "org_a" / "file-4").write_bytes(whole)  # another id
    with pytest.raises(InvalidTag):
        b"".join(vault.read("org_a", "file-4", sealed.key_id))
