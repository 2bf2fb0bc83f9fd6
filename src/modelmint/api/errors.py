"""Turn every failure into OpenAI's error shape with the right status; never a bare 500.

Also what the OpenAPI document says about those answers: `documented_errors` for a
route's `responses=`, and validation failures documented as the 400 they are.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelmint.core.errors import ModelmintError
from modelmint.services.responses import ErrorResponse

logger = logging.getLogger(__name__)

STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_exceeded",
}

HTTP_CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}


# why each status is answered, for the OpenAPI document
ERROR_ANSWERS = {
    400: "Invalid request: a field is missing, of the wrong type or out of its bounds, the "
    "body is not JSON, or a name is in use already",
    401: "No API key, or one that is unknown, revoked or expired (servers with auth)",
    403: "The key lacks the scope; or, without auth, a request not addressed to localhost "
    "or an admin change sent by a page of another site",
    404: "No such organization, plan, key or model",
    413: "The request body is larger than the server accepts",
    429: "A rate limit, budget or concurrency limit was reached, or the model's queue is "
    "full; retry after Retry-After seconds",
    502: "The upstream server behind an upstream model failed",
    503: "The model is still loading, or the database or Redis did not answer; retry shortly "
    "(after Retry-After seconds when it is set)",
}


def documented_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries: these statuses answer with the error body."""
    return {
        status: {"model": ErrorResponse, "description": ERROR_ANSWERS[status]}
        for status in statuses
    }


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _is_union_tag(part: Any) -> bool:
    """pydantic names each member of a union in the error location ('str', 'list[str]')."""
    return isinstance(part, str) and (
        part in {"str", "int", "float", "bool", "dict"} or "[" in part or "-" in part
    )


def _locations(loc: tuple[Any, ...]) -> tuple[str, str]:
    """(the field to name as `param`, the exact place inside it), without union tags."""
    parts = list(loc[1:] if loc[:1] == ("body",) else loc)
    tag = next((i for i, part in enumerate(parts) if _is_union_tag(part)), len(parts))
    field = ".".join(str(p) for p in parts[:tag])
    exact = ".".join(str(p) for p in parts if not _is_union_tag(p))
    return field, exact


def _most_telling(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """Skip 'not a string' errors from union members the input plainly is not."""
    for error in errors:
        loc = tuple(error.get("loc", ()))
        wrong_member = loc and _is_union_tag(loc[-1]) and error.get("type", "").endswith("_type")
        if not wrong_member:
            return error
    return errors[0]


def validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = list(exc.errors())
    if not errors:
        return "The request body is invalid.", None
    first = _most_telling(errors)
    where, exact = _locations(tuple(first.get("loc", ())))
    kind = first.get("type", "")
    if kind == "json_invalid":
        return "The request body is not valid JSON: " + str(
            first.get("ctx", {}).get("error", "")
        ), None
    if kind == "missing" and not where:
        return "The request body is missing: send a JSON object.", None
    if kind == "extra_forbidden":
        return f"Unrecognized request argument supplied: {exact}", where or None
    if kind == "missing":
        return f"Missing required parameter: {exact!r}.", where or None
    message = first.get("msg", "invalid value")
    inside = f" (at {exact!r})" if exact != where else ""
    if where:
        return f"Invalid value for {where!r}{inside}: {message}.", where
    return f"Invalid request body: {message}.", None


def install_error_handlers(app: FastAPI) -> None:
    _document_validation_as_400(app)

    @app.exception_handler(ModelmintError)
    async def _modelmint(request: Request, exc: ModelmintError) -> JSONResponse:
        if exc.status >= 500:
            logger.error("request failed: %s", exc.message)
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = validation_message(exc)
        return JSONResponse(
            error_body(message, "invalid_request_error", param, "invalid_request"), status_code=400
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        code = HTTP_CODES.get(exc.status_code)
        if exc.status_code == 404:
            message = f"Unknown path {request.url.path}. See /docs for the available endpoints."
        elif exc.status_code == 405:
            message = f"Method {request.method} is not allowed on {request.url.path}."
        elif exc.status_code == 400 and message == "There was an error parsing the body":
            message = (
                "The request body could not be parsed: send UTF-8 encoded JSON with "
                "Content-Type: application/json."
            )
        type_ = STATUS_TYPES.get(exc.status_code, "invalid_request_error")
        return JSONResponse(
            error_body(message, type_, None, code),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error")
        return JSONResponse(
            error_body(
                "The server failed to process the request; it has been logged.",
                "server_error",
                None,
                "internal_error",
            ),
            status_code=500,
        )


def _document_validation_as_400(app: FastAPI) -> None:
    """FastAPI documents a 422 for every route with parameters; `_validation` answers those
    with a 400 in the error shape, so the document says that instead."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _validation_as_400(build())
        return build()

    app.openapi = openapi  # type: ignore[method-assign]


def _validation_as_400(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            generated = responses.get("422", {}).get("content", {}).get("application/json", {})
            if generated.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
                responses.setdefault("400", _error_answer(400, schemas))
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)


def _error_answer(status: int, schemas: dict[str, Any]) -> dict[str, Any]:
    shape = ErrorResponse.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    for name, definition in shape.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault(ErrorResponse.__name__, shape)
    reference = {"$ref": f"#/components/schemas/{ErrorResponse.__name__}"}
    return {
        "description": ERROR_ANSWERS[status],
        "content": {"application/json": {"schema": reference}},
    }
