"""Each organization's privacy policy: whether bodies are stored, the PII mode, retention.

Modes: `off` (nothing is changed), `redact_storage` (stored copies are redacted),
`redact_model` (the model sees placeholders; the caller gets the real values back),
`block` (a request holding PII is refused with 400 `pii_detected`). Bodies are not
stored unless the policy says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from modelmint.core.ids import utcnow
from modelmint.store.tables import privacy_policies

MODES = ("off", "redact_storage", "redact_model", "block")


@dataclass(frozen=True, slots=True)
class PrivacyPolicy:
    store_bodies: bool = False
    pii_mode: str = "off"
    retention_days: int = 30

    def __post_init__(self) -> None:
        if self.pii_mode not in MODES:
            raise ValueError(f"pii_mode must be one of {', '.join(MODES)}, not {self.pii_mode!r}")
        if not 1 <= self.retention_days <= 3650:
            raise ValueError("retention_days must be between 1 and 3650")

    def to_dict(self) -> dict:
        return {
            "store_bodies": self.store_bodies,
            "pii_mode": self.pii_mode,
            "retention_days": self.retention_days,
        }


def get_policy(connection: Connection, org_id: str) -> PrivacyPolicy:
    row = connection.execute(
        select(privacy_policies).where(privacy_policies.c.org_id == org_id)
    ).first()
    if row is None:
        return PrivacyPolicy()
    return PrivacyPolicy(row.store_bodies, row.pii_mode, row.retention_days)


def set_policy(connection: Connection, org_id: str, policy: PrivacyPolicy) -> None:
    values = {**policy.to_dict(), "updated_at": utcnow()}
    changed = connection.execute(
        update(privacy_policies).where(privacy_policies.c.org_id == org_id).values(**values)
    ).rowcount
    if not changed:
        connection.execute(privacy_policies.insert().values(org_id=org_id, **values))
