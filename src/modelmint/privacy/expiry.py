"""Rows past their organization's retention: each org's own `retention_days` (the default
policy's for an org without one), counted back from now, deleted from any table that keeps
`org_id` and `created_at`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Table, delete, select

from modelmint.privacy.policy import PrivacyPolicy
from modelmint.store.tables import privacy_policies


def delete_past_retention(connection: Connection, tables: list[Table], now: datetime) -> int:
    """Delete the rows of `tables` older than their org's retention; how many went."""
    policies = privacy_policies.c
    retention = dict(connection.execute(select(policies.org_id, policies.retention_days)).all())
    removed = 0
    for table in tables:
        for org_id in connection.execute(select(table.c.org_id).distinct()).scalars().all():
            cutoff = now - timedelta(days=retention.get(org_id, PrivacyPolicy().retention_days))
            removed += connection.execute(
                delete(table).where(table.c.org_id == org_id, table.c.created_at < cutoff)
            ).rowcount
    return removed
