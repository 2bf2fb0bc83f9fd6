"""`Annotated` aliases of the dependencies in `deps`, so a route says what it needs in its
signature (`state: State`, `account: AdminAccount`) instead of repeating `Depends(...)`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from modelmint.api.deps import AppState, get_request_id, get_state, require_scope
from modelmint.tenancy.directory import Account

State = Annotated[AppState, Depends(get_state)]
RequestId = Annotated[str, Depends(get_request_id)]
AdminAccount = Annotated[Account, Depends(require_scope("admin"))]
InferenceAccount = Annotated[Account, Depends(require_scope("inference"))]
