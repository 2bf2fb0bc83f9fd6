"""Getting every request's ledger row into the database, whatever happens around it.

A settle is shielded from its request's cancellation (a client that goes away, a
shutdown); if the database fails it, the row goes to the local spool (`billing/spool.py`)
and is replayed later. The holds of requests still running are renewed (every third of
the hold timeout), so only the holds of requests that are gone (their replica died, their
settle was lost) expire and are swept back into the budgets.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from functools import partial

from modelmint.billing import ledger
from modelmint.billing.spool import LedgerSpool
from modelmint.core.background import Background
from modelmint.core.ids import utcnow
from modelmint.store.database import Database

logger = logging.getLogger(__name__)


class Settlements:
    def __init__(
        self,
        db: Database,
        spool: LedgerSpool | None,
        background: Background,
        hold_timeout: timedelta,
    ) -> None:
        self.db = db
        self.spool = spool  # where ledger rows wait while the database is away
        self.hold_timeout = hold_timeout
        self._background = background
        self._pending: dict[str, tuple[ledger.LedgerEntry, ledger.Hold | None]] = {}
        self._running: set[str] = set()  # request ids whose holds this replica renews

    def track(self, hold: ledger.Hold) -> None:
        """Keep `hold` from expiring while its request runs."""
        self._running.add(hold.request_id)

    def untrack(self, request_id: str) -> None:
        self._running.discard(request_id)

    @property
    def renewing(self) -> int:
        """How many running requests' holds this replica keeps renewing."""
        return len(self._running)

    async def renew(self) -> int:
        """Push back the expiry of every running request's hold; how many."""
        if not self._running:
            return 0
        until = utcnow() + self.hold_timeout
        return await self.db.write(ledger.renew, sorted(self._running), until)

    async def write(self, entry: ledger.LedgerEntry, hold: ledger.Hold | None) -> None:
        """The ledger row, committed; kept in the spool (durably) if the database fails.
        Shielded: a caller cancelled meanwhile (client gone, shutdown) does not lose it."""
        work = self._settle_or_keep(entry, hold)
        await asyncio.shield(self._background.spawn(work, "settling", awaited=True))

    async def _settle_or_keep(self, entry: ledger.LedgerEntry, hold: ledger.Hold | None) -> None:
        self._pending[entry.request_id] = (entry, hold)
        try:
            await self.db.write(ledger.settle, entry, hold)
        except Exception:
            if self.spool is None:
                raise
            logger.warning("settling %s failed", entry.request_id, exc_info=True)
            await asyncio.to_thread(self.spool.keep, entry, hold)
        finally:
            self._pending.pop(entry.request_id, None)

    def write_later(self, entry: ledger.LedgerEntry, hold: ledger.Hold | None) -> None:
        """`write` without waiting, for a request being cancelled or failing."""
        spool = self.spool
        keep = None if spool is None else (lambda _error: spool.keep(entry, hold))
        self.db.write_later(ledger.settle, entry, hold, on_error=keep)

    def spool_unfinished(self) -> None:
        """At shutdown, for settles the database did not answer in time (replay is
        idempotent, so one that commits after all is not charged twice)."""
        if self.spool is None:
            return
        for entry, hold in list(self._pending.values()):
            logger.error("settling %s did not finish; spooled", entry.request_id)
            self.spool.keep(entry, hold)

    async def replay(self) -> int:
        """Write the ledger rows kept while the database was away; how many."""
        if self.spool is None:
            return 0
        return await self.spool.replay(partial(self.db.write, ledger.settle))

    async def sweep(self) -> int:
        """Give back the budget holds of requests that never settled (their replica was
        killed, or the database was down when they tried); returns how many."""
        swept = await self.db.write(ledger.sweep_expired, utcnow())
        if swept:
            logger.warning(
                "gave back %d budget holds older than %s whose requests never settled",
                swept,
                self.hold_timeout,
            )
        return swept
