"""The retention chore: stored bodies past their organization's retention are deleted
(audited), every `purge_interval_seconds` on every replica."""

from __future__ import annotations

import logging

from modelmint.privacy.bodies import purge_expired
from modelmint.store.database import Database

logger = logging.getLogger(__name__)


async def purge_past_retention(db: Database) -> int:
    """Delete what retention no longer allows; how many bodies went."""
    removed = await db.write(purge_expired, "server")
    if removed:
        logger.info("purged %d stored bodies past their retention", removed)
    return removed
