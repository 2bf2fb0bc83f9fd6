"""Prefixed identifiers (`org_`, `key_`, `plan_`, `req_`, `inv_`) and the UTC clock."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def utcnow() -> datetime:
    """Now in UTC, naive: the store keeps every time as naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso_utc(moment: datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with its Z, for JSON answers."""
    return None if moment is None else moment.isoformat() + "Z"


def unix_seconds(moment: datetime) -> int:
    """A stored (naive UTC) time as Unix seconds, as OpenAI's objects give times."""
    return int(moment.replace(tzinfo=UTC).timestamp())


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"
