"""Prefixed identifiers: `req_…` for requests, and OpenAI's object ids derived from them."""

from __future__ import annotations

from modelmint.core.ids import new_id


def new_request_id() -> str:
    return new_id("req")


def object_id(prefix: str, request_id: str) -> str:
    return f"{prefix}-{request_id.removeprefix('req_')}"
