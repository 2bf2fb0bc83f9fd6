"""The business work around each request: who calls, may they, and what it cost.

`admit` runs before generation: rate limits (RPM, TPM per key and org), the org's
concurrency cap, and a budget hold for the worst case. `Ticket.settle` runs after it,
before the response's last byte: the ledger row, the real price, the unused tokens
given back. A cancelled or failed request settles what it produced without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import SecretStr
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError

from modelmint.billing import ledger
from modelmint.billing.concurrency import InProcessSlots, RedisSlots, Slots
from modelmint.billing.money import tokens_price, usd_to_nanos
from modelmint.billing.prices import Price, PriceBook
from modelmint.billing.ratelimit import (
    Bucket,
    Decision,
    InProcessLimiter,
    RateLimiter,
    format_reset,
)
from modelmint.billing.redis_limits import RedisLimiter
from modelmint.billing.spool import LedgerSpool
from modelmint.core.background import Background
from modelmint.core.errors import AuthenticationError, RateLimitError, StoreUnavailableError
from modelmint.core.ids import month_of, utcnow
from modelmint.core.settings import Settings
from modelmint.core.types import Principal, Usage
from modelmint.privacy.bodies import purge_expired, store_body
from modelmint.privacy.crypto import Keyring
from modelmint.services.privacy import PrivacyCheckError, RequestPrivacy
from modelmint.services.settlements import Settlements
from modelmint.store.database import Database
from modelmint.tenancy.directory import Account, Directory
from modelmint.tenancy.orgs import LOCAL_ORG, OrgRecord
from modelmint.tenancy.plans import all_prices
from modelmint.tenancy.secret import load_secret

logger = logging.getLogger(__name__)

SPOOL_FILE = "unsettled-ledger.jsonl"  # in the data dir
SPOOL_REPLAY_SECONDS = 30.0
HoldResult = ledger.Hold | ledger.Limit | None  # held, refused by this limit, or no limits


class QuotaExceededError(RateLimitError):
    type = "insufficient_quota"
    code = "insufficient_quota"


@dataclass(frozen=True, slots=True)
class Used:
    """What a request used, as its generations' meters tell it."""

    usage: Usage
    compute_seconds: float = 0.0
    time_to_first_token: float | None = None


@dataclass(frozen=True, slots=True)
class Size:
    """One generation's worst case: its prompt and the most it may add."""

    prompt_tokens: int
    max_new_tokens: int


def local_account() -> Account:
    org = OrgRecord(LOCAL_ORG, "local", datetime(2000, 1, 1), None, None)
    return Account(org, None, None, Principal.local())


@dataclass
class Ticket:
    accounting: Accounting
    account: Account
    request_id: str
    model: str
    endpoint: str
    price: Price
    hold: ledger.Hold | None
    token_buckets: list[Bucket]
    worst: Size  # the worst case admitted: no request is billed for more
    headers: dict[str, str]
    privacy: RequestPrivacy | None = None
    started: float = field(default_factory=time.perf_counter)
    created_at: datetime = field(default_factory=utcnow)
    settled: bool = False

    @property
    def held_tokens(self) -> int:
        return self.worst.prompt_tokens + self.worst.max_new_tokens

    def _billable(self, usage: Usage) -> Usage:
        """`usage` within what was held, so a charge never passes its hold (an engine
        that reports more than it measured is logged, not billed past the budget)."""
        prompt = min(usage.prompt_tokens, self.worst.prompt_tokens)
        completion = min(usage.completion_tokens, self.worst.max_new_tokens)
        if (prompt, completion) == (usage.prompt_tokens, usage.completion_tokens):
            return usage
        logger.warning(
            "request %s used %d+%d tokens but held %d+%d; billed the held amount",
            self.request_id,
            usage.prompt_tokens,
            usage.completion_tokens,
            self.worst.prompt_tokens,
            self.worst.max_new_tokens,
        )
        return Usage(prompt, completion, min(usage.cached_tokens, prompt))

    def _entry(self, used: Used, status: str) -> ledger.LedgerEntry:
        key = self.account.key
        plan = self.account.plan
        usage = self._billable(used.usage)
        return ledger.LedgerEntry(
            request_id=self.request_id,
            created_at=self.created_at,
            month=month_of(self.created_at),
            org_id=self.account.org.id,
            key_id=key.id if key else None,
            model=self.model,
            endpoint=self.endpoint,
            status=status,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            latency_ms=(time.perf_counter() - self.started) * 1000,
            ttft_ms=None if used.time_to_first_token is None else used.time_to_first_token * 1000,
            compute_seconds=used.compute_seconds,
            cost_nanos=self.accounting.cost_nanos(self.model, used.compute_seconds),
            price=self.price,
            included_tokens=plan.included_tokens if plan else 0,
            key_counted=bool(key and (key.spend_limit_nanos or key.token_limit)),
        )

    async def settle(self, used: Used, status: str = "ok") -> None:
        """Write the ledger row and wait for the commit (call before the last byte)."""
        if self.settled:
            return
        self.settled = True
        entry = self._entry(used, status)
        self.accounting.finish(self, used.usage.total_tokens)
        if self.accounting.ledger_enabled:
            await self.accounting.settlements.write(entry, self.hold)
        elif self.hold is not None:
            self.accounting.db.write_later(ledger.release, self.hold)

    @property
    def keeps_bodies(self) -> bool:
        return self.account.policy.store_bodies and self.accounting.ledger_enabled

    def keep_bodies(self, request_body: Any, response_body: Any) -> None:
        """Store the bodies, redacted as the policy says and encrypted, off the hot path.
        They are redacted as one text: a number split between the prompt and the answer
        is redacted in both."""
        privacy = self.privacy or RequestPrivacy(self.account.policy)
        try:
            request_text, response_text = privacy.stored_bodies(request_body, response_body)
        except PrivacyCheckError:  # fail closed: rather no copy than an unredacted one
            logger.warning("request %s: bodies not stored, redaction failed", self.request_id)
            return
        self.accounting.db.write_later(
            store_body,
            self.accounting.keyring,
            self.request_id,
            self.account.org.id,
            self.created_at,
            request_text,
            response_text,
        )

    def settle_later(self, used: Used, status: str) -> None:
        """Like `settle`, without waiting: for requests being cancelled or failing."""
        if self.settled:
            return
        self.settled = True
        entry = self._entry(used, status)
        self.accounting.finish(self, used.usage.total_tokens)
        if self.accounting.ledger_enabled and used.usage.total_tokens:
            self.accounting.settlements.write_later(entry, self.hold)
        elif self.hold is not None:
            self.accounting.db.write_later(ledger.release, self.hold)


class Accounting:
    def __init__(
        self,
        db: Database,
        directory: Directory | None,
        limiter: RateLimiter,
        *,
        secret: bytes,
        keyring: Keyring,
        costs_per_hour: dict[str, Decimal],
        default_cost_per_hour: Decimal,
        ledger_enabled: bool = True,
        purge_every: float = 3600.0,
        hold_timeout: float = 3600.0,
        sweep_every: float = 60.0,
        slots: Slots | None = None,
        spool: LedgerSpool | None = None,
    ) -> None:
        self.db = db
        self.secret = secret
        self.keyring = keyring
        self.directory = directory
        self.limiter = limiter
        self.ledger_enabled = ledger_enabled
        self.purge_every = purge_every
        self.hold_timeout = timedelta(seconds=hold_timeout)
        self.sweep_every = sweep_every
        self._background = Background()
        self.settlements = Settlements(db, spool, self._background, self.hold_timeout)
        self._chores: list[asyncio.Task] = []
        self._costs = {k: usd_to_nanos(v) for k, v in costs_per_hour.items()}
        self._default_cost = usd_to_nanos(default_cost_per_hour)
        self._prices = PriceBook([])
        self._prices_revision = -2
        self.slots = slots or InProcessSlots()

    @property
    def auth_enabled(self) -> bool:
        return self.directory is not None

    @classmethod
    def from_settings(cls, settings: Settings) -> Accounting:
        db = Database(settings.resolved_database_url())
        secret = load_secret(settings.data_dir, _secret_text(settings.secret_key))
        directory = Directory(db, secret) if settings.auth else None
        redis_url, timeout = settings.redis_url, settings.redis_timeout_seconds
        limiter: RateLimiter = (
            RedisLimiter(redis_url, timeout=timeout) if redis_url else InProcessLimiter()
        )
        slots: Slots = RedisSlots(redis_url, timeout=timeout) if redis_url else InProcessSlots()
        return cls(
            db,
            directory,
            limiter,
            secret=secret,
            keyring=Keyring.load(settings.data_dir, _secret_text(settings.encryption_keys)),
            costs_per_hour=settings.engine_cost_per_hour,
            default_cost_per_hour=settings.default_engine_cost_per_hour,
            ledger_enabled=settings.usage_ledger,
            purge_every=settings.purge_interval_seconds,
            hold_timeout=settings.hold_timeout_seconds,
            sweep_every=settings.hold_sweep_interval_seconds,
            slots=slots,
            spool=LedgerSpool(settings.data_dir / SPOOL_FILE),
        )

    async def start(self) -> None:
        await asyncio.to_thread(self.db.migrate)
        if self.directory is not None:
            await self.directory.start()
        await self._refresh_prices()
        if self.purge_every:
            self._every(self.purge_every, self._purge, "purge-bodies")
        if self.settlements.spool is not None:
            await self.settlements.replay()
            self._every(SPOOL_REPLAY_SECONDS, self.settlements.replay, "replay-ledger-spool")
        if self.sweep_every:
            self._every(self.sweep_every, self.settlements.sweep, "sweep-holds")
        renew_every = self.hold_timeout.total_seconds() / 3
        self._every(renew_every, self.settlements.renew, "renew-holds")

    def _every(self, seconds: float, chore, name: str) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await chore()
                except Exception:  # the next round tries again
                    logger.warning("%s failed", name, exc_info=True)

        self._chores.append(asyncio.create_task(loop(), name=name))

    async def _purge(self) -> None:
        removed = await self.db.write(purge_expired, "server")
        if removed:
            logger.info("purged %d stored bodies past their retention", removed)

    async def close(self) -> None:
        for chore in self._chores:
            chore.cancel()
        if self.directory is not None:
            await self.directory.close()
        # rows being written and tokens being given back, before the limiter goes
        if not await self._background.drain():
            self.settlements.spool_unfinished()
        await self.limiter.close()
        await self.slots.close()
        await asyncio.to_thread(self.db.close)

    async def authenticate(self, authorization: str | None) -> Account:
        if self.directory is None:
            return local_account()
        with _stores_unavailable_as_503():
            return await self._authenticate(authorization)

    async def _authenticate(self, authorization: str | None) -> Account:
        assert self.directory is not None
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError(
                "You didn't provide an API key. Send it as 'Authorization: Bearer mm-...'; "
                "create one with `modelmint keys create`."
            )
        return await self.directory.authenticate(token.strip())

    async def _refresh_prices(self, plan_id: str | None = None) -> None:
        revision = self.directory.revision if self.directory else 0
        unknown_plan = plan_id is not None and not self._prices.knows(plan_id)
        if revision != self._prices_revision or unknown_plan:
            self._prices = PriceBook(await self.db.read(all_prices))
            self._prices_revision = revision

    def cost_nanos(self, model: str, compute_seconds: float) -> int:
        per_hour = self._costs.get(model, self._default_cost)
        return round(per_hour * compute_seconds / 3600)

    async def admit(
        self, account: Account, model: str, endpoint: str, request_id: str, sizes: list[Size]
    ) -> Ticket:
        """Check limits and hold the worst case; raises 429s that say which limit, and a
        503 when the database or Redis does not answer."""
        with _stores_unavailable_as_503():
            return await self._admit(account, model, endpoint, request_id, sizes)

    async def _admit(
        self, account: Account, model: str, endpoint: str, request_id: str, sizes: list[Size]
    ) -> Ticket:
        plan = account.plan
        await self._refresh_prices(plan.id if plan else None)
        now = utcnow()
        price = self._prices.price(plan.id if plan else None, model, now)
        prompt = sum(s.prompt_tokens for s in sizes)
        new = sum(s.max_new_tokens for s in sizes)
        buckets = _buckets(account, prompt + new)
        decision = await self.limiter.take(buckets) if buckets else Decision(True, [])
        headers = _headers(decision)
        if not decision.allowed:
            raise _rate_limited(decision, headers)
        org_id = account.org.id
        cap = plan.max_concurrent if plan is not None else None
        try:
            entered = await self.slots.enter(org_id, request_id, cap)
        except BaseException:
            self._give_back_later(buckets, prompt + new)
            raise
        if not entered:
            await self._give_back(buckets, prompt + new)
            raise RateLimitError(
                f"Your organization already has {cap} requests running, the "
                "most its plan allows at once. Wait for one to finish, or upgrade the plan.",
                headers={"Retry-After": "1", **headers},
            )
        worst = tokens_price(prompt, price.input_nanos_per_mtok) + tokens_price(
            new, price.output_nanos_per_mtok
        )
        wanted = ledger.Hold(
            request_id, month_of(now), worst, prompt + new, now + self.hold_timeout
        )
        try:
            held = await self._hold(account, wanted)
        except BaseException:
            self.slots.leave(org_id, request_id)
            self._give_back_later(buckets, prompt + new)
            raise
        if isinstance(held, ledger.Limit):
            self.slots.leave(org_id, request_id)
            await self._give_back(buckets, prompt + new)
            raise QuotaExceededError(
                f"You exceeded your current quota: this request could cost up to "
                f"{worst / 1e9:.6f} USD ({prompt + new} tokens), which would pass "
                f"{held.describe()}. Lower max_tokens, or raise the limit.",
                headers=headers,
            )
        if isinstance(held, ledger.Hold):
            self.settlements.track(held)
        tpm = [b for b in buckets if b.counts_tokens]
        return Ticket(
            self, account, request_id, model, endpoint, price, held, tpm, Size(prompt, new),
            headers,
            created_at=now,  # the hold's month and the ledger row's are one reading
        )  # fmt: skip

    async def _hold(self, account: Account, wanted: ledger.Hold) -> HoldResult:
        limits = _limits(account)
        if not limits:
            return None
        holding = self._background.spawn(
            self.db.write(ledger.hold, wanted, limits), "holding", awaited=True
        )
        try:
            return await asyncio.shield(holding)
        except asyncio.CancelledError:
            # the writer commits the hold anyway: give it back once it has, not in an hour
            holding.add_done_callback(self._release_abandoned)
            raise

    def _release_abandoned(self, holding: asyncio.Task) -> None:
        if holding.cancelled() or holding.exception() is not None:
            return
        held = holding.result()
        if isinstance(held, ledger.Hold):
            self.db.write_later(ledger.release, held)

    def _give_back_later(self, buckets: list[Bucket], tokens: int) -> None:
        """`_give_back` for a request that fails or is cancelled on its way in."""
        if any(b.counts_tokens for b in buckets):
            self._background.spawn(self._give_back(buckets, tokens), "giving tokens back")

    async def _give_back(self, buckets: list[Bucket], tokens: int) -> None:
        """Tokens of a refused request go back; the request itself still counts, so a
        caller over budget cannot hammer the server."""
        for bucket in buckets:
            if bucket.counts_tokens:
                await self.limiter.give_back(bucket, tokens)

    def finish(self, ticket: Ticket, used_tokens: int) -> None:
        self.slots.leave(ticket.account.org.id, ticket.request_id)
        self.settlements.untrack(ticket.request_id)
        unused = max(0, ticket.held_tokens - used_tokens)
        if unused and ticket.token_buckets:
            for bucket in ticket.token_buckets:
                work = self.limiter.give_back(bucket, unused)
                self._background.spawn(work, f"giving {unused} tokens back to {bucket.key}")


@contextmanager
def _stores_unavailable_as_503() -> Iterator[None]:
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


def _limits(account: Account) -> list[ledger.Limit]:
    limits = []
    org, key = account.org, account.key
    if org.spend_limit_nanos is not None or org.token_limit is not None:
        limits.append(ledger.Limit(org.id, "organization", org.spend_limit_nanos, org.token_limit))
    if key is not None and (key.spend_limit_nanos is not None or key.token_limit is not None):
        limits.append(ledger.Limit(key.id, "API key", key.spend_limit_nanos, key.token_limit))
    return limits


def _buckets(account: Account, tokens: int) -> list[Bucket]:
    buckets = []
    if account.plan is not None:
        org = account.org.id
        buckets += [
            Bucket("rpm", org, account.plan.rpm, 1),
            Bucket("tpm", org, account.plan.tpm, tokens),
        ]
    key = account.key
    if key is not None and key.rpm:
        buckets.append(Bucket("rpm", key.id, key.rpm, 1))
    if key is not None and key.tpm:
        buckets.append(Bucket("tpm", key.id, key.tpm, tokens))
    return buckets


def _headers(decision: Decision) -> dict[str, str]:
    headers: dict[str, str] = {}
    for kind, name in (("rpm", "requests"), ("tpm", "tokens")):
        states = [s for s in decision.states if s.bucket.kind == kind]
        if not states:
            continue
        tightest = min(states, key=lambda s: s.remaining)
        headers[f"x-ratelimit-limit-{name}"] = str(tightest.bucket.limit)
        headers[f"x-ratelimit-remaining-{name}"] = str(tightest.remaining)
        headers[f"x-ratelimit-reset-{name}"] = format_reset(tightest.reset_seconds)
    return headers


def _rate_limited(decision: Decision, headers: dict[str, str]) -> RateLimitError:
    blocked = decision.blocked
    assert blocked is not None
    what = "tokens" if blocked.counts_tokens else "requests"
    owner = blocked.owner_kind
    retry = max(1, int(decision.retry_after + 0.999))
    if what == "tokens" and blocked.amount > blocked.limit:
        message = (
            f"This request needs up to {blocked.amount} tokens but the {owner}'s limit is "
            f"{blocked.limit} tokens per minute. Lower max_tokens or shorten the prompt."
        )
    else:
        message = (
            f"Rate limit reached for {what} per minute on your {owner}: limit "
            f"{blocked.limit}. Retry in {retry}s."
        )
    return RateLimitError(message, headers={"Retry-After": str(retry), **headers})
