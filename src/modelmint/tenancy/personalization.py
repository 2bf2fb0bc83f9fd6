"""What an org, or one of its end users (the `user` / `safety_identifier` a request
names), wants by default from the task endpoints: instructions for the model and the
language answers are given in. An end user's setting wins over the org's."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from modelmint.core.ids import utcnow
from modelmint.store.tables import personalization

columns = personalization.c
WHOLE_ORG = ""


@dataclass(frozen=True, slots=True)
class Personalization:
    user: str = WHOLE_ORG
    instructions: str | None = None
    language: str | None = None  # "zh" | "en"

    def to_dict(self) -> dict:
        return {"user": self.user, "instructions": self.instructions, "language": self.language}


def set_personalization(connection: Connection, org_id: str, wanted: Personalization) -> None:
    """Set (or, with neither field, clear) the org's or an end user's defaults."""
    connection.execute(
        delete(personalization).where(columns.org_id == org_id, columns.user == wanted.user)
    )
    if wanted.instructions is not None or wanted.language is not None:
        connection.execute(
            personalization.insert().values(
                org_id=org_id,
                user=wanted.user,
                instructions=wanted.instructions,
                language=wanted.language,
                updated_at=utcnow(),
            )
        )


def list_personalization(connection: Connection, org_id: str) -> list[Personalization]:
    query = select(personalization).where(columns.org_id == org_id).order_by(columns.user)
    return [Personalization(r.user, r.instructions, r.language) for r in connection.execute(query)]


def personalization_for(connection: Connection, org_id: str, user: str | None) -> Personalization:
    """The defaults a request of `user` (None: no end user named) gets: the user's own
    fields where set, the org's otherwise."""
    wanted = [WHOLE_ORG] if not user else [WHOLE_ORG, user]
    rows = {
        r.user: r
        for r in connection.execute(
            select(personalization).where(columns.org_id == org_id, columns.user.in_(wanted))
        )
    }
    org, own = rows.get(WHOLE_ORG), rows.get(user or WHOLE_ORG)
    pick = lambda field: next(  # noqa: E731
        (getattr(r, field) for r in (own, org) if r is not None and getattr(r, field)), None
    )
    return Personalization(user or WHOLE_ORG, pick("instructions"), pick("language"))
