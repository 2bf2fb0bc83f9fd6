"""Keeping a request's bodies when its org's policy says so: redacted as the policy asks,
encrypted, written off the hot path."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from modelmint.privacy.bodies import store_body
from modelmint.services.context import Ticket
from modelmint.services.infrastructure import Infrastructure
from modelmint.services.privacy import PrivacyCheckError, RequestPrivacy

logger = logging.getLogger(__name__)


def keep_bodies(
    infra: Infrastructure,
    ticket: Ticket,
    privacy: RequestPrivacy,
    request_body: Callable[[], Any],
    response_body: Any,
) -> None:
    """Store the bodies if the policy keeps them. They are redacted as one text: a number
    split between the prompt and the answer is redacted in both. `request_body` is only
    called when they are kept."""
    if not (ticket.account.policy.store_bodies and infra.options.ledger_enabled):
        return
    try:
        request_text, response_text = privacy.stored_bodies(request_body(), response_body)
    except PrivacyCheckError:  # fail closed: rather no copy than an unredacted one
        logger.warning("request %s: bodies not stored, redaction failed", ticket.request_id)
        return
    context = ticket.context
    infra.db.write_later(
        store_body,
        infra.keyring,
        context.request_id,
        context.account.org.id,
        context.created_at,
        request_text,
        response_text,
    )
