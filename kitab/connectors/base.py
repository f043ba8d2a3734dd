"""The Repository protocol: the one interface the sync engine uses to talk to any repository.

A connector knows HTTP and its repository's contract, nothing about MARC. Metadata reaches it
already named the repository's way (``dc.title`` for DSpace, ``dcterms:title`` for Omeka S);
the connector sends it as it is. Every method either does what it says or raises a
:class:`RepositoryError` subclass carrying the server's own message, never a raw HTTP exception,
and never a secret (keys, passwords, tokens) in that message.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from kitab.model import FileRef, Item, Metadata


@dataclass(slots=True)
class RemoteFile:
    """A file as the repository holds it."""

    id: str
    name: str
    size: int
    checksum: str  # hex digest, in `algorithm`
    algorithm: str  # "MD5" (DSpace) or "SHA-256" (Omeka S)
    position: int = 0
    public: bool = True


@dataclass(slots=True)
class RemoteItem:
    """An item as the repository holds it."""

    id: str  # DSpace UUID, Omeka S numeric id as a string
    key: str | None  # kitab identity found in the item's identifier field, if any
    metadata: Metadata
    files: list[RemoteFile] = field(default_factory=list)
    modified: datetime | None = None  # timezone-aware UTC
    url: str | None = None  # where a person sees it (handle URL, item page)
    public: bool = True
    withdrawn: bool = False


@runtime_checkable
class Repository(Protocol):
    """What every connector provides. Implementations: dspace, omeka, saf."""

    #: Field the identity value (``kitab:<key>``) lives in, in this repository's naming.
    identity_field: str
    #: Name of the algorithm in :attr:`RemoteFile.algorithm` (``"MD5"``, ``"SHA-256"``).
    checksum_algorithm: str

    def find(self, key: str) -> RemoteItem | None:
        """The item carrying this kitab identity, or None. Exact match, not a phrase search."""
        ...

    def get(self, item_id: str) -> RemoteItem:
        """One item with its metadata and files. Raises NotFound."""
        ...

    def create(self, item: Item, container: str | None = None) -> RemoteItem:
        """Create an item with its metadata and files in a collection / item set.

        ``container`` overrides the connector's default collection or item set.
        """
        ...

    def update_metadata(self, item_id: str, changes: Metadata) -> RemoteItem:
        """Apply a minimal change: each field named in ``changes`` ends up with exactly those
        values (an empty list removes the field); every other field the item holds, including
        values added by people in the repository's UI, stays as it was."""
        ...

    def list_files(self, item_id: str) -> list[RemoteFile]:
        """The item's content files with their server-side checksums, in display order."""
        ...

    def add_file(self, item_id: str, file: FileRef) -> RemoteFile:
        """Upload a file (streamed from disk) after the existing ones; verify its checksum."""
        ...

    def replace_file(self, item_id: str, old: RemoteFile, file: FileRef) -> RemoteFile:
        """Put ``file`` where ``old`` was (same position), then remove ``old``."""
        ...

    def remove_file(self, item_id: str, file_id: str) -> None:
        """Remove one file from the item. A file already gone is not an error."""
        ...

    def set_public(self, item_id: str, public: bool) -> None:
        """Make an item visible to everyone or only to repository staff."""
        ...

    def withdraw(self, item_id: str) -> None:
        """Take an item out of public view without destroying it (DSpace withdraw, Omeka
        private). Repeating it is harmless."""
        ...

    def changed_since(self, since: datetime) -> Iterator[RemoteItem]:
        """Every item modified at or after ``since`` (pagination followed to the end)."""
        ...

    def iter_items(self) -> Iterator[RemoteItem]:
        """Every item in the connector's collection / item set (for relink)."""
        ...

    def close(self) -> None:
        """Release connections. Never logs out shared sessions."""
        ...


class RepositoryError(Exception):
    """A repository refused or failed a request. ``message`` is the server's own words."""

    def __init__(
        self, message: str, *, status: int | None = None, method: str = "", path: str = ""
    ) -> None:
        self.message = message
        self.status = status
        self.method = method
        self.path = path  # never includes a query string (Omeka puts keys there)
        where = f" ({method} {path} → {status})" if status is not None else ""
        super().__init__(f"{message}{where}")


class NotFound(RepositoryError):
    """The item, file or collection does not exist (404)."""


class Conflict(RepositoryError):
    """The request clashes with the repository's current state (409, duplicate bundle…)."""


class Rejected(RepositoryError):
    """The repository refused the input (400, 413, 415, 422): fix the data, do not retry."""


class AuthError(RepositoryError):
    """Bad credentials, anonymous access, or not allowed (401, 403)."""


class Unavailable(RepositoryError):
    """The repository could not be reached or kept failing (5xx, 429, timeouts) after retries."""


class IntegrityError(RepositoryError):
    """A file arrived with a checksum other than ours."""
