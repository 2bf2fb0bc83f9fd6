"""Who is calling: an `Account` from the `Authorization` header, or the local account
when auth is off."""

from __future__ import annotations

from datetime import datetime

from modelmint.core.errors import AuthenticationError
from modelmint.core.types import Principal
from modelmint.services.infrastructure import stores_unavailable_as_503
from modelmint.tenancy.directory import Account, Directory
from modelmint.tenancy.orgs import LOCAL_ORG, OrgRecord


def local_account() -> Account:
    org = OrgRecord(LOCAL_ORG, "local", datetime(2000, 1, 1), None, None)
    return Account(org, None, None, Principal.local())


class Authenticator:
    def __init__(self, directory: Directory | None) -> None:
        self._directory = directory
        self._local = local_account()

    @property
    def enabled(self) -> bool:
        return self._directory is not None

    async def authenticate(self, authorization: str | None) -> Account:
        """The caller of `Authorization: Bearer mm-...`; a 401 that says how to get a
        key, or a 503 when the directory's database does not answer."""
        if self._directory is None:
            return self._local
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError(
                "You didn't provide an API key. Send it as 'Authorization: Bearer mm-...'; "
                "create one with `modelmint keys create`."
            )
        with stores_unavailable_as_503():
            return await self._directory.authenticate(token.strip())
