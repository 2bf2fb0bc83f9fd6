"""FastAPI dependencies: the app's state, the request id and the caller's Principal."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from modelmint.api.metrics import Metrics
from modelmint.core.settings import Settings
from modelmint.core.types import Principal
from modelmint.runtime.pool import ModelPool


@dataclass
class AppState:
    settings: Settings
    pool: ModelPool
    metrics: Metrics


def get_state(request: Request) -> AppState:
    return request.app.state.modelmint


def get_request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "req_unknown")


def get_principal(request: Request) -> Principal:
    """Every caller is the local principal until API keys exist."""
    return Principal.local()
