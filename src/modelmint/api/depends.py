"""`Annotated` aliases of the dependencies in `deps`, so a route says what it needs in its
signature (`state: State`, `account: AdminAccount`) instead of repeating `Depends(...)`;
and `API_KEY`, which puts the key a route needs into the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import HTTPBearer

from modelmint.api.deps import AppState, get_request_id, get_state, require_scope
from modelmint.tenancy.directory import Account

State = Annotated[AppState, Depends(get_state)]
RequestId = Annotated[str, Depends(get_request_id)]
AdminAccount = Annotated[Account, Depends(require_scope("admin"))]
InferenceAccount = Annotated[Account, Depends(require_scope("inference"))]

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
