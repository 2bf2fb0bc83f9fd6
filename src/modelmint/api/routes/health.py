"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from modelmint.api.deps import AppState, get_state

router = APIRouter(tags=["operations"])


@router.get("/health", summary="The process is alive")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Every configured model is loaded")
async def ready(state: AppState = Depends(get_state)) -> JSONResponse:
    models = {name: engine.ready for name, engine in state.pool.engines.items()}
    ok = all(models.values())
    return JSONResponse(
        {"status": "ready" if ok else "loading", "models": models}, status_code=200 if ok else 503
    )


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(state: AppState = Depends(get_state)) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
