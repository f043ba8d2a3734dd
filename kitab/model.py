"""The data that crosses kitab's rooms.

A :class:`Record` is what the catalogue side reads (a MARC record plus where it came from). An
:class:`Item` is what the repository side stores: repository-neutral metadata and files. The two
meet through a record's *identity* (its key), which is also written into the repository item so a
lost state store can be rebuilt from the repository alone.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import pymarc

#: Prefix of the identity value kitab writes into every item it creates
#: (DSpace ``dc.identifier.other``, Omeka S ``dcterms:identifier``). Fixed forever: changing it
#: would orphan every item already in every repository.
IDENTITY_PREFIX = "kitab:"


def identity_value(key: str) -> str:
    """The identifier value that marks an item as the copy of the record with this key."""
    return f"{IDENTITY_PREFIX}{key}"


def key_from_identity(value: str) -> str | None:
    """The record key inside an identity value, or None when the value is not kitab's."""
    value = value.strip()
    if value.startswith(IDENTITY_PREFIX) and len(value) > len(IDENTITY_PREFIX):
        return value[len(IDENTITY_PREFIX) :]
    return None


class Flavour(StrEnum):
    MARC21 = "marc21"
    UNIMARC = "unimarc"

    @property
    def label(self) -> str:
        return "MARC 21" if self is Flavour.MARC21 else "UNIMARC"


@dataclass(frozen=True, slots=True)
class Value:
    """One metadata value; ``language`` is an ISO 639 code (``az``, ``uz``, ``ru``) when known."""

    value: str
    language: str | None = None


#: Field name → values in order. Field names are the repository-neutral qualified DC names
#: (``dc.title``, ``dc.contributor.author``) or, once rendered for a repository, that
#: repository's own names (``dcterms:title`` for Omeka S).
Metadata = dict[str, list[Value]]


def metadata_from_plain(data: Mapping[str, Iterable[str | Value]]) -> Metadata:
    """Build metadata from plain strings (tests, configuration), keeping Values as they are."""
    return {
        name: [v if isinstance(v, Value) else Value(v) for v in values]
        for name, values in data.items()
    }


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """Where a record was read: reported with every problem so a cataloguer can find it."""

    file: str
    ordinal: int  # 1-based position of the record in the file
    offset: int  # byte offset of the record's first byte (for XML: the line number is in `line`)
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else f"byte {self.offset}"
        return f"{self.file}: record {self.ordinal} ({where})"


@dataclass(slots=True)
class Record:
    """A catalogue record as read from an export, decoded to NFC Unicode."""

    marc: pymarc.Record
    flavour: Flavour
    key: str  # stable identity: 001 with 003, or a configured field
    source: SourcePosition
    encoding: str  # the character encoding the bytes were decoded from, by its usual name
    raw: bytes | None = None  # the original ISO 2709 bytes, for byte-preserving write-back
    warnings: list[str] = field(default_factory=list)

    @property
    def control_number(self) -> str | None:
        fields = self.marc.get_fields("001")
        return fields[0].data if fields else None

    @property
    def leader(self) -> str:
        return str(self.marc.leader)


_MARC_SLOT = Record.__dict__["marc"]  # the slot behind Record.marc, for LazyRecord's property


class LazyRecord(Record):
    """A record whose pymarc form is made only when ``.marc`` is first used.

    Most of a no-op push never looks past a record's key and bytes: building the pymarc record
    costs more than everything else the reader does, so the reader hands over ``build`` (which
    makes exactly the record an eager reader would have made) and ``head``, a pymarc record with
    the same leader and only the fields the key is taken from (001, 003, a configured key
    field), which answers ``control_number`` and ``leader`` until the whole record exists.
    Records that would not build quietly (odd fields, repairs with warnings) are read eagerly,
    so laziness never hides a warning or an error.
    """

    __slots__ = ("_build", "_head")

    def __init__(
        self,
        marc: pymarc.Record | None,
        flavour: Flavour,
        key: str,
        source: SourcePosition,
        encoding: str,
        raw: bytes | None = None,
        warnings: list[str] | None = None,
        *,
        build: Callable[[], pymarc.Record] | None = None,
        head: pymarc.Record | None = None,
    ) -> None:
        # the signature of Record's, so dataclasses.replace(record, marc=...) keeps working
        self._build = None
        Record.__init__(self, marc, flavour, key, source, encoding, raw, warnings or [])
        self._build = build if marc is None else None
        self._head = head

    @property  # type: ignore[override]
    def marc(self) -> pymarc.Record:
        build = self._build
        if build is not None:
            _MARC_SLOT.__set__(self, build())
            self._build = None
        return _MARC_SLOT.__get__(self, Record)

    @marc.setter
    def marc(self, value: pymarc.Record) -> None:
        _MARC_SLOT.__set__(self, value)
        self._build = None

    @property
    def built(self) -> bool:
        """Whether the pymarc record exists yet (tests use it to show it was never needed)."""
        return self._build is None

    @property
    def control_number(self) -> str | None:
        if self._build is None or self._head is None:
            return Record.control_number.__get__(self)
        fields = self._head.get_fields("001")
        return fields[0].data if fields else None

    @property
    def leader(self) -> str:
        if self._build is None or self._head is None:
            return str(self.marc.leader)
        return str(self._head.leader)


@dataclass(slots=True)
class FileRef:
    """A local file (a scan) that belongs to an item. Checksums are computed on demand, streamed."""

    path: Path
    name: str = ""
    mimetype: str = ""
    public: bool = True
    description: str | None = None
    _md5: str | None = field(default=None, repr=False)
    _sha256: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.name:
            self.name = self.path.name
        if not self.mimetype:
            self.mimetype = mimetypes.guess_type(self.name)[0] or "application/octet-stream"

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def _hash(self) -> None:
        md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
        with self.path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                md5.update(chunk)
                sha256.update(chunk)
        self._md5, self._sha256 = md5.hexdigest(), sha256.hexdigest()

    @property
    def md5(self) -> str:
        if self._md5 is None:
            self._hash()
        assert self._md5 is not None
        return self._md5

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._hash()
        assert self._sha256 is not None
        return self._sha256


@dataclass(slots=True)
class Item:
    """What a repository should hold for one record: metadata, files, visibility."""

    key: str
    metadata: Metadata
    files: list[FileRef] = field(default_factory=list)
    public: bool = True
