"""Plans, their per-model prices (with effective dates) and organizations' subscriptions.

A plan has a monthly price, included tokens, RPM/TPM limits, a concurrency cap, allowed
models, and prices per million input and output tokens per model ("*" for any model not
listed). A subscription starts at a stated time and runs until the org's next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from modelmint.core.ids import new_id, utcnow
from modelmint.store.sql import by_id_or_name
from modelmint.store.tables import plan_prices, plans, subscriptions
from modelmint.tenancy.revisions import bump

ANY_MODEL = "*"


@dataclass(frozen=True, slots=True)
class PlanRecord:
    id: str
    name: str
    monthly_price_nanos: int
    included_tokens: int
    rpm: int
    tpm: int
    max_concurrent: int
    allowed_models: frozenset[str] | None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "monthly_price_nanos": self.monthly_price_nanos,
            "included_tokens": self.included_tokens,
            "rpm": self.rpm,
            "tpm": self.tpm,
            "max_concurrent": self.max_concurrent,
            "allowed_models": sorted(self.allowed_models) if self.allowed_models else None,
        }


@dataclass(frozen=True, slots=True)
class PriceRecord:
    plan_id: str
    model: str
    input_nanos_per_mtok: int
    output_nanos_per_mtok: int
    effective_from: datetime
    training_nanos_per_mtok: int = 0


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    org_id: str
    plan_id: str
    starts_at: datetime


def _plan(row) -> PlanRecord:
    return PlanRecord(
        row.id,
        row.name,
        row.monthly_price_nanos,
        row.included_tokens,
        row.rpm,
        row.tpm,
        row.max_concurrent,
        frozenset(row.allowed_models) if row.allowed_models else None,
    )


def create_plan(
    connection: Connection,
    name: str,
    *,
    monthly_price_nanos: int,
    included_tokens: int,
    rpm: int,
    tpm: int,
    max_concurrent: int,
    prices: dict[str, tuple[int, ...]],
    allowed_models: list[str] | None = None,
    effective_from: datetime | None = None,
) -> PlanRecord:
    """`prices` maps a model (or "*") to (input, output[, training]) nanos per million
    tokens."""
    if find_plan(connection, name) is not None:
        raise ValueError(f"a plan named {name!r} exists already")
    if ANY_MODEL not in prices:
        raise ValueError('a plan needs a "*" price for models it does not list')
    for value, what in ((rpm, "rpm"), (tpm, "tpm"), (max_concurrent, "max_concurrent")):
        if value < 1:
            raise ValueError(f"{what} must be at least 1")
    plan_id = new_id("plan")
    connection.execute(
        plans.insert().values(
            id=plan_id,
            name=name,
            monthly_price_nanos=monthly_price_nanos,
            included_tokens=included_tokens,
            rpm=rpm,
            tpm=tpm,
            max_concurrent=max_concurrent,
            allowed_models=sorted(allowed_models) if allowed_models else None,
            created_at=utcnow(),
        )
    )
    starts = effective_from or datetime(2000, 1, 1)
    for model, (input_price, output_price, *training) in prices.items():
        set_price(connection, plan_id, model, input_price, output_price, starts, *training)
    bump(connection)
    return get_plan(connection, plan_id)


def set_price(
    connection: Connection,
    plan_id: str,
    model: str,
    input_nanos_per_mtok: int,
    output_nanos_per_mtok: int,
    effective_from: datetime,
    training_nanos_per_mtok: int = 0,
) -> None:
    if min(input_nanos_per_mtok, output_nanos_per_mtok, training_nanos_per_mtok) < 0:
        raise ValueError("prices cannot be negative")
    connection.execute(
        plan_prices.insert().values(
            plan_id=plan_id,
            model=model,
            input_nanos_per_mtok=input_nanos_per_mtok,
            output_nanos_per_mtok=output_nanos_per_mtok,
            training_nanos_per_mtok=training_nanos_per_mtok,
            effective_from=effective_from,
        )
    )
    bump(connection)


def find_plan(connection: Connection, id_or_name: str) -> PlanRecord | None:
    row = by_id_or_name(connection, plans, id_or_name)
    return None if row is None else _plan(row)


def get_plan(connection: Connection, id_or_name: str) -> PlanRecord:
    plan = find_plan(connection, id_or_name)
    if plan is None:
        raise LookupError(f"no plan {id_or_name!r}; list them with `modelmint plans list`")
    return plan


def list_plans(connection: Connection) -> list[PlanRecord]:
    return [_plan(row) for row in connection.execute(select(plans).order_by(plans.c.created_at))]


def all_prices(connection: Connection) -> list[PriceRecord]:
    rows = connection.execute(select(plan_prices).order_by(plan_prices.c.effective_from))
    return [
        PriceRecord(
            r.plan_id,
            r.model,
            r.input_nanos_per_mtok,
            r.output_nanos_per_mtok,
            r.effective_from,
            r.training_nanos_per_mtok,
        )
        for r in rows
    ]


def subscribe(
    connection: Connection, org_id: str, plan_id: str, starts_at: datetime | None = None
) -> SubscriptionRecord:
    """Move the org to a plan from `starts_at` (now when unset)."""
    starts = starts_at or utcnow()
    connection.execute(
        subscriptions.insert().values(org_id=org_id, plan_id=plan_id, starts_at=starts)
    )
    bump(connection)
    return SubscriptionRecord(org_id, plan_id, starts)


def subscriptions_of(connection: Connection, org_id: str) -> list[SubscriptionRecord]:
    rows = connection.execute(
        select(subscriptions)
        .where(subscriptions.c.org_id == org_id)
        .order_by(subscriptions.c.starts_at)
    )
    return [SubscriptionRecord(r.org_id, r.plan_id, r.starts_at) for r in rows]


def plan_at(connection: Connection, org_id: str, moment: datetime) -> PlanRecord | None:
    row = connection.execute(
        select(subscriptions.c.plan_id)
        .where(subscriptions.c.org_id == org_id, subscriptions.c.starts_at <= moment)
        .order_by(subscriptions.c.starts_at.desc())
        .limit(1)
    ).first()
    return None if row is None else get_plan(connection, row.plan_id)
