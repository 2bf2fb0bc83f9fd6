"""The one metered path every endpoint takes: `admit`, run the work, `settle` once.

`admit(context, estimate)` checks the rate limits (RPM, TPM per key and org), the org's
concurrency cap and its budgets, holding the worst case; it returns an immutable `Ticket`
or raises a 429 that names the limit (a 503 when the database or Redis does not answer).
`metered(ticket, used)` wraps the work and settles it exactly once however it ends: `ok`
waits for the ledger row's commit (before the response's last byte); `error` and
`cancelled` settle what was produced without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from modelmint.billing import ledger
from modelmint.billing.money import usd_to_nanos
from modelmint.billing.prices import Price, PriceBook
from modelmint.billing.ratelimit import Bucket, Decision
from modelmint.core.background import Background
from modelmint.core.ids import month_of
from modelmint.core.types import Usage
from modelmint.services import limits
from modelmint.services.context import (
    Endpoint,
    Estimate,
    RequestContext,
    Status,
    Ticket,
    Used,
)
from modelmint.services.infrastructure import Infrastructure, stores_unavailable_as_503
from modelmint.services.settlements import Settlements
from modelmint.tenancy.plans import all_prices

logger = logging.getLogger(__name__)


class Metering:
    def __init__(self, infra: Infrastructure, background: Background) -> None:
        self.infra = infra
        self.settlements = Settlements(
            infra.db, infra.spool, background, infra.options.hold_timeout
        )
        self._background = background
        options = infra.options
        self._costs = {model: usd_to_nanos(v) for model, v in options.costs_per_hour}
        self._default_cost = usd_to_nanos(options.default_cost_per_hour)
        self._prices = PriceBook([])
        self._prices_revision = -2

    async def start(self) -> None:
        await self._refresh_prices()

    async def _refresh_prices(self, plan_id: str | None = None) -> None:
        directory = self.infra.directory
        revision = directory.revision if directory else 0
        unknown_plan = plan_id is not None and not self._prices.knows(plan_id)
        if revision != self._prices_revision or unknown_plan:
            self._prices = PriceBook(await self.infra.db.read(all_prices))
            self._prices_revision = revision

    def cost_nanos(self, model: str, compute_seconds: float) -> int:
        """What serving `compute_seconds` of `model` cost us (unit economics)."""
        per_hour = self._costs.get(model, self._default_cost)
        return round(per_hour * compute_seconds / 3600)

    # admission ------------------------------------------------------------------------
    async def admit(self, context: RequestContext, estimate: Estimate) -> Ticket:
        with stores_unavailable_as_503():
            return await self._admit(context, estimate)

    async def _admit(self, context: RequestContext, estimate: Estimate) -> Ticket:
        account, request_id = context.account, context.request_id
        plan = account.plan
        await self._refresh_prices(plan.id if plan else None)
        price = self._prices.price(plan.id if plan else None, context.model, context.created_at)
        buckets = limits.buckets(account, estimate.tokens)
        decision = await self.infra.limiter.take(buckets) if buckets else Decision(True, [])
        headers = limits.headers(decision)
        if not decision.allowed:
            raise limits.rate_limited(decision, headers)
        org_id, cap = account.org.id, plan.max_concurrent if plan is not None else None
        leases = self.infra.leases
        try:
            entered = await leases.enter(org_id, request_id, cap)
        except BaseException:
            self._give_back_later(buckets, estimate.tokens)
            raise
        if not entered:
            await self._give_back(buckets, estimate.tokens)
            raise limits.too_many_running(cap, headers)
        try:
            held = await self._hold(context, estimate, price)
        except BaseException:
            leases.leave(org_id, request_id)
            self._give_back_later(buckets, estimate.tokens)
            raise
        if isinstance(held, ledger.Limit):
            leases.leave(org_id, request_id)
            await self._give_back(buckets, estimate.tokens)
            raise limits.over_budget(estimate.price(price), estimate.tokens, held, headers)
        if held is not None:
            self.settlements.track(held)
        tpm = tuple(b for b in buckets if b.counts_tokens)
        return Ticket(context, price, estimate, held, tpm, headers)

    async def admit_job(
        self, context: RequestContext, estimate: Estimate, training: bool = True
    ) -> Ticket:
        """Admission for background work (a fine-tuning job at the plan's fine-tuning
        price, a file's ingestion at the model's): its budget hold only. Such work runs
        for minutes off the serving path, so the per-minute limits and the
        concurrent-request cap are not its to take."""
        with stores_unavailable_as_503():
            plan = context.account.plan
            await self._refresh_prices(plan.id if plan else None)
            plan_id = plan.id if plan else None
            price = self._prices.price(plan_id, context.model, context.created_at)
            if training:
                price = price.for_training()
            # an earlier attempt of the same job (its worker died) may still hold
            await self.infra.db.write(ledger.release_request, context.request_id)
            held = await self._hold(context, estimate, price)
            if isinstance(held, ledger.Limit):
                raise limits.over_budget(estimate.price(price), estimate.tokens, held, {})
            if held is not None:
                self.settlements.track(held)
            return Ticket(context, price, estimate, held, (), {}, leased=False)

    async def settle_job(self, ticket: Ticket, used: Used, status: Status) -> None:
        """Background work's one settle, when it ends: its hold and its bill are minutes
        apart, so no `metered` block spans them."""
        await self.settle(ticket, used, status)

    async def _hold(
        self, context: RequestContext, estimate: Estimate, price: Price
    ) -> ledger.Hold | ledger.Limit | None:
        """Held, refused by this limit, or None when the org and key have no limits."""
        budgets = limits.budgets(context.account)
        if not budgets:
            return None
        now = context.created_at  # the hold's month and the ledger row's are one reading
        expires = now + self.infra.options.hold_timeout
        wanted = ledger.Hold(
            context.request_id, month_of(now), estimate.price(price), estimate.tokens, expires
        )
        work = self.infra.db.write(ledger.hold, wanted, budgets)
        holding = self._background.spawn(work, "holding", awaited=True)
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
            self.infra.db.write_later(ledger.release, held)

    def _give_back_later(self, buckets: list[Bucket], tokens: int) -> None:
        """`_give_back` for a request that fails or is cancelled on its way in."""
        if any(b.counts_tokens for b in buckets):
            self._background.spawn(self._give_back(buckets, tokens), "giving tokens back")

    async def _give_back(self, buckets: list[Bucket], tokens: int) -> None:
        """Tokens of a refused request go back; the request itself still counts, so a
        caller over budget cannot hammer the server."""
        for bucket in buckets:
            if bucket.counts_tokens:
                await self.infra.limiter.give_back(bucket, tokens)

    # settling -------------------------------------------------------------------------
    @asynccontextmanager
    async def metered(self, ticket: Ticket, used: Callable[[], Used]) -> AsyncIterator[None]:
        """Run the work inside; settle it once when it ends, with `used()` read then."""
        try:
            yield
        except (asyncio.CancelledError, GeneratorExit):
            await self.settle(ticket, used(), Status.CANCELLED)
            raise
        except BaseException:
            await self.settle(ticket, used(), Status.ERROR)
            raise
        await self.settle(ticket, used(), Status.OK)

    async def settle(self, ticket: Ticket, used: Used, status: Status) -> None:
        """The ledger row for `ticket` and the unused part of its holds given back. Only
        `metered` calls it, so each ticket is settled exactly once."""
        self._leave(ticket, used.usage.total_tokens)
        infra = self.infra
        written = infra.options.ledger_enabled and (
            status is Status.OK or used.usage.total_tokens > 0
        )
        if not written:
            if ticket.hold is not None:
                infra.db.write_later(ledger.release, ticket.hold)
            return
        entry = self._entry(ticket, used, status)
        if status is Status.OK:
            await self.settlements.write(entry, ticket.hold)
        else:  # a request being cancelled or failing does not wait for the commit
            self.settlements.write_later(entry, ticket.hold)

    def _leave(self, ticket: Ticket, used_tokens: int) -> None:
        account = ticket.account
        if ticket.leased:
            self.infra.leases.leave(account.org.id, ticket.request_id)
        self.settlements.untrack(ticket.request_id)
        unused = max(0, ticket.worst.tokens - used_tokens)
        if unused:
            for bucket in ticket.token_buckets:
                work = self.infra.limiter.give_back(bucket, unused)
                self._background.spawn(work, f"giving {unused} tokens back to {bucket.key}")

    def _entry(self, ticket: Ticket, used: Used, status: Status) -> ledger.LedgerEntry:
        context, account = ticket.context, ticket.account
        key, plan = account.key, account.plan
        usage = _billable(ticket, used.usage)
        ttft = used.time_to_first_token
        return ledger.LedgerEntry(
            request_id=context.request_id,
            created_at=context.created_at,
            month=month_of(context.created_at),
            org_id=account.org.id,
            key_id=key.id if key else None,
            model=context.model,
            endpoint=str(context.endpoint),
            status=str(status),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            latency_ms=(time.perf_counter() - ticket.started) * 1000,
            ttft_ms=None if ttft is None else ttft * 1000,
            compute_seconds=used.compute_seconds,
            cost_nanos=self.cost_nanos(context.model, used.compute_seconds),
            price=ticket.price,
            # included tokens are for serving; training is priced from its first token
            included_tokens=plan.included_tokens
            if plan and context.endpoint is not Endpoint.FINE_TUNING
            else 0,
            key_counted=bool(key and (key.spend_limit_nanos or key.token_limit)),
        )


def _billable(ticket: Ticket, usage: Usage) -> Usage:
    """`usage` within what was held, so a charge never passes its hold (an engine that
    reports more than it measured is logged, not billed past the budget)."""
    worst = ticket.worst
    prompt = min(usage.prompt_tokens, worst.input_tokens)
    completion = min(usage.completion_tokens, worst.output_tokens)
    if (prompt, completion) == (usage.prompt_tokens, usage.completion_tokens):
        return usage
    logger.warning(
        "request %s used %d+%d tokens but held %d+%d; billed the held amount",
        ticket.request_id,
        usage.prompt_tokens,
        usage.completion_tokens,
        worst.input_tokens,
        worst.output_tokens,
    )
    return Usage(prompt, completion, min(usage.cached_tokens, prompt))
