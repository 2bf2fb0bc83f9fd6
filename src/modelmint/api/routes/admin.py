"""`/admin/...`: orgs, keys, plans, prices, subscriptions, usage and invoices.

Every endpoint needs a key with the `admin` scope. The work happens in
`services.admin`, on the database's writer (changes) or a reader (reports). Each answer's
shape is documented from `services.responses`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, PlainTextResponse

from modelmint.api.deps import API_KEY, AdminAccount, AppState, State
from modelmint.api.errors import documented_errors
from modelmint.core.bounds import Month, SafeName
from modelmint.core.errors import InvalidRequestError, NotFoundError
from modelmint.services import admin, personalization
from modelmint.services import responses as shapes
from modelmint.tenancy.directory import Account

# JSONResponse named, not left as the default: FastAPI's default writes a response model's
# floats its own way (5e-6 where json writes 5e-06), and answers keep their exact bytes
router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    default_response_class=JSONResponse,
    responses=documented_errors(401, 403, 503),
    dependencies=[API_KEY],
)
# what the routes answer besides their own 401, 403 and 503: a 400 for a bad parameter or
# body (or a conflict), 404 for what is not there, 413 for a body too large
CHANGE = documented_errors(400, 404, 413)
LOOKUP = documented_errors(400, 404)
INVOICE_FORMATS = {
    200: {
        "description": "The invoice: JSON, or CSV with format=csv",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}
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


@router.post(
    "/orgs",
    status_code=201,
    summary="Create an organization on a plan",
    response_model=shapes.OrganizationOnPlan,
    responses=CHANGE,
)
async def create_org(body: admin.OrgCreate, state: State, account: AdminAccount) -> Any:
    return await _write(state, admin.create_org, body, _actor(account))


@router.get("/orgs", summary="List organizations", response_model=shapes.OrganizationList)
async def list_orgs(state: State, account: AdminAccount) -> Any:
    return {"data": await _read(state, admin.list_orgs)}


@router.patch(
    "/orgs/{org}/limits",
    summary="Set an organization's monthly budgets",
    response_model=shapes.Organization,
    responses=CHANGE,
)
async def set_limits(
    org: OrgRef, body: admin.OrgLimits, state: State, account: AdminAccount
) -> Any:
    return await _write(state, admin.set_org_limits, org, body, _actor(account))


@router.post(
    "/orgs/{org}/subscriptions",
    status_code=201,
    summary="Move an org to a plan",
    response_model=shapes.Subscription,
    responses=CHANGE,
)
async def subscribe(org: OrgRef, body: admin.Subscribe, state: State, account: AdminAccount) -> Any:
    return await _write(state, admin.subscribe, org, body, _actor(account))


@router.post(
    "/keys",
    status_code=201,
    summary="Create an API key (shown this once)",
    response_model=shapes.NewApiKey,
    responses=CHANGE,
)
async def create_key(body: admin.KeyCreate, state: State, account: AdminAccount) -> Any:
    secret = state.platform.infra.secret
    return await _write(state, admin.create_key, secret, body, _actor(account))


@router.get(
    "/keys",
    summary="List API keys (never the keys themselves)",
    response_model=shapes.ApiKeyList,
    responses=LOOKUP,
)
async def list_keys(state: State, account: AdminAccount, org: OrgFilter = None) -> Any:
    return {"data": await _read(state, admin.list_keys, org)}


@router.post(
    "/keys/{key_id}/revoke",
    summary="Revoke a key on every replica within a second",
    response_model=shapes.ApiKey,
    responses=LOOKUP,
)
async def revoke_key(key_id: KeyRef, state: State, account: AdminAccount) -> Any:
    return await _write(state, admin.revoke_key, key_id, _actor(account))


@router.post(
    "/plans",
    status_code=201,
    summary="Create a plan with its prices",
    response_model=shapes.Plan,
    responses=documented_errors(400, 413),
)
async def create_plan(body: admin.PlanCreate, state: State, account: AdminAccount) -> Any:
    return await _write(state, admin.create_plan, body, _actor(account))


@router.get("/plans", summary="List plans", response_model=shapes.PlanList)
async def list_plans(state: State, account: AdminAccount) -> Any:
    return {"data": await _read(state, admin.list_plans)}


@router.post(
    "/plans/{plan}/prices",
    status_code=201,
    summary="Change a price from a date",
    response_model=shapes.PriceChanged,
    responses=CHANGE,
)
async def change_price(
    plan: PlanRef, body: admin.PriceChange, state: State, account: AdminAccount
) -> Any:
    return await _write(state, admin.change_price, plan, body, _actor(account))


@router.get(
    "/usage",
    summary="Usage, revenue, serving cost and margin for a month",
    response_model=shapes.UsageReport,
    responses=LOOKUP,
)
async def usage(
    state: State,
    account: AdminAccount,
    month: Month | None = MONTH,
    by: Literal["model", "org", "key"] = "model",
    org: OrgFilter = None,
) -> Any:
    return await _read(state, admin.usage, month, by, org)


@router.get(
    "/invoices/{org}",
    summary="An org's invoice for a month (JSON or CSV)",
    response_model=shapes.Invoice,
    responses={**INVOICE_FORMATS, **LOOKUP},
)
async def invoice(
    org: OrgRef,
    state: State,
    account: AdminAccount,
    month: Month | None = MONTH,
    format: Literal["json", "csv"] = "json",
) -> Any:
    lines = await _read(state, admin.invoice_lines, org, month)
    built = await _write(state, admin.invoice, org, month, lines)
    if format == "csv":
        return PlainTextResponse(built.to_csv(), media_type="text/csv")
    return JSONResponse(built.to_dict())


@router.post(
    "/invoices/{org}/{month}/finalize",
    summary="Freeze a past month's invoice",
    response_model=shapes.Invoice,
    responses=LOOKUP,
)
async def finalize(
    org: OrgRef,
    month: Annotated[Month, Path(description="A month that is over, e.g. 2026-10")],
    state: State,
    account: AdminAccount,
) -> Any:
    final = await _write(state, admin.finalize, org, month, _actor(account))
    return final.to_dict()


@router.get(
    "/orgs/{org}/privacy",
    summary="An org's privacy policy and stored bodies",
    response_model=shapes.PrivacyStatus,
    responses=LOOKUP,
)
async def get_privacy(org: OrgRef, state: State, account: AdminAccount) -> Any:
    return await _read(state, admin.get_privacy, org)


@router.put(
    "/orgs/{org}/privacy",
    summary="Set bodies storage, PII mode and retention",
    response_model=shapes.PrivacyPolicy,
    responses=CHANGE,
)
async def set_privacy(
    org: OrgRef, body: admin.PrivacyBody, state: State, account: AdminAccount
) -> Any:
    return await _write(state, admin.set_privacy, org, body, _actor(account))


@router.delete(
    "/orgs/{org}/bodies",
    summary="Erase every stored body of an org (audited)",
    response_model=shapes.BodiesErased,
    responses=LOOKUP,
)
async def erase_bodies(org: OrgRef, state: State, account: AdminAccount) -> Any:
    return await _write(state, admin.erase_bodies, org, _actor(account))


@router.post(
    "/privacy/purge",
    summary="Delete bodies past their org's retention now",
    response_model=shapes.BodiesPurged,
)
async def purge(state: State, account: AdminAccount) -> Any:
    return await _write(state, admin.purge_bodies, _actor(account))


@router.post(
    "/privacy/rotate-keys",
    summary="Re-encrypt stored bodies with the newest key",
    response_model=shapes.KeysRotated,
)
async def rotate(state: State, account: AdminAccount) -> Any:
    keyring = state.platform.infra.keyring
    return await _write(state, admin.rotate_keys, keyring, _actor(account))


@router.get(
    "/orgs/{org}/personalization",
    summary="An org's default instructions and answer language, and its end users'",
    response_model=shapes.PersonalizationList,
    responses=LOOKUP,
)
async def get_personalization(org: OrgRef, state: State, account: AdminAccount) -> Any:
    return await _read(state, personalization.get_defaults, org)


@router.put(
    "/orgs/{org}/personalization",
    summary="Set the default instructions and answer language of an org or an end user",
    response_model=shapes.PersonalizationSet,
    responses=CHANGE,
)
async def set_personalization(
    org: OrgRef,
    body: personalization.PersonalizationBody,
    state: State,
    account: AdminAccount,
) -> Any:
    return await _write(state, personalization.set_defaults, org, body, _actor(account))
