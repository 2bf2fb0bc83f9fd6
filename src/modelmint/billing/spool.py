"""Ledger rows that could not be written (the database was down) kept in a local file until
they can: a served request is never lost from the books.

Each line is one settle (the ledger entry and its hold) as JSON, appended and fsynced.
`replay` writes them with the same idempotent `ledger.settle` (a row is keyed by request
id, and a hold is given back once), then keeps only the lines that failed again. Each
replica has its own file, in its data dir.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from modelmint.billing.ledger import Hold, LedgerEntry
from modelmint.billing.prices import Price

logger = logging.getLogger(__name__)

Settle = Callable[[LedgerEntry, Hold | None], Awaitable[Any]]


def _encode(entry: LedgerEntry, hold: Hold | None) -> str:
    record = {"entry": asdict(entry), "hold": asdict(hold) if hold else None}
    return json.dumps(record, default=lambda value: value.isoformat(), separators=(",", ":"))


def _decode(line: str) -> tuple[LedgerEntry, Hold | None]:
    record = json.loads(line)
    fields = record["entry"]
    fields["created_at"] = datetime.fromisoformat(fields["created_at"])
    fields["price"] = Price(**fields["price"])
    held = record["hold"]
    if held is not None:
        held["expires_at"] = datetime.fromisoformat(held["expires_at"])
        held = Hold(**held)
    return LedgerEntry(**fields), held


class LedgerSpool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # the writer thread and the event loop both append

    def keep(self, entry: LedgerEntry, hold: Hold | None) -> None:
        line = _encode(entry, hold) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self._ends_whole():  # a crash cut the last append: keep it on its own
                line = "\n" + line
            new = not self.path.exists()
            with self.path.open("a", encoding="utf-8") as spool:
                spool.write(line)
                spool.flush()
                os.fsync(spool.fileno())
            if new:  # the file's name must survive a power cut too
                self._sync_folder()
        logger.warning(
            "request %s: the ledger row could not be written; kept in %s until it can",
            entry.request_id,
            self.path,
        )

    def _ends_whole(self) -> bool:
        try:
            with self.path.open("rb") as spool:
                if spool.seek(0, os.SEEK_END) == 0:
                    return True
                spool.seek(-1, os.SEEK_END)
                return spool.read(1) == b"\n"
        except FileNotFoundError:
            return True

    def _rewrite(self, lines: list[str]) -> None:
        """Replace the file with `lines`, durably (a power cut leaves old or new)."""
        fresh = self.path.with_suffix(".tmp")
        with fresh.open("w", encoding="utf-8") as spool:
            spool.write("\n".join(lines) + "\n")
            spool.flush()
            os.fsync(spool.fileno())
        fresh.replace(self.path)
        self._sync_folder()

    def _sync_folder(self) -> None:
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def _read(self) -> list[str]:
        with self._lock:
            return self._lines()

    def _keep_only(self, failed: list[str], replayed: int) -> None:
        """The file becomes `failed`, then whatever was appended after the first
        `replayed` lines (lines are only ever appended)."""
        with self._lock:
            kept = failed + self._lines()[replayed:]
            if kept:
                self._rewrite(kept)
            else:
                self.path.unlink(missing_ok=True)

    def __len__(self) -> int:
        with self._lock:
            return len(self._lines())

    def _lines(self) -> list[str]:
        try:
            return [line for line in self.path.read_text("utf-8").splitlines() if line]
        except FileNotFoundError:
            return []

    async def replay(self, settle: Settle) -> int:
        """Write the kept rows with `settle`; returns how many were written. The file is
        only rewritten at the end: a crash meanwhile replays them again, harmlessly."""
        lines = await asyncio.to_thread(self._read)
        if not lines:
            return 0
        failed: list[str] = []
        written, first_error = 0, None
        for line in lines:
            try:
                entry, hold = _decode(line)
            except (ValueError, KeyError, TypeError):
                logger.error("a kept ledger line cannot be read; moved aside: %.200s", line)
                self._set_aside(line)
                continue
            try:
                await settle(entry, hold)
            except Exception as exc:
                failed.append(line)
                first_error = first_error or exc
            else:
                written += 1
        await asyncio.to_thread(self._keep_only, failed, len(lines))
        if written:
            logger.info("wrote %d kept ledger rows; %d still waiting", written, len(failed))
        if failed:
            logger.warning(
                "%d kept ledger rows still cannot be written (%r); they stay in %s",
                len(failed),
                first_error,
                self.path,
            )
        return written

    def _set_aside(self, line: str) -> None:
        with self.path.with_suffix(".unreadable").open("a", encoding="utf-8") as aside:
            aside.write(line + "\n")
