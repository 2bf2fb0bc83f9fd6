"""Who is calling: API key -> account (org, key, plan), cached per replica.

A lookup costs one HMAC and a dict hit. The cache is dropped whenever the tenancy
revision moves (`refresh`, run twice a second) and entries live at most a minute, so
revocations and plan changes reach every replica within a second. Last-used times are
collected in memory and written every few seconds, off the request path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from modelmint.core.errors import AuthenticationError
from modelmint.core.ids import utcnow
from modelmint.core.types import Principal
from modelmint.privacy.policy import PrivacyPolicy, get_policy
from modelmint.store.database import Database
from modelmint.tenancy import keys, revisions
from modelmint.tenancy.orgs import OrgRecord, get_org
from modelmint.tenancy.plans import PlanRecord, plan_at

ENTRY_SECONDS = 60.0
MAX_ENTRIES = 50_000


@dataclass(frozen=True, slots=True)
class Account:
    org: OrgRecord
    key: keys.KeyRecord | None
    plan: PlanRecord | None
    principal: Principal
    policy: PrivacyPolicy = PrivacyPolicy()


def account_for(connection: Connection, key: keys.KeyRecord, now: datetime) -> Account:
    org = get_org(connection, key.org_id)
    plan = plan_at(connection, org.id, now)
    allowed = key.allowed_models
    if plan is not None and plan.allowed_models is not None:
        allowed = plan.allowed_models if allowed is None else allowed & plan.allowed_models
    principal = Principal(org_id=org.id, key_id=key.id, scopes=key.scopes, allowed_models=allowed)
    return Account(org, key, plan, principal, get_policy(connection, org.id))


def _lookup(connection: Connection, digest: str, now: datetime) -> Account | None:
    key = keys.find_by_digest(connection, digest)
    return None if key is None else account_for(connection, key, now)


class Directory:
    def __init__(self, db: Database, secret: bytes, poll_seconds: float = 0.5) -> None:
        self.db = db
        self.secret = secret
        self.poll_seconds = poll_seconds
        self._cache: dict[str, tuple[float, Account | None]] = {}
        self._revision = -1
        self._used: dict[str, datetime] = {}
        self._flushed = time.monotonic()

    async def start(self) -> None:
        self._revision = await self.db.read(revisions.current)

    async def close(self) -> None:
        self._flush_last_used()

    async def authenticate(self, token: str) -> Account:
        if not keys.looks_like_key(token):
            raise AuthenticationError(
                "Incorrect API key provided. Keys start with 'mm-'; create one with "
                "`modelmint keys create`."
            )
        digest = keys.key_digest(self.secret, token)
        now_mono = time.monotonic()
        cached = self._cache.get(digest)
        if cached is None or cached[0] < now_mono:
            revision = self._revision
            account = await self.db.read(_lookup, digest, utcnow())
            if len(self._cache) >= MAX_ENTRIES:
                self._cache.clear()
            if revision == self._revision:  # else a change raced the read: do not keep it
                self._cache[digest] = (now_mono + ENTRY_SECONDS, account)
        else:
            account = cached[1]
        if account is None or account.key is None:
            raise AuthenticationError("Incorrect API key provided.")
        now = utcnow()
        problem = account.key.problem(now)
        if problem:
            raise AuthenticationError(problem)
        self._used[account.key.id] = now
        return account

    @property
    def revision(self) -> int:
        return self._revision

    def invalidate(self) -> None:
        self._cache.clear()

    async def refresh(self) -> None:
        """Forget cached keys when the tenancy revision moved (a key revoked, a plan
        changed, on any replica); run every `poll_seconds`. Keys' last use is written
        every few seconds."""
        revision = await self.db.read(revisions.current)
        if revision != self._revision:
            self._revision = revision
            self.invalidate()
        if time.monotonic() - self._flushed > 5:
            self._flushed = time.monotonic()
            self._flush_last_used()

    def _flush_last_used(self) -> None:
        if self._used:
            used, self._used = self._used, {}
            self.db.write_later(keys.touch_last_used, used)
