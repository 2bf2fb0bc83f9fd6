"""Organizations: the customers. Each has optional monthly spend and token limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from modelmint.core.ids import iso_utc, new_id, utcnow
from modelmint.store.sql import by_id_or_name
from modelmint.store.tables import orgs
from modelmint.tenancy.revisions import bump

LOCAL_ORG = "org_local"


@dataclass(frozen=True, slots=True)
class OrgRecord:
    id: str
    name: str
    created_at: datetime
    spend_limit_nanos: int | None
    token_limit: int | None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": iso_utc(self.created_at),
            "spend_limit_nanos": self.spend_limit_nanos,
            "token_limit": self.token_limit,
        }


def _record(row) -> OrgRecord:
    return OrgRecord(row.id, row.name, row.created_at, row.spend_limit_nanos, row.token_limit)


def create_org(
    connection: Connection,
    name: str,
    *,
    spend_limit_nanos: int | None = None,
    token_limit: int | None = None,
    org_id: str | None = None,
) -> OrgRecord:
    if find_org(connection, name) is not None:
        raise ValueError(f"an organization named {name!r} exists already")
    values = {
        "id": org_id or new_id("org"),
        "name": name,
        "created_at": utcnow(),
        "spend_limit_nanos": spend_limit_nanos,
        "token_limit": token_limit,
    }
    connection.execute(orgs.insert().values(**values))
    bump(connection)
    return OrgRecord(**values)


def ensure_local_org(connection: Connection) -> None:
    """The row of the local account's org (auth off), which the rows it owns (files,
    vector stores) refer to; named `local`, or `local-<id>` when that name is taken."""
    if by_id_or_name(connection, orgs, LOCAL_ORG) is not None:
        return
    name = "local" if find_org(connection, "local") is None else f"local-{LOCAL_ORG}"
    connection.execute(
        orgs.insert().values(
            id=LOCAL_ORG,
            name=name,
            created_at=utcnow(),
            spend_limit_nanos=None,
            token_limit=None,
        )
    )


def find_org(connection: Connection, id_or_name: str) -> OrgRecord | None:
    row = by_id_or_name(connection, orgs, id_or_name)
    return None if row is None else _record(row)


def get_org(connection: Connection, id_or_name: str) -> OrgRecord:
    org = find_org(connection, id_or_name)
    if org is None:
        raise LookupError(f"no organization {id_or_name!r}; list them with `modelmint orgs list`")
    return org


def list_orgs(connection: Connection) -> list[OrgRecord]:
    return [_record(row) for row in connection.execute(select(orgs).order_by(orgs.c.created_at))]


def set_org_limits(
    connection: Connection,
    org_id: str,
    *,
    spend_limit_nanos: int | None,
    token_limit: int | None,
) -> OrgRecord:
    get_org(connection, org_id)
    connection.execute(
        update(orgs)
        .where(orgs.c.id == org_id)
        .values(spend_limit_nanos=spend_limit_nanos, token_limit=token_limit)
    )
    bump(connection)
    return get_org(connection, org_id)
