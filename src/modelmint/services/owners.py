"""The account background work is done for: the key that asked for it (its budgets are
held and its plan prices the work), or the org alone when no key did (auth off) or the
key has since been deleted."""

from __future__ import annotations

from modelmint.core.ids import utcnow
from modelmint.core.types import Principal
from modelmint.privacy.policy import get_policy
from modelmint.store.database import Database
from modelmint.tenancy import keys
from modelmint.tenancy.directory import Account, account_for
from modelmint.tenancy.orgs import get_org
from modelmint.tenancy.plans import plan_at


async def owner_account(db: Database, org_id: str, key_id: str | None, scope: str) -> Account:
    """The account of `key_id` in `org_id`; without a key, the org's with `scope` alone."""
    now = utcnow()

    def load(connection) -> Account:
        if key_id is not None:
            try:
                return account_for(connection, keys.get_key(connection, key_id), now)
            except LookupError:  # the key was deleted since: the org pays
                pass
        org = get_org(connection, org_id)
        principal = Principal(org_id=org.id, key_id=None, scopes=frozenset({scope}))
        plan = plan_at(connection, org.id, now)
        return Account(org, None, plan, principal, get_policy(connection, org.id))

    return await db.read(load)
