"""The price book: each plan's per-model prices, by effective date, held in memory.

Reloaded when the tenancy revision moves (the caller decides when). A model without its
own price uses the plan's "*" price.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime

from modelmint.tenancy.plans import ANY_MODEL, PriceRecord


@dataclass(frozen=True, slots=True)
class Price:
    input_nanos_per_mtok: int = 0
    output_nanos_per_mtok: int = 0
    training_nanos_per_mtok: int = 0  # per trained token of a fine-tuning job

    def for_training(self) -> Price:
        """The price a fine-tuning job's ledger row is charged at: its trained tokens
        are its input tokens."""
        return Price(input_nanos_per_mtok=self.training_nanos_per_mtok)


class PriceBook:
    def __init__(self, records: list[PriceRecord]) -> None:
        self._by_model: dict[tuple[str, str], list[PriceRecord]] = {}
        for record in sorted(records, key=lambda r: r.effective_from):
            self._by_model.setdefault((record.plan_id, record.model), []).append(record)
        self._plans = {plan_id for plan_id, _ in self._by_model}

    def knows(self, plan_id: str) -> bool:
        return plan_id in self._plans

    def price(self, plan_id: str | None, model: str, at: datetime) -> Price:
        if plan_id is None:
            return Price()
        for name in (model, ANY_MODEL):
            history = self._by_model.get((plan_id, name))
            if not history:
                continue
            index = bisect.bisect_right([r.effective_from for r in history], at) - 1
            if index >= 0:
                record = history[index]
                return Price(
                    record.input_nanos_per_mtok,
                    record.output_nanos_per_mtok,
                    record.training_nanos_per_mtok,
                )
        return Price()
