"""Who may use what: the checks every endpoint makes on the caller before any work."""

from __future__ import annotations

from modelmint.core.errors import PermissionDeniedError
from modelmint.core.types import Principal
from modelmint.runtime.registry import ModelSpec


def check_model_allowed(principal: Principal, spec: ModelSpec) -> None:
    """A key (or its plan) limited to some models may not use the others."""
    if principal.allowed_models is not None and spec.name not in principal.allowed_models:
        raise PermissionDeniedError(
            f"This API key may not use the model {spec.name!r}.",
            param="model",
            code="model_not_allowed",
        )
