"""The values of the metered path: who asks for what (`RequestContext`), the worst case
to hold (`Estimate`), what admission granted (`Ticket`) and what the work used (`Used`).

All are immutable: the API builds the context, admission returns the ticket, the work
reports its use once, and the same values reach the response and the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from modelmint.billing import ledger
from modelmint.billing.money import tokens_price
from modelmint.billing.prices import Price
from modelmint.billing.ratelimit import Bucket
from modelmint.core.ids import utcnow
from modelmint.core.types import Usage
from modelmint.tenancy.directory import Account


class Endpoint(StrEnum):
    """What the ledger's `endpoint` column says a row paid for."""

    CHAT = "chat.completions"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    FINE_TUNING = "fine_tuning"
    VECTOR_STORES = "vector_stores"  # ingestion and search
    ASK = "ask"
    RESPONSES = "responses"
    SUMMARIZE = "summarize"
    CLASSIFY = "classify"


class Status(StrEnum):
    """How a request ended, as its ledger row says."""

    OK = "ok"
    ERROR = "error"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class RequestContext:
    """One API request as the services see it: who, which model, which endpoint."""

    account: Account
    request_id: str
    endpoint: Endpoint
    model: str  # as the caller named it, until `using` names the registry's model
    created_at: datetime = field(default_factory=utcnow)

    def using(self, model: str) -> RequestContext:
        return replace(self, model=model)

    def step(self, name: str) -> RequestContext:
        """A part of this request billed on its own ledger row (`req_…:name`): a task
        endpoint that calls several models pays one row per model call."""
        return replace(self, request_id=f"{self.request_id}:{name}")


@dataclass(frozen=True, slots=True)
class Estimate:
    """The most a request may use: its input and the most output it may produce."""

    input_tokens: int
    output_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @classmethod
    def total(cls, parts: Iterable[Estimate]) -> Estimate:
        parts = list(parts)
        return cls(sum(p.input_tokens for p in parts), sum(p.output_tokens for p in parts))

    def price(self, price: Price) -> int:
        """What this much work costs at `price`, in nano-dollars."""
        return tokens_price(self.input_tokens, price.input_nanos_per_mtok) + tokens_price(
            self.output_tokens, price.output_nanos_per_mtok
        )


@dataclass(frozen=True, slots=True)
class Used:
    """What a request used, read once from its generations' meters."""

    usage: Usage = Usage()
    compute_seconds: float = 0.0
    time_to_first_token: float | None = None


@dataclass(frozen=True, slots=True)
class Ticket:
    """What admission granted: the request may use up to `worst` at `price`."""

    context: RequestContext
    price: Price
    worst: Estimate  # no request is billed for more than it held
    hold: ledger.Hold | None  # the budget hold, when the org or key has limits
    token_buckets: tuple[Bucket, ...]  # tokens-per-minute buckets charged the worst case
    headers: Mapping[str, str]  # the x-ratelimit-* headers for the response
    started: float = field(default_factory=time.perf_counter)
    leased: bool = True  # holds one of the org's concurrent-request leases

    @property
    def request_id(self) -> str:
        return self.context.request_id

    @property
    def account(self) -> Account:
        return self.context.account
