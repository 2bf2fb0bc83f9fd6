"""Personalization: an org's (or one of its end users') default instructions and answer
language for the task endpoints, set through the admin API and `modelmint orgs
personalize`, read by responses and ask for each request."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from sqlalchemy import Connection

from modelmint.core.bounds import is_unsafe
from modelmint.services.admin import Body
from modelmint.store.audit import record as audit
from modelmint.store.database import Database
from modelmint.tenancy import orgs
from modelmint.tenancy.directory import Account
from modelmint.tenancy.personalization import (
    WHOLE_ORG,
    Personalization,
    list_personalization,
    personalization_for,
    set_personalization,
)


class PersonalizationBody(Body):
    user: str = Field(
        default=WHOLE_ORG,
        max_length=256,
        description="The end user (a request's `user` or `safety_identifier`); empty: the "
        "whole org",
    )
    instructions: str | None = Field(
        default=None, max_length=4000, description="Default instructions (null: none)"
    )
    language: Literal["zh", "en"] | None = Field(
        default=None, description="The language answers are given in (null: the question's)"
    )

    @field_validator("user")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(map(is_unsafe, value)):
            raise ValueError("user must not hold control or bidirectional characters")
        return value


def set_defaults(connection: Connection, org: str, body: PersonalizationBody, actor: str) -> dict:
    record = orgs.get_org(connection, org)
    wanted = Personalization(body.user, body.instructions, body.language)
    set_personalization(connection, record.id, wanted)
    audit(connection, actor, "org.personalization", record.id, body.model_dump())
    return {"org_id": record.id, **wanted.to_dict()}


def get_defaults(connection: Connection, org: str) -> dict:
    record = orgs.get_org(connection, org)
    found = list_personalization(connection, record.id)
    return {"org_id": record.id, "data": [p.to_dict() for p in found]}


async def defaults_for(db: Database, account: Account, user: str | None) -> Personalization:
    """What a request of `account` for end user `user` gets by default."""
    return await db.read(personalization_for, account.org.id, user)


LANGUAGE_NAMES = {"zh": "Chinese (简体中文)", "en": "English"}


def system_prompt(wanted: Personalization, fallback: str | None) -> str | None:
    """The instructions a request runs with when it gives none: the org's or end user's,
    else `fallback`; with the answer language they ask for."""
    text = wanted.instructions or fallback
    if wanted.language:
        language = f"Answer in {LANGUAGE_NAMES[wanted.language]}."
        text = f"{text}\n\n{language}" if text else language
    return text
