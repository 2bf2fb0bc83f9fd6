"""Admin use cases (orgs, keys, plans, subscriptions, usage, invoices), transport-free.

Each function takes a SQL connection (the caller owns the transaction: the API runs them
on the writer thread, the CLI directly) and returns plain dicts. Money goes in and out as
USD strings; every change is written to the audit log with its actor.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlalchemy import Connection, select
from sqlalchemy.exc import DataError, IntegrityError

from modelmint.billing import invoices, reports
from modelmint.billing.money import format_usd, usd_to_nanos
from modelmint.core.bounds import (
    MAX_NAMES,
    Concurrency,
    Moment,
    PerMinute,
    RetentionDays,
    SafeName,
    TokensPerMonth,
    UsdPerMonth,
    UsdPerMtok,
)
from modelmint.core.ids import iso_utc, month_of, utcnow
from modelmint.knowledge.preparation import reseal
from modelmint.privacy import bodies
from modelmint.privacy.conversation_store import erase_conversations, rotate_conversations
from modelmint.privacy.crypto import Keyring
from modelmint.privacy.policy import PrivacyPolicy, get_policy, set_policy
from modelmint.store.audit import record as audit
from modelmint.store.knowledge_chunks import rekey_chunks
from modelmint.store.tables import api_keys
from modelmint.tenancy import keys, orgs, plans, revisions

STARTER_PLAN = "starter"
ADMIN_ORG = "admin"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# names people choose and names that look something up (an id or a name); the bounds of
# every number and time are in core/bounds.py, with why they are what they are
ModelName = Annotated[SafeName, Field(min_length=1, max_length=256)]
Lookup = Annotated[SafeName, Field(min_length=1, max_length=200, description="Name or id")]
ModelList = Annotated[list[ModelName], Field(max_length=MAX_NAMES)]


class ModelPrice(Body):
    input: UsdPerMtok = Field(description="USD per million input tokens")
    output: UsdPerMtok = Field(description="USD per million output tokens")
    fine_tuning: UsdPerMtok = Field(
        default=Decimal(0), description="USD per million trained tokens of a fine-tuning job"
    )


class PlanCreate(Body):
    name: SafeName = Field(min_length=1, max_length=100)
    monthly_price: UsdPerMonth = Field(default=Decimal(0), description="USD per month")
    included_tokens: TokensPerMonth = 0
    rpm: PerMinute = 600
    tpm: PerMinute = 200_000
    max_concurrent: Concurrency = 16
    allowed_models: ModelList | None = None
    prices: dict[ModelName, ModelPrice] = Field(
        max_length=MAX_NAMES,
        description='Per model; "*" is required and prices every other model.',
        json_schema_extra={"required": [plans.ANY_MODEL]},  # checked by plans.create_plan
    )


class PriceChange(Body):
    model: ModelName
    input: UsdPerMtok
    output: UsdPerMtok
    fine_tuning: UsdPerMtok = Decimal(0)
    effective_from: Moment | None = None


class OrgCreate(Body):
    name: SafeName = Field(min_length=1, max_length=200)
    plan: Lookup | None = Field(default=None, description="Plan name or id; starter when unset")
    spend_limit: UsdPerMonth | None = Field(default=None, description="USD per month")
    token_limit: TokensPerMonth | None = None


class OrgLimits(Body):
    spend_limit: UsdPerMonth | None = None
    token_limit: TokensPerMonth | None = None


class Subscribe(Body):
    plan: Lookup
    starts_at: Moment | None = Field(default=None, description="UTC; now when unset")


class PrivacyBody(Body):
    # strict: the document says boolean, and 0, 1 or "yes" were taken for one
    store_bodies: StrictBool = Field(default=False, description="Keep request and response bodies")
    pii_mode: Literal["off", "redact_storage", "redact_model", "block"] = "off"
    retention_days: RetentionDays = 30


class KeyCreate(Body):
    org: Lookup = Field(description="Org name or id")
    name: SafeName = Field(default="key", min_length=1, max_length=200)
    scopes: list[str] = Field(default_factory=lambda: ["inference"], max_length=10)
    allowed_models: ModelList | None = None
    rpm: PerMinute | None = None
    tpm: PerMinute | None = None
    spend_limit: UsdPerMonth | None = None
    token_limit: TokensPerMonth | None = None
    expires_at: Moment | None = None


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with a database conflict (a name or id in use) or a value the database cannot
    store turned into a ValueError, so callers need not know SQL. The schemas' bounds
    should stop the second kind first; this is the net under them (the transaction rolls
    back either way)."""

    @functools.wraps(fn)
    def run(connection: Connection, *args: Any) -> Any:
        try:
            return fn(connection, *args)
        except IntegrityError as exc:
            raise ValueError(
                "that conflicts with what exists already (a name or id in use)"
            ) from exc
        except (DataError, OverflowError) as exc:
            raise ValueError(
                "a value does not fit its database column (a number too large, or a "
                "character the database refuses)"
            ) from exc

    return run


def _nanos(amount: Decimal | None) -> int | None:
    return None if amount is None else usd_to_nanos(amount)


def _naive_utc(moment: datetime | None) -> datetime | None:
    """The store keeps naive UTC; an aware time is converted, a naive one taken as UTC."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def plan_view(plan: plans.PlanRecord) -> dict:
    view = plan.to_dict()
    view["monthly_price"] = format_usd(plan.monthly_price_nanos, 2)
    return view


def create_plan(connection: Connection, body: PlanCreate, actor: str) -> dict:
    prices = {
        model: (usd_to_nanos(p.input), usd_to_nanos(p.output), usd_to_nanos(p.fine_tuning))
        for model, p in body.prices.items()
    }
    plan = plans.create_plan(
        connection,
        body.name,
        monthly_price_nanos=usd_to_nanos(body.monthly_price),
        included_tokens=body.included_tokens,
        rpm=body.rpm,
        tpm=body.tpm,
        max_concurrent=body.max_concurrent,
        prices=prices,
        allowed_models=body.allowed_models,
    )
    audit(connection, actor, "plan.create", plan.id, body.model_dump(mode="json"))
    return plan_view(plan)


def list_plans(connection: Connection) -> list[dict]:
    return [plan_view(plan) for plan in plans.list_plans(connection)]


def change_price(connection: Connection, plan: str, body: PriceChange, actor: str) -> dict:
    record = plans.get_plan(connection, plan)
    starts = _naive_utc(body.effective_from) or utcnow()
    plans.set_price(
        connection,
        record.id,
        body.model,
        usd_to_nanos(body.input),
        usd_to_nanos(body.output),
        starts,
        usd_to_nanos(body.fine_tuning),
    )
    audit(connection, actor, "plan.price", record.id, body.model_dump(mode="json"))
    return {"plan": record.id, "model": body.model, "effective_from": iso_utc(starts)}


def ensure_starter_plan(connection: Connection) -> plans.PlanRecord:
    existing = plans.find_plan(connection, STARTER_PLAN)
    if existing is not None:
        return existing
    return plans.create_plan(
        connection,
        STARTER_PLAN,
        monthly_price_nanos=0,
        included_tokens=1_000_000,
        rpm=600,
        tpm=200_000,
        max_concurrent=16,
        prices={
            plans.ANY_MODEL: (usd_to_nanos("0.10"), usd_to_nanos("0.20"), usd_to_nanos("0.50"))
        },
    )


def create_org(connection: Connection, body: OrgCreate, actor: str) -> dict:
    plan = plans.get_plan(connection, body.plan) if body.plan else ensure_starter_plan(connection)
    org = orgs.create_org(
        connection,
        body.name,
        spend_limit_nanos=_nanos(body.spend_limit),
        token_limit=body.token_limit,
    )
    plans.subscribe(connection, org.id, plan.id, org.created_at)  # billed from today
    audit(connection, actor, "org.create", org.id, body.model_dump(mode="json"))
    return {**org.to_dict(), "plan": plan.name}


def set_org_limits(connection: Connection, org: str, body: OrgLimits, actor: str) -> dict:
    record = orgs.get_org(connection, org)
    updated = orgs.set_org_limits(
        connection,
        record.id,
        spend_limit_nanos=_nanos(body.spend_limit),
        token_limit=body.token_limit,
    )
    audit(connection, actor, "org.limits", record.id, body.model_dump(mode="json"))
    return updated.to_dict()


def subscribe(connection: Connection, org: str, body: Subscribe, actor: str) -> dict:
    record = orgs.get_org(connection, org)
    plan = plans.get_plan(connection, body.plan)
    sub = plans.subscribe(connection, record.id, plan.id, _naive_utc(body.starts_at))
    audit(connection, actor, "org.subscribe", record.id, body.model_dump(mode="json"))
    return {"org_id": sub.org_id, "plan": plan.name, "starts_at": iso_utc(sub.starts_at)}


def list_orgs(connection: Connection) -> list[dict]:
    now = utcnow()
    views = []
    for org in orgs.list_orgs(connection):
        plan = plans.plan_at(connection, org.id, now)
        views.append({**org.to_dict(), "plan": plan.name if plan else None})
    return views


def create_key(connection: Connection, secret: bytes, body: KeyCreate, actor: str) -> dict:
    org = orgs.get_org(connection, body.org)
    if "admin" in body.scopes and org.name != ADMIN_ORG:
        raise ValueError(
            f"the admin scope manages every organization, so only keys of the {ADMIN_ORG!r} "
            "organization may have it"
        )
    record, clear = keys.create_key(
        connection,
        secret,
        org.id,
        body.name,
        body.scopes,
        allowed_models=body.allowed_models,
        rpm=body.rpm,
        tpm=body.tpm,
        spend_limit_nanos=_nanos(body.spend_limit),
        token_limit=body.token_limit,
        expires_at=_naive_utc(body.expires_at),
    )
    audit(connection, actor, "key.create", record.id, {"org": org.id, "scopes": body.scopes})
    return {**record.to_dict(), "key": clear}


def list_keys(connection: Connection, org: str | None = None) -> list[dict]:
    org_id = orgs.get_org(connection, org).id if org else None
    return [record.to_dict() for record in keys.list_keys(connection, org_id)]


def revoke_key(connection: Connection, key_id: str, actor: str) -> dict:
    record = keys.revoke_key(connection, key_id)
    audit(connection, actor, "key.revoke", key_id)
    return record.to_dict()


def has_admin_key(connection: Connection) -> bool:
    found = connection.execute(
        select(api_keys.c.id)
        .where(api_keys.c.scopes.like("%admin%"), api_keys.c.revoked_at.is_(None))
        .limit(1)
    ).first()
    return found is not None


def init_admin(connection: Connection, secret: bytes, force: bool = False) -> dict:
    """The first admin key (and the `admin` org and starter plan), unless one exists."""
    if has_admin_key(connection) and not force:
        raise ValueError(
            "an admin key exists already; create more with `modelmint keys create --scope "
            "admin`, or pass --force to make another"
        )
    org = orgs.find_org(connection, ADMIN_ORG)
    if org is None:
        create_org(connection, OrgCreate(name=ADMIN_ORG), "cli")
        org = orgs.get_org(connection, ADMIN_ORG)
    body = KeyCreate(org=org.id, name="admin", scopes=list(keys.SCOPES))
    return create_key(connection, secret, body, "cli")


def usage(
    connection: Connection, month: str | None, by: str, org: str | None = None
) -> dict[str, Any]:
    month = month or month_of(utcnow())
    org_id = orgs.get_org(connection, org).id if org else None
    rows = reports.usage_by(connection, month, by, org_id)
    return {"month": month, "by": by, "org_id": org_id, "rows": [r.to_dict() for r in rows]}


def invoice(
    connection: Connection, org: str, month: str | None, lines: list[dict] | None = None
) -> invoices.Invoice:
    record = orgs.get_org(connection, org)
    return invoices.build_invoice(connection, record.id, month or month_of(utcnow()), lines)


def invoice_lines(connection: Connection, org: str, month: str | None) -> list[dict]:
    """The month's lines, read without writing (the aggregation must not hold the writer)."""
    record = orgs.get_org(connection, org)
    return invoices.build_lines(connection, record.id, month or month_of(utcnow()))


def finalize(connection: Connection, org: str, month: str, actor: str) -> invoices.Invoice:
    record = orgs.get_org(connection, org)
    final = invoices.finalize_invoice(connection, record.id, month)
    audit(connection, actor, "invoice.finalize", final.id)
    return final


def set_privacy(connection: Connection, org: str, body: PrivacyBody, actor: str) -> dict:
    record = orgs.get_org(connection, org)
    set_policy(connection, record.id, PrivacyPolicy(**body.model_dump()))
    revisions.bump(connection)  # replicas pick the new policy up within a second
    audit(connection, actor, "org.privacy", record.id, body.model_dump())
    return {"org_id": record.id, **get_policy(connection, record.id).to_dict()}


def get_privacy(connection: Connection, org: str) -> dict:
    record = orgs.get_org(connection, org)
    stored = bodies.count_bodies(connection, record.id)
    return {"org_id": record.id, **get_policy(connection, record.id).to_dict(), "stored": stored}


def erase_bodies(connection: Connection, org: str, actor: str) -> dict:
    """Everything the org's requests left: stored bodies, conversations and their items,
    stored responses."""
    record = orgs.get_org(connection, org)
    erased = bodies.erase_org(connection, record.id, actor)
    talks = erase_conversations(connection, record.id, actor)
    return {"org_id": record.id, "erased": erased, "conversations_erased": talks}


def purge_bodies(connection: Connection, actor: str) -> dict:
    return {"purged": bodies.purge_expired(connection, actor)}


def rotate_keys(connection: Connection, keyring: Keyring, actor: str) -> dict:
    """Every stored body, conversation item, stored response and knowledge chunk not
    under the active key, encrypted again with it (then older keys can be dropped)."""
    count = bodies.rotate_keys(connection, keyring, actor)
    talks = rotate_conversations(connection, keyring)
    chunks = rekey_chunks(connection, keyring.active, functools.partial(reseal, keyring))
    audit(connection, actor, "keys.rotate", keyring.active,
          {"conversation_rows": talks, "chunks": chunks})  # fmt: skip
    return {"active_key": keyring.active, "reencrypted": count,
            "conversation_rows": talks, "chunks": chunks}  # fmt: skip
