"""Monthly invoices: subscription lines (prorated by the time each plan ran in the month)
and one overage line per model, in cents.

Rounding rule (printed on every invoice): each line sums its exact nano-dollar amounts
and is rounded half-up to the cent once; the total is the sum of the rounded lines.
A draft is rebuilt on demand; a finalised invoice never changes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from modelmint.billing.money import cents_to_usd, nanos_to_cents
from modelmint.billing.reports import month_bounds, usage_by
from modelmint.core.ids import iso_utc, new_id, utcnow
from modelmint.store.tables import invoices
from modelmint.tenancy.plans import get_plan, subscriptions_of

ROUNDING_RULE = (
    "Each line is the exact sum of its charges, rounded half-up to the cent once; "
    "the total is the sum of the rounded lines."
)


@dataclass(frozen=True, slots=True)
class Invoice:
    id: str
    org_id: str
    month: str
    status: str
    total_cents: int
    lines: list[dict]
    created_at: datetime
    finalized_at: datetime | None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "org_id": self.org_id,
            "month": self.month,
            "status": self.status,
            "currency": "usd",
            "total": str(cents_to_usd(self.total_cents)),
            "total_cents": self.total_cents,
            "lines": self.lines,
            "rounding": ROUNDING_RULE,
            "created_at": iso_utc(self.created_at),
            "finalized_at": iso_utc(self.finalized_at),
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["invoice", "org", "month", "kind", "description", "quantity", "amount"])
        for line in self.lines:
            writer.writerow(
                [
                    self.id,
                    self.org_id,
                    self.month,
                    line["kind"],
                    line["description"],
                    line["quantity"],
                    line["amount"],
                ]
            )
        writer.writerow(
            [self.id, self.org_id, self.month, "total", "", "", self.to_dict()["total"]]
        )
        return out.getvalue()


def _line(kind: str, description: str, quantity: str, nanos: int) -> dict:
    cents = nanos_to_cents(nanos)
    return {
        "kind": kind,
        "description": description,
        "quantity": quantity,
        "amount_cents": cents,
        "amount": str(cents_to_usd(cents)),
    }


def _subscription_lines(connection: Connection, org_id: str, month: str) -> list[dict]:
    start, end = month_bounds(month)
    month_seconds = (end - start).total_seconds()
    subs = subscriptions_of(connection, org_id)
    lines = []
    for index, sub in enumerate(subs):
        until = subs[index + 1].starts_at if index + 1 < len(subs) else end
        begin, finish = max(sub.starts_at, start), min(until, end)
        if finish <= begin:
            continue
        plan = get_plan(connection, sub.plan_id)
        share = (finish - begin).total_seconds() / month_seconds
        nanos = (
            plan.monthly_price_nanos * int((finish - begin).total_seconds()) // int(month_seconds)
        )
        period = f"{begin:%Y-%m-%d %H:%M} to {finish:%Y-%m-%d %H:%M} UTC"
        lines.append(_line("subscription", f"Plan {plan.name}, {period}", f"{share:.4f}", nanos))
    return lines


def build_lines(connection: Connection, org_id: str, month: str) -> list[dict]:
    lines = _subscription_lines(connection, org_id, month)
    for row in usage_by(connection, month, "model", org_id):
        tokens = row.prompt_tokens + row.completion_tokens
        description = (
            f"Usage of {row.group}: {row.prompt_tokens:,} input and "
            f"{row.completion_tokens:,} output tokens, the plan's included tokens counted first"
        )
        lines.append(_line("usage", description, str(tokens), row.revenue_nanos))
    return lines


def _record(row) -> Invoice:
    return Invoice(
        row.id,
        row.org_id,
        row.month,
        row.status,
        row.total_cents,
        row.lines,
        row.created_at,
        row.finalized_at,
    )


def get_invoice(connection: Connection, org_id: str, month: str) -> Invoice | None:
    row = connection.execute(
        select(invoices).where(invoices.c.org_id == org_id, invoices.c.month == month)
    ).first()
    return None if row is None else _record(row)


def build_invoice(
    connection: Connection, org_id: str, month: str, lines: list[dict] | None = None
) -> Invoice:
    """The org's invoice for the month: the final one if it exists, else a fresh draft
    (of `lines`, when the caller already built them on a reader)."""
    month_bounds(month)
    existing = get_invoice(connection, org_id, month)
    if existing is not None and existing.status == "final":
        return existing
    lines = build_lines(connection, org_id, month) if lines is None else lines
    total = sum(line["amount_cents"] for line in lines)
    if existing is None:
        connection.execute(
            invoices.insert().values(
                id=new_id("inv"),
                org_id=org_id,
                month=month,
                status="draft",
                total_cents=total,
                lines=lines,
                created_at=utcnow(),
            )
        )
    else:
        connection.execute(
            update(invoices)
            .where(invoices.c.id == existing.id, invoices.c.status == "draft")
            .values(total_cents=total, lines=lines, created_at=utcnow())
        )
    invoice = get_invoice(connection, org_id, month)
    assert invoice is not None
    return invoice


def finalize_invoice(connection: Connection, org_id: str, month: str) -> Invoice:
    """Freeze the invoice; its month must be over. Finalising twice is an error."""
    _, end = month_bounds(month)
    if utcnow() < end:
        raise ValueError(f"{month} is not over yet; finalise its invoice after {end:%Y-%m-%d}")
    invoice = build_invoice(connection, org_id, month)
    if invoice.status == "final":
        raise ValueError(f"the invoice {invoice.id} for {month} is final already")
    connection.execute(
        update(invoices)
        .where(invoices.c.id == invoice.id, invoices.c.status == "draft")
        .values(status="final", finalized_at=utcnow())
    )
    final = get_invoice(connection, org_id, month)
    assert final is not None
    return final
