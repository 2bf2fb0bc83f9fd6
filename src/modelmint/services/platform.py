"""Everything the endpoints share, built once from the settings and held by the app:
the infrastructure, who is calling (`auth`), the metered path (`metering`), uploaded
files (`files`), fine-tuning jobs (`fine_tuning`) and the periodic chores, each owned by
its room: the tenancy revision poll by the directory, hold sweep, hold renewal and spool
replay by the settlements, the purge of stored bodies by privacy, the deletion of expired
files by the files.
"""

from __future__ import annotations

from functools import partial

from modelmint.core.background import Background
from modelmint.core.settings import Settings
from modelmint.privacy.retention import purge_past_retention
from modelmint.runtime.registry import Registry
from modelmint.services.auth import Authenticator
from modelmint.services.chores import Chores
from modelmint.services.files import FileLimits, Files
from modelmint.services.fine_tuning import FineTuning
from modelmint.services.infrastructure import Infrastructure
from modelmint.services.metering import Metering

SPOOL_REPLAY_SECONDS = 30.0
FILE_EXPIRY_SECONDS = 600.0  # expired files are hidden at once, deleted within this


class Platform:
    def __init__(
        self,
        infra: Infrastructure,
        registry: Registry,
        *,
        purge_every: float = 3600.0,
        sweep_every: float = 60.0,
    ) -> None:
        self.infra = infra
        self.auth = Authenticator(infra.directory)
        self._background = Background()  # settles and give-backs not awaited by a request
        self.metering = Metering(infra, self._background)
        self.files = Files(
            infra.db, infra.vault, FileLimits(infra.max_file_bytes, infra.max_org_files_bytes)
        )
        self.fine_tuning = FineTuning(infra.db, self.files, registry)
        self.chores = Chores()
        settlements = self.metering.settlements
        if infra.directory is not None:  # a tenancy change on any replica reaches this one
            directory = infra.directory
            self.chores.add("tenancy-revisions", directory.poll_seconds, directory.refresh)
        self.chores.add("purge-bodies", purge_every, partial(purge_past_retention, infra.db))
        if infra.spool is not None:
            self.chores.add("replay-ledger-spool", SPOOL_REPLAY_SECONDS, settlements.replay)
        self.chores.add("sweep-holds", sweep_every, settlements.sweep)
        self.chores.add("expire-files", FILE_EXPIRY_SECONDS, self.files.delete_expired)
        renew_every = infra.options.hold_timeout.total_seconds() / 3
        self.chores.add("renew-holds", renew_every, settlements.renew)

    @classmethod
    def from_settings(cls, settings: Settings, registry: Registry | None = None) -> Platform:
        """`registry`: the models the server serves (the models file's when not given)."""
        return cls(
            Infrastructure.from_settings(settings),
            registry or Registry.from_file(settings.models_file),
            purge_every=settings.purge_interval_seconds,
            sweep_every=settings.hold_sweep_interval_seconds,
        )

    async def start(self) -> None:
        await self.infra.start()
        await self.metering.start()
        if self.infra.spool is not None:
            await self.metering.settlements.replay()
        self.chores.start()

    async def close(self) -> None:
        await self.chores.close()
        self.files.close()
        await self.infra.close_directory()
        # rows being written and tokens being given back, before the limiter goes
        if not await self._background.drain():
            self.metering.settlements.spool_unfinished()
        await self.infra.close()
