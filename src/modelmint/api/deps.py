"""FastAPI dependencies: the app's state, the request id and the calling account; their
`Annotated` aliases, so a route says what it needs in its signature (`state: State`,
`account: AdminAccount`); and `API_KEY`, which puts the key a route needs into the
OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from modelmint.api.local_guard import check_local_request
from modelmint.api.metrics import Metrics
from modelmint.core.errors import PermissionDeniedError
from modelmint.core.settings import Settings
from modelmint.runtime.pool import ModelPool
from modelmint.services.knowledge import Knowledge
from modelmint.services.models import Models
from modelmint.services.platform import Platform
from modelmint.services.tasks import Tasks
from modelmint.tenancy.directory import Account


@dataclass
class AppState:
    settings: Settings
    pool: ModelPool
    metrics: Metrics
    platform: Platform
    models: Models
    knowledge: Knowledge
    tasks: Tasks


def state_of(request: Request) -> AppState:
    return request.app.state.modelmint


# async, so that FastAPI does not send these to a worker thread on every request
async def get_state(request: Request) -> AppState:
    return state_of(request)


async def get_request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "req_unknown")


async def get_account(request: Request, state: AppState = Depends(get_state)) -> Account:
    """The caller, from `Authorization: Bearer mm-...` (the local account without auth)."""
    return await state.platform.auth.authenticate(request.headers.get("authorization"))


def require_scope(scope: str):
    async def check(request: Request, account: Account = Depends(get_account)) -> Account:
        if not state_of(request).platform.auth.enabled:
            check_local_request(request, admin=scope == "admin")
        if scope not in account.principal.scopes:
            raise PermissionDeniedError(
                f"This API key lacks the {scope!r} scope; use a key that has it.",
                code="missing_scope",
            )
        return account

    return check


State = Annotated[AppState, Depends(get_state)]
RequestId = Annotated[str, Depends(get_request_id)]
InferenceAccount = Annotated[Account, Depends(require_scope("inference"))]
AdminAccount = Annotated[Account, Depends(require_scope("admin"))]
FineTuneAccount = Annotated[Account, Depends(require_scope("fine_tune"))]

# documentation only: it never refuses (get_account checks the key), so a route that lists
# it behaves as before; its one cost is reading the Authorization header again
API_KEY = Security(
    HTTPBearer(
        scheme_name="ApiKey",
        bearerFormat="mm-...",
        description="An API key, as `Authorization: Bearer mm-...`. A server run with "
        "--no-auth (it then answers on loopback only) needs none.",
        auto_error=False,
    )
)
