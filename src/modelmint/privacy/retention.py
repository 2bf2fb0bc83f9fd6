"""The retention chore: stored bodies, conversation items and stored responses past
their organization's retention are deleted (audited), every `purge_interval_seconds` on
every replica."""

from __future__ import annotations

import logging

from modelmint.privacy.bodies import purge_expired
from modelmint.privacy.conversation_store import purge_conversations
from modelmint.store.database import Database

logger = logging.getLogger(__name__)


async def purge_past_retention(db: Database) -> int:
    """Delete what retention no longer allows; how many bodies went."""
    removed = await db.write(purge_expired, "server")
    talks = await db.write(purge_conversations, "server")
    if removed or talks:
        logger.info("purged %d stored bodies and %d conversation rows past their retention",
                    removed, talks)  # fmt: skip
    return removed + talks
