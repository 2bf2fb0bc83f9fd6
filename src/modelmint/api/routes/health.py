"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from modelmint.api.deps import State
from modelmint.services.responses import Health, Readiness

router = APIRouter(tags=["operations"])

NOT_READY = {503: {"model": Readiness, "description": "A model is still loading"}}
PROMETHEUS_TEXT = {
    200: {
        "description": f"Prometheus text exposition format ({CONTENT_TYPE_LATEST})",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


@router.get("/health", summary="The process is alive", response_model=Health)
async def health() -> dict[str, str]:
    return {"status": "ok"}


# /ready builds its answer (200 or 503) itself: the model documents it, nothing validates it
@router.get(
    "/ready",
    summary="Every configured model is loaded",
    response_model=Readiness,
    responses=NOT_READY,
)
async def ready(state: State) -> JSONResponse:
    models = {name: engine.ready for name, engine in state.pool.engines.items()}
    ok = state.pool.ready  # a model loaded on first use is false until then
    return JSONResponse(
        {"status": "ready" if ok else "loading", "models": models}, status_code=200 if ok else 503
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses=PROMETHEUS_TEXT,
)
async def metrics(state: State) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
