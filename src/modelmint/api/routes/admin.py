"""`/admin/...`: orgs, keys, plans, prices, subscriptions, usage and invoices.

Every endpoint needs a key with the `admin` scope. The work happens in
`services.admin`, on the database's writer (changes) or a reader (reports).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, PlainTextResponse

from modelmint.api.deps import AppState, get_state, require_scope
from modelmint.core.bounds import Month, SafeName
from modelmint.core.errors import InvalidRequestError, NotFoundError
from modelmint.services import admin
from modelmint.tenancy.directory import Account

router = APIRouter(prefix="/admin", tags=["admin"])
ADMIN = Depends(require_scope("admin"))
MONTH = Query(default=None, description="YYYY-MM, e.g. 2026-11; this month (UTC) if unset")
# names and ids in paths and queries: bounded and without control characters (a NUL
# breaks PostgreSQL), like the names in bodies
OrgRef = Annotated[SafeName, Path(min_length=1, max_length=200, description="Org name or id")]
PlanRef = Annotated[SafeName, Path(min_length=1, max_length=200, description="Plan name or id")]
KeyRef = Annotated[SafeName, Path(min_length=1, max_length=60, description="Key id")]
OrgFilter = Annotated[
    SafeName | None, Query(min_length=1, max_length=200, description="Org name or id")
]


def _actor(account: Account) -> str:
    return account.key.id if account.key else "local"


@contextmanager
def _as_api_errors() -> Iterator[None]:
    """The services' LookupError and ValueError as OpenAI-shaped 404 and 400."""
    try:
        yield
    except LookupError as exc:
        raise NotFoundError(str(exc).strip("'\"")) from exc
    except ValueError as exc:
        raise InvalidRequestError(str(exc).splitlines()[0]) from exc


async def _write(state: AppState, fn: Callable[..., Any], *args: Any) -> Any:
    with _as_api_errors():
        return await state.platform.infra.db.write(admin.guarded(fn), *args)


async def _read(state: AppState, fn: Callable[..., Any], *args: Any) -> Any:
    with _as_api_errors():
        return await state.platform.infra.db.read(fn, *args)


@router.post("/orgs", status_code=201, summary="Create an organization on a plan")
async def create_org(
    body: admin.OrgCreate, state: AppState = Depends(get_state), account: Account = ADMIN
) -> Any:
    return await _write(state, admin.create_org, body, _actor(account))


@router.get("/orgs", summary="List organizations")
async def list_orgs(state: AppState = Depends(get_state), account: Account = ADMIN) -> Any:
    return {"data": await _read(state, admin.list_orgs)}


@router.patch("/orgs/{org}/limits", summary="Set an organization's monthly budgets")
async def set_limits(
    org: OrgRef,
    body: admin.OrgLimits,
    state: AppState = Depends(get_state),
    account: Account = ADMIN,
) -> Any:
    return await _write(state, admin.set_org_limits, org, body, _actor(account))


@router.post("/orgs/{org}/subscriptions", status_code=201, summary="Move an org to a plan")
async def subscribe(
    org: OrgRef,
    body: admin.Subscribe,
    state: AppState = Depends(get_state),
    account: Account = ADMIN,
) -> Any:
    return await _write(state, admin.subscribe, org, body, _actor(account))


@router.post("/keys", status_code=201, summary="Create an API key (shown this once)")
async def create_key(
    body: admin.KeyCreate, state: AppState = Depends(get_state), account: Account = ADMIN
) -> Any:
    secret = state.platform.infra.secret
    return await _write(state, admin.create_key, secret, body, _actor(account))


@router.get("/keys", summary="List API keys (never the keys themselves)")
async def list_keys(
    org: OrgFilter = None, state: AppState = Depends(get_state), account: Account = ADMIN
) -> Any:
    return {"data": await _read(state, admin.list_keys, org)}


@router.post("/keys/{key_id}/revoke", summary="Revoke a key on every replica within a second")
async def revoke_key(
    key_id: KeyRef, state: AppState = Depends(get_state), account: Account = ADMIN
) -> Any:
    return await _write(state, admin.revoke_key, key_id, _actor(account))


@router.post("/plans", status_code=201, summary="Create a plan with its prices")
async def create_plan(
    body: admin.PlanCreate, state: AppState = Depends(get_state), account: Account = ADMIN
) -> Any:
    return await _write(state, admin.create_plan, body, _actor(account))


@router.get("/plans", summary="List plans")
async def list_plans(state: AppState = Depends(get_state), account: Account = ADMIN) -> Any:
    return {"data": await _read(state, admin.list_plans)}


@router.post("/plans/{plan}/prices", status_code=201, summary="Change a price from a date")
async def change_price(
    plan: PlanRef,
    body: admin.PriceChange,
    state: AppState = Depends(get_state),
    account: Account = ADMIN,
) -> Any:
    return await _write(state, admin.change_price, plan, body, _actor(account))


@router.get("/usage", summary="Usage, revenue, serving cost and margin for a month")
async def usage(
    month: Month | None = MONTH,
    by: Literal["model", "org", "key"] = "model",
    org: OrgFilter = None,
    state: AppState = Depends(get_state),
    account: Account = ADMIN,
) -> Any:
    return await _read(state, admin.usage, month, by, org)


@router.get("/invoices/{org}", summary="An org's invoice for a month (JSON or CSV)")
async def invoice(
    org: OrgRef,
    month: Month | None = MONTH,
    format: Literal["json", "csv"] = "json",
    state: AppState = Depends(get_state),
    account: Account = ADMIN,
) -> Any:
    lines = await _read(state, admin.invoice_lines, org, month)
    built = await _write(state, admin.invoice, org, month, lines)
    if format == "csv":
        return PlainTextResponse(built.to_csv(), media_type="text/csv")
    return JSONResponse(built.to_dict())


@router.post("/invoices/{org}/{month}/finalize", summary="Freeze a past month's invoice")
async def finalize(
    org: OrgRef,
    month: Annotated[Month, Path(description="A month that is over, e.g. 2026-10")],
    state: AppState = Depends(get_state),
    account: Account = ADMIN,
) -> Any:
    final = await _write(state, admin.finalize, org, month, _actor(account))
    return final.to_dict()


@router.get("/orgs/{org}/privacy", summary="An org's privacy policy and stored bodies")
async def get_privacy(
    org: OrgRef, state: AppState = Depends(get_state), account: Account = ADMIN
) -> Any:
    return await _read(state, admin.get_privacy, org)


@router.put("/orgs/{org}/privacy", summary="Set bodies storage, PII mode and retention")
async def set_privacy(
    org: OrgRef,
    body: admin.PrivacyBody,
    state: AppState = Depends(get_state),
    account: Account = ADMIN,
) -> Any:
    return await _write(state, admin.set_privacy, org, body, _actor(account))


@router.delete("/orgs/{org}/bodies", summary="Erase every stored body of an org (audited)")
async def erase_bodies(
    org: OrgRef, state: AppState = Depends(get_state), account: Account = ADMIN
) -> Any:
    return await _write(state, admin.erase_bodies, org, _actor(account))


@router.post("/privacy/purge", summary="Delete bodies past their org's retention now")
async def purge(state: AppState = Depends(get_state), account: Account = ADMIN) -> Any:
    return await _write(state, admin.purge_bodies, _actor(account))


@router.post("/privacy/rotate-keys", summary="Re-encrypt stored bodies with the newest key")
async def rotate(state: AppState = Depends(get_state), account: Account = ADMIN) -> Any:
    keyring = state.platform.infra.keyring
    return await _write(state, admin.rotate_keys, keyring, _actor(account))
