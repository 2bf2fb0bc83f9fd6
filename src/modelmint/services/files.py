"""Files (OpenAI's `/v1/files`): upload, list, retrieve, read back and delete an org's
files. Another org's file is a 404, the same as one that does not exist.

The bytes go into the encrypted vault (privacy/vault.py) off the event loop; the row is
written once they are whole, and a failed row takes its bytes with it. A file past its
`expires_at` is gone for every reader at once, and the expiry chore deletes it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, BinaryIO, Literal

from modelmint.core.bounds import is_unsafe
from modelmint.core.errors import InvalidRequestError, NotFoundError, PayloadTooLargeError
from modelmint.core.ids import unix_seconds, utcnow
from modelmint.privacy.vault import FileVault, TooLarge
from modelmint.store import files as rows
from modelmint.store.database import Database
from modelmint.store.files import FileRecord
from modelmint.tenancy.directory import Account

logger = logging.getLogger(__name__)

# what a caller may upload for (OpenAI's own list); `*-output` and `*-results` are ours
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
MAX_LIST = 10_000
EXPIRY_SECONDS = (3600, 30 * 24 * 3600)  # expires_after.seconds: one hour to 30 days
MAX_FILENAME = 512
VAULT_THREADS = 2


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    purpose: str
    content: BinaryIO
    expires_after_seconds: int | None = None


def file_object(record: FileRecord) -> dict[str, Any]:
    """OpenAI's `file` object."""
    expires = record.expires_at
    return {
        "id": record.id,
        "object": "file",
        "bytes": record.bytes,
        "created_at": unix_seconds(record.created_at),
        "expires_at": None if expires is None else unix_seconds(expires),
        "filename": record.filename,
        "purpose": record.purpose,
        "status": "processed",
        "status_details": None,
    }


@dataclass(frozen=True, slots=True)
class FileLimits:
    per_file: int  # MODELMINT_MAX_FILE_BYTES
    per_org: int  # MODELMINT_MAX_ORG_FILES_BYTES: an org's files together


class Files:
    def __init__(self, db: Database, vault: FileVault, limits: FileLimits) -> None:
        self.db = db
        self.vault = vault
        self.limits = limits
        # the vault's disk work and encryption, on threads of its own: uploads wait for
        # each other, never for the threads the rest of the server runs its work on
        self._io = ThreadPoolExecutor(max_workers=VAULT_THREADS, thread_name_prefix="files")

    def close(self) -> None:
        self._io.shutdown(wait=False, cancel_futures=True)

    async def _in_vault(self, work: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._io, work, *args)

    async def upload(self, account: Account, upload: Upload) -> dict[str, Any]:
        _check_upload(upload)
        org_id, file_id = account.org.id, "file-" + secrets.token_hex(12)
        used = await self.db.read(rows.org_bytes, org_id)
        room = self.limits.per_org - used
        if room <= 0:
            raise self._org_full(used)
        limit = min(self.limits.per_file, room)
        try:
            sealed = await self._in_vault(
                self.vault.write, org_id, file_id, upload.content, limit
            )
        except TooLarge:
            if limit < self.limits.per_file:
                raise self._org_full(used) from None
            raise PayloadTooLargeError(
                f"The file is larger than this server's limit of {self.limits.per_file} bytes "
                "(MODELMINT_MAX_FILE_BYTES). Split it, or ask the operator to raise it."
            ) from None
        now = utcnow()
        seconds = upload.expires_after_seconds
        record = FileRecord(
            id=file_id,
            org_id=org_id,
            filename=upload.filename,
            purpose=upload.purpose,
            bytes=sealed.bytes,
            sha256=sealed.sha256,
            key_id=sealed.key_id,
            created_at=now,
            expires_at=None if seconds is None else now + timedelta(seconds=seconds),
        )
        try:
            await self.db.write(rows.add_file, record)
        except BaseException:
            await self._in_vault(self.vault.delete, org_id, file_id)
            raise
        return file_object(record)

    def _org_full(self, used: int) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"Your organization's files hold {used} bytes and this file would pass their "
            f"limit of {self.limits.per_org} bytes (MODELMINT_MAX_ORG_FILES_BYTES). Delete "
            "files you no longer need, or ask the operator to raise the limit."
        )

    async def get(self, account: Account, file_id: str) -> FileRecord:
        record = await self.db.read(rows.find_file, account.org.id, file_id)
        if record is None or _expired(record):
            raise NotFoundError(f"No such File object: {file_id}", param="id")
        return record

    async def retrieve(self, account: Account, file_id: str) -> dict[str, Any]:
        return file_object(await self.get(account, file_id))

    async def content(self, account: Account, file_id: str) -> tuple[FileRecord, Iterator[bytes]]:
        """The record and its bytes (read and decrypted chunk by chunk as they are sent)."""
        record = await self.get(account, file_id)
        return record, self.vault.read(record.org_id, record.id, record.key_id)

    async def delete(self, account: Account, file_id: str) -> dict[str, Any]:
        record = await self.get(account, file_id)
        await self.db.write(rows.delete_file, record.org_id, record.id)
        await self._in_vault(self.vault.delete, record.org_id, record.id)
        return {"id": record.id, "object": "file", "deleted": True}

    async def page(
        self,
        account: Account,
        *,
        purpose: str | None = None,
        after: str | None = None,
        limit: int = MAX_LIST,
        order: Literal["asc", "desc"] = "desc",
    ) -> dict[str, Any]:
        """A page of the org's files, OpenAI's cursor list (`after` is a file id)."""
        if not 1 <= limit <= MAX_LIST:
            raise InvalidRequestError(f"limit must be 1 to {MAX_LIST}.", param="limit")
        org_id = account.org.id
        cursor = None if after is None else await self.db.read(rows.find_file, org_id, after)
        if after is not None and cursor is None:
            raise InvalidRequestError(
                f"after: no file {after!r} in your organization; pass the last id of the "
                "previous page.",
                param="after",
            )
        query = rows.FileQuery(org_id, purpose, cursor, limit + 1, newest_first=order == "desc")
        found = await self.db.read(rows.list_files, query)
        page = [file_object(r) for r in found[:limit] if not _expired(r)]
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(found) > limit,
        }

    async def delete_expired(self) -> int:
        """The expiry chore: delete files past their `expires_at`; how many."""
        expired = await self.db.read(rows.expired_files, utcnow())
        for record in expired:
            await self.db.write(rows.delete_file, record.org_id, record.id)
            await self._in_vault(self.vault.delete, record.org_id, record.id)
        if expired:
            logger.info("deleted %d files past their expiry", len(expired))
        return len(expired)


def _expired(record: FileRecord) -> bool:
    return record.expires_at is not None and record.expires_at <= utcnow()


def _check_upload(upload: Upload) -> None:
    if upload.purpose not in PURPOSES:
        raise InvalidRequestError(
            f"purpose must be one of {', '.join(PURPOSES)}; got {upload.purpose!r}.",
            param="purpose",
        )
    name = upload.filename
    if not name or len(name) > MAX_FILENAME or any(map(is_unsafe, name)):
        raise InvalidRequestError(
            f"The file needs a name of 1 to {MAX_FILENAME} characters without control, "
            "line-separator or bidirectional characters.",
            param="file",
        )
    seconds = upload.expires_after_seconds
    low, high = EXPIRY_SECONDS
    if seconds is not None and not low <= seconds <= high:
        raise InvalidRequestError(
            f"expires_after.seconds must be {low} to {high} (one hour to 30 days).",
            param="expires_after",
        )
