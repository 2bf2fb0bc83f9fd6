"""API keys: made once (`mm-` + 32 random bytes), stored only as an HMAC-SHA256 digest.

The clear key is returned by `create_key` and never again. Lookups go by digest; the
stored digest is compared in constant time. A key carries scopes, optional allowed
models, optional per-key limits, an expiry and a revocation time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from modelmint.core.ids import iso_utc, new_id, utcnow
from modelmint.store.tables import api_keys
from modelmint.tenancy.revisions import bump

SCOPES = ("inference", "fine_tune", "admin")
KEY_PREFIX = "mm-"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    org_id: str
    name: str
    prefix: str
    scopes: frozenset[str]
    allowed_models: frozenset[str] | None
    rpm: int | None
    tpm: int | None
    spend_limit_nanos: int | None
    token_limit: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def problem(self, now: datetime) -> str | None:
        """Why this key may not be used now, or None."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return "This API key has been revoked; create a new one."
        if self.expires_at is not None and self.expires_at <= now:
            return "This API key has expired; create a new one."
        return None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "org_id": self.org_id,
            "name": self.name,
            "prefix": self.prefix,
            "scopes": sorted(self.scopes),
            "allowed_models": sorted(self.allowed_models) if self.allowed_models else None,
            "rpm": self.rpm,
            "tpm": self.tpm,
            "spend_limit_nanos": self.spend_limit_nanos,
            "token_limit": self.token_limit,
            "created_at": iso_utc(self.created_at),
            "expires_at": iso_utc(self.expires_at),
            "revoked_at": iso_utc(self.revoked_at),
            "last_used_at": iso_utc(self.last_used_at),
        }


def new_key() -> str:
    return KEY_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def key_digest(secret: bytes, key: str) -> str:
    return hmac.new(secret, key.encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX) and 40 <= len(token) <= 64 and token.isascii()


def check_scopes(scopes: list[str] | tuple[str, ...]) -> frozenset[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(
            f"unknown scopes {unknown}; use one or more of {', '.join(SCOPES)}"
            if unknown
            else f"a key needs at least one scope: {', '.join(SCOPES)}"
        )
    return frozenset(scopes)


def create_key(
    connection: Connection,
    secret: bytes,
    org_id: str,
    name: str,
    scopes: list[str] | tuple[str, ...] = ("inference",),
    *,
    allowed_models: list[str] | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    spend_limit_nanos: int | None = None,
    token_limit: int | None = None,
    expires_at: datetime | None = None,
) -> tuple[KeyRecord, str]:
    """Make a key; returns its record and the clear key, which is shown this once."""
    key = new_key()
    values = {
        "id": new_id("key"),
        "org_id": org_id,
        "name": name,
        "digest": key_digest(secret, key),
        "prefix": key[:8],
        "scopes": ",".join(sorted(check_scopes(scopes))),
        "allowed_models": sorted(allowed_models) if allowed_models else None,
        "rpm": rpm,
        "tpm": tpm,
        "spend_limit_nanos": spend_limit_nanos,
        "token_limit": token_limit,
        "created_at": utcnow(),
        "expires_at": expires_at,
    }
    connection.execute(api_keys.insert().values(**values))
    bump(connection)
    return get_key(connection, values["id"]), key


def _record(row) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        org_id=row.org_id,
        name=row.name,
        prefix=row.prefix,
        scopes=frozenset(row.scopes.split(",")),
        allowed_models=frozenset(row.allowed_models) if row.allowed_models else None,
        rpm=row.rpm,
        tpm=row.tpm,
        spend_limit_nanos=row.spend_limit_nanos,
        token_limit=row.token_limit,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def get_key(connection: Connection, key_id: str) -> KeyRecord:
    row = connection.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None:
        raise LookupError(f"no key {key_id!r}; list them with `modelmint keys list`")
    return _record(row)


def find_by_digest(connection: Connection, digest: str) -> KeyRecord | None:
    row = connection.execute(select(api_keys).where(api_keys.c.digest == digest)).first()
    if row is None or not hmac.compare_digest(row.digest, digest):
        return None
    return _record(row)


def list_keys(connection: Connection, org_id: str | None = None) -> list[KeyRecord]:
    query = select(api_keys).order_by(api_keys.c.created_at)
    if org_id is not None:
        query = query.where(api_keys.c.org_id == org_id)
    return [_record(row) for row in connection.execute(query)]


def revoke_key(connection: Connection, key_id: str) -> KeyRecord:
    get_key(connection, key_id)
    connection.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    bump(connection)
    return get_key(connection, key_id)


def touch_last_used(connection: Connection, used: dict[str, datetime]) -> None:
    for key_id, moment in used.items():
        connection.execute(
            update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=moment)
        )
