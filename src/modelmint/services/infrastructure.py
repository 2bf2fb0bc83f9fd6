"""What the services stand on, built once per process from the settings: the database,
the tenancy directory, the secret and the keyring, the rate limiter, the concurrency
leases, the ledger spool and the vault of uploaded files. The app holds it in its state;
nothing else builds them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from pydantic import SecretStr
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError

from modelmint.billing.concurrency import InProcessLeases, Leases, RedisLeases
from modelmint.billing.ratelimit import InProcessLimiter, RateLimiter
from modelmint.billing.redis_limits import RedisLimiter
from modelmint.billing.spool import LedgerSpool
from modelmint.core.errors import StoreUnavailableError
from modelmint.core.settings import Settings
from modelmint.privacy.crypto import Keyring
from modelmint.privacy.vault import FileVault
from modelmint.store.database import Database
from modelmint.tenancy.directory import Directory
from modelmint.tenancy.orgs import ensure_local_org
from modelmint.tenancy.secret import load_secret

logger = logging.getLogger(__name__)

SPOOL_FILE = "unsettled-ledger.jsonl"  # in the data dir


@dataclass(frozen=True, slots=True)
class MeteringOptions:
    ledger_enabled: bool = True
    hold_timeout: timedelta = timedelta(hours=1)
    costs_per_hour: tuple[tuple[str, Decimal], ...] = ()  # serving cost per model
    default_cost_per_hour: Decimal = Decimal(0)


@dataclass
class Infrastructure:
    db: Database
    secret: bytes
    keyring: Keyring
    directory: Directory | None  # None: auth is off, every caller is the local account
    limiter: RateLimiter
    leases: Leases
    spool: LedgerSpool | None
    vault: FileVault  # uploaded files, encrypted
    options: MeteringOptions = MeteringOptions()
    max_file_bytes: int = 512 * 1024 * 1024
    max_org_files_bytes: int = 10 * 1024**3

    @classmethod
    def from_settings(cls, settings: Settings) -> Infrastructure:
        db = Database(settings.resolved_database_url())
        secret = load_secret(settings.data_dir, _secret_text(settings.secret_key))
        keyring = Keyring.load(settings.data_dir, _secret_text(settings.encryption_keys))
        redis_url, timeout = settings.redis_url, settings.redis_timeout_seconds
        return cls(
            db=db,
            secret=secret,
            keyring=keyring,
            directory=Directory(db, secret) if settings.auth else None,
            limiter=RedisLimiter(redis_url, timeout=timeout) if redis_url else InProcessLimiter(),
            leases=RedisLeases(redis_url, timeout=timeout) if redis_url else InProcessLeases(),
            spool=LedgerSpool(settings.data_dir / SPOOL_FILE),
            vault=FileVault(settings.resolved_files_dir(), keyring),
            options=MeteringOptions(
                ledger_enabled=settings.usage_ledger,
                hold_timeout=timedelta(seconds=settings.hold_timeout_seconds),
                costs_per_hour=tuple(settings.engine_cost_per_hour.items()),
                default_cost_per_hour=settings.default_engine_cost_per_hour,
            ),
            max_file_bytes=settings.max_file_bytes,
            max_org_files_bytes=settings.max_org_files_bytes,
        )

    async def start(self) -> None:
        await asyncio.to_thread(self.db.migrate)
        if self.directory is not None:
            await self.directory.start()
        else:  # the local account owns rows (files, stores) like any org
            await self.db.write(ensure_local_org)

    async def close_directory(self) -> None:
        if self.directory is not None:
            await self.directory.close()

    async def close(self) -> None:
        """After the work that uses them has drained (see Platform.close)."""
        await self.limiter.close()
        await self.leases.close()
        await asyncio.to_thread(self.db.close)


@contextmanager
def stores_unavailable_as_503() -> Iterator[None]:
    """The database or Redis not answering is a 503 that says which, not a 500."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        logger.warning("the database did not answer: %s", exc.__class__.__name__)
        raise StoreUnavailableError("usage database") from exc
    except (RedisConnectionError, RedisTimeoutError) as exc:
        logger.warning("Redis did not answer: %s", exc)
        raise StoreUnavailableError("rate-limit store (Redis)") from exc


def _secret_text(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value else None
