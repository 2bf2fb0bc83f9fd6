"""Usage reports and unit economics from the ledger: per org, model or key and month,
the requests, tokens, revenue (what was charged), serving cost and gross margin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, func, select

from modelmint.store.tables import usage_ledger

GROUPS = {"model": usage_ledger.c.model, "org": usage_ledger.c.org_id, "key": usage_ledger.c.key_id}


def month_bounds(month: str) -> tuple[datetime, datetime]:
    try:
        year, number = (int(part) for part in month.split("-"))
        start = datetime(year, number, 1)
    except ValueError as exc:
        raise ValueError(f"month {month!r} must look like 2026-11") from exc
    end = datetime(year + number // 12, number % 12 + 1, 1)
    return start, end


@dataclass(frozen=True, slots=True)
class UsageRow:
    group: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int
    revenue_nanos: int
    cost_nanos: int
    compute_seconds: float

    @property
    def margin_nanos(self) -> int:
        return self.revenue_nanos - self.cost_nanos

    @property
    def margin_ratio(self) -> Decimal | None:
        """Gross margin as a share of revenue (None without revenue)."""
        if not self.revenue_nanos:
            return None
        return (Decimal(self.margin_nanos) / Decimal(self.revenue_nanos)).quantize(
            Decimal("0.0001")
        )

    def to_dict(self) -> dict:
        return {
            "group": self.group,
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "revenue_nanos": self.revenue_nanos,
            "cost_nanos": self.cost_nanos,
            "margin_nanos": self.margin_nanos,
            "margin_ratio": None if self.margin_ratio is None else str(self.margin_ratio),
            "compute_seconds": round(self.compute_seconds, 6),
        }


def usage_by(
    connection: Connection, month: str, by: str = "model", org_id: str | None = None
) -> list[UsageRow]:
    """One row per group (model, org or key) for the month, biggest revenue first."""
    if by not in GROUPS:
        raise ValueError(f"group by one of {', '.join(GROUPS)}, not {by!r}")
    start, end = month_bounds(month)
    ledger = usage_ledger.c
    group = GROUPS[by]
    query = (
        select(
            group.label("group"),
            func.count().label("requests"),
            func.coalesce(func.sum(ledger.prompt_tokens), 0),
            func.coalesce(func.sum(ledger.completion_tokens), 0),
            func.coalesce(func.sum(ledger.price_nanos), 0),
            func.coalesce(func.sum(ledger.cost_nanos), 0),
            func.coalesce(func.sum(ledger.compute_seconds), 0.0),
        )
        .where(ledger.created_at >= start, ledger.created_at < end)
        .group_by(group)
    )
    if org_id is not None:
        query = query.where(ledger.org_id == org_id)
    rows = [
        UsageRow(row[0], int(row[1]), int(row[2]), int(row[3]), int(row[4]), int(row[5]), row[6])
        for row in connection.execute(query)
    ]
    return sorted(rows, key=lambda r: (-r.revenue_nanos, str(r.group)))
