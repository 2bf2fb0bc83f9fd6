"""A counter bumped by every change to orgs, keys, plans or prices.

Each replica polls it (one tiny query, twice a second) and drops its caches when it moves,
so a revoked key stops working on every replica within a second, with no Redis needed.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from modelmint.store.tables import revisions

NAME = "tenancy"


def bump(connection: Connection) -> None:
    changed = connection.execute(
        update(revisions).where(revisions.c.name == NAME).values(value=revisions.c.value + 1)
    ).rowcount
    if not changed:
        connection.execute(revisions.insert().values(name=NAME, value=1))


def current(connection: Connection) -> int:
    value = connection.execute(select(revisions.c.value).where(revisions.c.name == NAME)).scalar()
    return int(value or 0)
