"""FastAPI dependencies: the app's state, the request id and the calling account, and
their `Annotated` aliases for route signatures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from modelmint.api.local_guard import check_local_request
from modelmint.api.metrics import Metrics
from modelmint.core.errors import PermissionDeniedError
from modelmint.core.settings import Settings
from modelmint.runtime.pool import ModelPool
from modelmint.services.platform import Platform
from modelmint.tenancy.directory import Account


@dataclass
class AppState:
    settings: Settings
    pool: ModelPool
    metrics: Metrics
    platform: Platform


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
