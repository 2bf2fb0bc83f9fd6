"""Who may use what: the checks every endpoint makes on the caller before any work."""

from __future__ import annotations

from modelmint.core.errors import PermissionDeniedError
from modelmint.core.types import Principal
from modelmint.runtime.registry import ModelSpec


def model_allowed(principal: Principal, spec: ModelSpec) -> bool:
    """A key (or its plan) limited to some models may not use the others."""
    return principal.allowed_models is None or spec.name in principal.allowed_models


def check_model_allowed(principal: Principal, spec: ModelSpec) -> None:
    """`model_allowed`, or a 403 naming the model."""
    if not model_allowed(principal, spec):
        raise PermissionDeniedError(
            f"This API key may not use the model {spec.name!r}.",
            param="model",
            code="model_not_allowed",
        )
