"""Budgets and the usage ledger, as SQL run in one transaction on the writer.

`hold` reserves a request's worst case against every monthly limit that applies (org and
key), with one conditional UPDATE per limit: the row only changes if the limit still has
room, so concurrent requests on any number of replicas can never overshoot. `settle`
writes the request's ledger row (once per request id), prices it (included tokens first)
and moves the reservation into the spent counters, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, select, update

from modelmint.billing.money import format_usd, tokens_price
from modelmint.billing.prices import Price
from modelmint.store.sql import insert_ignore
from modelmint.store.tables import usage_counters, usage_ledger

counters = usage_counters.c


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
    month: str
    nanos: int
    tokens: int
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


def hold(
    connection: Connection, month: str, limits: list[Limit], nanos: int, tokens: int
) -> Hold | Limit:
    """Reserve against every limit, or return the first limit without room (nothing held)."""
    held = Hold(month, nanos, tokens)
    for limit in limits:
        _ensure_counter(connection, limit.scope_id, month)
        room = [counters.scope_id == limit.scope_id, counters.month == month]
        if limit.spend_limit_nanos is not None:
            room.append(
                counters.charged_nanos + counters.reserved_nanos + nanos <= limit.spend_limit_nanos
            )
        if limit.token_limit is not None:
            room.append(counters.tokens + counters.reserved_tokens + tokens <= limit.token_limit)
        changed = connection.execute(
            update(usage_counters)
            .where(*room)
            .values(
                reserved_nanos=counters.reserved_nanos + nanos,
                reserved_tokens=counters.reserved_tokens + tokens,
            )
        ).rowcount
        if not changed:
            release(connection, held)
            return limit
        held.scopes.append(limit.scope_id)
    return held


def release(connection: Connection, held: Hold) -> None:
    # `held` is not changed: if this transaction rolls back, a retry must release again
    for scope_id in held.scopes:
        _move(connection, scope_id, held, 0, 0)


def _move(connection: Connection, scope_id: str, held: Hold | None, tokens: int, nanos: int):
    reserved_nanos = held.nanos if held and scope_id in held.scopes else 0
    reserved_tokens = held.tokens if held and scope_id in held.scopes else 0
    month = held.month if held else None
    connection.execute(
        update(usage_counters)
        .where(counters.scope_id == scope_id, counters.month == month)
        .values(
            tokens=counters.tokens + tokens,
            charged_nanos=counters.charged_nanos + nanos,
            reserved_tokens=counters.reserved_tokens - reserved_tokens,
            reserved_nanos=counters.reserved_nanos - reserved_nanos,
        )
    )


def charge(entry: LedgerEntry, tokens_before: int) -> int:
    """Included tokens are used first (prompt before completion); the rest is priced."""
    free = max(0, entry.included_tokens - tokens_before)
    free_prompt = min(free, entry.prompt_tokens)
    free_completion = min(free - free_prompt, entry.completion_tokens)
    return tokens_price(
        entry.prompt_tokens - free_prompt, entry.price.input_nanos_per_mtok
    ) + tokens_price(entry.completion_tokens - free_completion, entry.price.output_nanos_per_mtok)


def settle(connection: Connection, entry: LedgerEntry, held: Hold | None) -> int | None:
    """Write the ledger row and move the hold into spent; the price, or None if a repeat."""
    held = held or Hold(entry.month, 0, 0)
    scopes = [entry.org_id] + ([entry.key_id] if entry.key_counted and entry.key_id else [])
    for scope_id in scopes:
        _ensure_counter(connection, scope_id, entry.month)
    tokens_before = connection.execute(
        select(counters.tokens)
        .where(counters.scope_id == entry.org_id, counters.month == entry.month)
        .with_for_update()
    ).scalar_one()
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
    for scope_id in dict.fromkeys([*scopes, *held.scopes]):
        _move(connection, scope_id, held, total, price)
    return price
