"""The audit log: who changed what, and when (admin actions, purges, erasures)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from modelmint.core.ids import utcnow
from modelmint.store.tables import audit_log


def record(connection: Connection, actor: str, action: str, target: str, detail: Any = None):
    connection.execute(
        audit_log.insert().values(
            at=utcnow(), actor=actor, action=action, target=target, detail=detail
        )
    )
