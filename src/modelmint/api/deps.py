"""FastAPI dependencies: the app's state, the request id and the calling account."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request

from modelmint.api.metrics import Metrics
from modelmint.core.errors import PermissionDeniedError
from modelmint.core.settings import Settings
from modelmint.runtime.pool import ModelPool
from modelmint.services.accounting import Accounting
from modelmint.tenancy.directory import Account


@dataclass
class AppState:
    settings: Settings
    pool: ModelPool
    metrics: Metrics
    accounting: Accounting


# async, so that FastAPI does not send these to a worker thread on every request
async def get_state(request: Request) -> AppState:
    return request.app.state.modelmint


async def get_request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "req_unknown")


async def get_account(request: Request, state: AppState = Depends(get_state)) -> Account:
    """The caller, from `Authorization: Bearer mm-...` (the local account without auth)."""
    return await state.accounting.authenticate(request.headers.get("authorization"))


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _from_another_site(request: Request) -> bool:
    """A browser sent this on behalf of a page of another origin (what CSRF looks like):
    browsers label such requests with Sec-Fetch-Site and Origin; CLIs and SDKs send neither."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    host = request.headers.get("host", "")
    return origin.partition("://")[2].rstrip("/") != host


def require_scope(scope: str):
    async def check(request: Request, account: Account = Depends(get_account)) -> Account:
        # without auth anyone who can reach the port is admin; a web page on another site
        # could post to it from the user's browser, so changes from there are refused
        if (
            account.key is None
            and request.method not in SAFE_METHODS
            and _from_another_site(request)
        ):
            raise PermissionDeniedError(
                "This server runs without auth (--no-auth), so it refuses admin changes "
                "sent by a web page of another origin. Use the CLI, curl or an API client, "
                "or run the server with auth and an admin key.",
                code="cross_origin_refused",
            )
        if scope not in account.principal.scopes:
            raise PermissionDeniedError(
                f"This API key lacks the {scope!r} scope; use a key that has it.",
                code="missing_scope",
            )
        return account

    return check
