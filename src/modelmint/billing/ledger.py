"""Budgets and the usage ledger, as SQL run in one transaction on the writer.

`hold` reserves a request's worst case against every monthly limit that applies (org and
key), with one conditional UPDATE per limit: the row only changes if the limit still has
room, so concurrent requests on any number of replicas can never overshoot. The
reservation is also written as a `budget_holds` row. `settle` writes the request's ledger
row (once per request id), prices it (included tokens first) and moves the reservation
into the spent counters, in the same transaction; `release` gives it back unused. Both
delete the hold row and move only what it still holds, so each is safe to repeat.
`renew` pushes back the expiry of holds whose requests still run; `sweep_expired` gives
back the holds of requests that never settled (a replica killed mid-request, a settle that
failed while the database was down), which nobody renews any more.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import BigInteger, Connection, bindparam, delete, or_, select, update

from modelmint.billing.money import format_usd, tokens_price
from modelmint.billing.prices import Price
from modelmint.store.sql import insert_ignore
from modelmint.store.tables import budget_holds, usage_counters, usage_ledger

counters = usage_counters.c
SWEEP_BATCH = 500

# Built once: statements made per request would spend more time in SQLAlchemy than in SQL.
_THIS_COUNTER = (counters.scope_id == bindparam("scope"), counters.month == bindparam("at_month"))
_HOLD = (
    update(usage_counters)
    .where(
        *_THIS_COUNTER,
        or_(
            bindparam("spend_limit", type_=BigInteger).is_(None),
            counters.charged_nanos + counters.reserved_nanos + bindparam("nanos")
            <= bindparam("spend_limit", type_=BigInteger),
        ),
        or_(
            bindparam("token_limit", type_=BigInteger).is_(None),
            counters.tokens + counters.reserved_tokens + bindparam("add_tokens")
            <= bindparam("token_limit", type_=BigInteger),
        ),
    )
    .values(
        reserved_nanos=counters.reserved_nanos + bindparam("nanos"),
        reserved_tokens=counters.reserved_tokens + bindparam("add_tokens"),
    )
)
_MOVE = (
    update(usage_counters)
    .where(*_THIS_COUNTER)
    .values(
        tokens=counters.tokens + bindparam("used_tokens"),
        charged_nanos=counters.charged_nanos + bindparam("used_nanos"),
        reserved_tokens=counters.reserved_tokens - bindparam("held_tokens"),
        reserved_nanos=counters.reserved_nanos - bindparam("held_nanos"),
    )
)
_MONTH_TOKENS = select(counters.tokens).where(*_THIS_COUNTER).with_for_update()
_KEEP_HOLD = budget_holds.insert()
_FORGET_HOLD = delete(budget_holds).where(budget_holds.c.request_id == bindparam("request_id"))


@dataclass(frozen=True, slots=True)
class Limit:
    scope_id: str  # an org id or a key id
    owner: str  # "organization" or "API key"
    spend_limit_nanos: int | None
    token_limit: int | None

    def describe(self) -> str:
        parts = []
        if self.spend_limit_nanos is not None:
            parts.append(f"monthly spend limit of {format_usd(self.spend_limit_nanos, 2)}")
        if self.token_limit is not None:
            parts.append(f"monthly limit of {self.token_limit:,} tokens")
        return f"the {self.owner}'s " + " and ".join(parts)


@dataclass(slots=True)
class Hold:
    """A request's reservation; `scopes` are the budgets it holds against."""

    request_id: str
    month: str
    nanos: int
    tokens: int
    expires_at: datetime
    scopes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    request_id: str
    created_at: datetime
    month: str
    org_id: str
    key_id: str | None
    model: str
    endpoint: str
    status: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    ttft_ms: float | None
    compute_seconds: float
    cost_nanos: int
    price: Price
    included_tokens: int
    key_counted: bool  # the key has limits of its own, so its counters are kept too


def _ensure_counter(connection: Connection, scope_id: str, month: str) -> None:
    insert_ignore(
        connection,
        usage_counters,
        scope_id=scope_id,
        month=month,
        tokens=0,
        charged_nanos=0,
        reserved_tokens=0,
        reserved_nanos=0,
    )


def hold(connection: Connection, wanted: Hold, limits: list[Limit]) -> Hold | Limit:
    """Reserve `wanted` against every limit, or return the first limit without room
    (nothing held then). The hold returned names the scopes it holds against."""
    held = replace(wanted, scopes=[])
    values = {"at_month": held.month, "nanos": held.nanos, "add_tokens": held.tokens}
    for limit in limits:
        _ensure_counter(connection, limit.scope_id, held.month)
        changed = connection.execute(
            _HOLD,
            values
            | {
                "scope": limit.scope_id,
                "spend_limit": limit.spend_limit_nanos,
                "token_limit": limit.token_limit,
            },
        ).rowcount
        if not changed:
            _give_back(connection, held)
            return limit
        held.scopes.append(limit.scope_id)
    if held.scopes:
        row = {
            "request_id": held.request_id,
            "month": held.month,
            "scopes": ",".join(held.scopes),
            "tokens": held.tokens,
            "nanos": held.nanos,
            "expires_at": held.expires_at,
        }
        connection.execute(_KEEP_HOLD, row)
    return held


def release(connection: Connection, held: Hold) -> bool:
    """Give the reservation back unused; False if it was settled, released or swept."""
    if not _forget(connection, held):
        return False
    _give_back(connection, held)
    return True


def _forget(connection: Connection, held: Hold) -> bool:
    """Delete the hold's row; True if it was still there (so its reservation stands)."""
    if not held.scopes:
        return False
    return connection.execute(_FORGET_HOLD, {"request_id": held.request_id}).rowcount > 0


def _give_back(connection: Connection, held: Hold) -> None:
    # `held` is not changed: if this transaction rolls back, a retry must give back again
    for scope_id in held.scopes:
        _move(connection, scope_id, held, 0, 0, still_held=True)


def _move(
    connection: Connection, scope_id: str, held: Hold, tokens: int, nanos: int, still_held: bool
) -> None:
    was_held = still_held and scope_id in held.scopes
    values = {
        "scope": scope_id,
        "at_month": held.month,
        "used_tokens": tokens,
        "used_nanos": nanos,
        "held_tokens": held.tokens if was_held else 0,
        "held_nanos": held.nanos if was_held else 0,
    }
    connection.execute(_MOVE, values)


def renew(connection: Connection, request_ids: list[str], expires_at: datetime) -> int:
    """Push back the expiry of running requests' holds; how many were still there."""
    renewed = 0
    for start in range(0, len(request_ids), SWEEP_BATCH):
        chunk = request_ids[start : start + SWEEP_BATCH]
        renewed += connection.execute(
            update(budget_holds)
            .where(budget_holds.c.request_id.in_(chunk))
            .values(expires_at=expires_at)
        ).rowcount
    return renewed


def sweep_expired(connection: Connection, now: datetime) -> int:
    """Give back up to SWEEP_BATCH holds that expired before `now`; how many."""
    rows = connection.execute(
        select(budget_holds)
        .where(budget_holds.c.expires_at < now)
        .order_by(budget_holds.c.expires_at)
        .limit(SWEEP_BATCH)
    ).all()
    # another replica may have swept one just now
    return sum(release(connection, _hold_of(row)) for row in rows)


def release_request(connection: Connection, request_id: str) -> bool:
    """Give back the hold of `request_id` if it still stands (a job resumed by another
    worker gives back the hold of the attempt that died)."""
    query = select(budget_holds).where(budget_holds.c.request_id == request_id)
    row = connection.execute(query).first()
    return row is not None and release(connection, _hold_of(row))


def _hold_of(row) -> Hold:
    scopes = row.scopes.split(",")
    return Hold(row.request_id, row.month, row.nanos, row.tokens, row.expires_at, scopes)


def charge(entry: LedgerEntry, tokens_before: int) -> int:
    """Included tokens are used first (prompt before completion); the rest is priced."""
    free = max(0, entry.included_tokens - tokens_before)
    free_prompt = min(free, entry.prompt_tokens)
    free_completion = min(free - free_prompt, entry.completion_tokens)
    return tokens_price(
        entry.prompt_tokens - free_prompt, entry.price.input_nanos_per_mtok
    ) + tokens_price(entry.completion_tokens - free_completion, entry.price.output_nanos_per_mtok)


def settle(connection: Connection, entry: LedgerEntry, held: Hold | None) -> int | None:
    """Write the ledger row and move the hold into spent; the price, or None if a repeat.
    A hold that was swept meanwhile has been given back already: only the use is added."""
    held = held or Hold(entry.request_id, entry.month, 0, 0, entry.created_at)
    scopes = [entry.org_id] + ([entry.key_id] if entry.key_counted and entry.key_id else [])
    for scope_id in scopes:
        _ensure_counter(connection, scope_id, entry.month)
    tokens_before = 0
    if entry.included_tokens:  # only then does the price depend on the month so far
        where = {"scope": entry.org_id, "at_month": entry.month}
        tokens_before = connection.execute(_MONTH_TOKENS, where).scalar_one()
    price = charge(entry, tokens_before)
    inserted = insert_ignore(
        connection,
        usage_ledger,
        request_id=entry.request_id,
        created_at=entry.created_at,
        org_id=entry.org_id,
        key_id=entry.key_id,
        model=entry.model,
        endpoint=entry.endpoint,
        status=entry.status,
        prompt_tokens=entry.prompt_tokens,
        completion_tokens=entry.completion_tokens,
        latency_ms=entry.latency_ms,
        ttft_ms=entry.ttft_ms,
        compute_seconds=entry.compute_seconds,
        price_nanos=price,
        cost_nanos=entry.cost_nanos,
    )
    if not inserted:  # settled already, hold and all (request ids are never reused)
        return None
    total = entry.prompt_tokens + entry.completion_tokens
    still_held = _forget(connection, held)
    for scope_id in dict.fromkeys([*scopes, *held.scopes]):
        _move(connection, scope_id, held, total, price, still_held)
    return price
