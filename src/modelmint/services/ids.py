"""Prefixed identifiers: `req_…` for requests, and OpenAI's object ids derived from them."""

from __future__ import annotations

import secrets


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def object_id(prefix: str, request_id: str) -> str:
    return f"{prefix}-{request_id.removeprefix('req_')}"
