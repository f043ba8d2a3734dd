"""DSpace Simple Archive Format (SAF): items as folders for ``dspace import``.

For administrators who batch-load offline. The layout follows what DSpace's importer
(``ItemImportServiceImpl``) actually parses, not only what its documentation shows:

* every sub-directory of the archive is taken for an item, so nothing but item folders may live
  there: folders are assembled outside the archive and renamed in whole, and kitab keeps no index
  file beside them (the index is rebuilt from the items' own ``dc.identifier.other``);
* ``contents`` lines are ``name<TAB>bundle:ORIGINAL`` with optional ``<TAB>description:…`` and
  ``<TAB>permissions:-r 'Group'``; a line starting ``-r `` means "register a file already in the
  assetstore", and the name ends at the first tab, so names with tabs, line breaks, slashes or
  those prefixes are refused;
* in a zip, an entry deeper than ``item/file`` makes the importer take the first directory for
  the archive root, so item files are always flat;
* ``dublin_core.xml`` holds ``dc.*`` (``qualifier="none"`` when unqualified), one
  ``metadata_<schema>.xml`` per other schema.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from lxml import etree

from kitab.connectors.base import (
    Conflict,
    NotFound,
    Rejected,
    RemoteFile,
    RemoteItem,
)
from kitab.model import FileRef, Item, Metadata, Value, key_from_identity

IDENTITY_FIELD = "dc.identifier.other"
CONTENT_BUNDLE = "ORIGINAL"
#: Group given sole read access to a file that must not be public (it exists in every DSpace).
PRIVATE_GROUP = "Administrator"
_CONTROL_NAMES = frozenset(
    {"contents", "dublin_core.xml", "handle", "collections", "relationships"}
)
_ITEM_DIR = re.compile(r"^item_(\d+)$")
#: Characters XML 1.0 cannot carry; DSpace itself turns control characters into spaces.
_XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_CHUNK = 1 << 20


class Unsupported(Rejected):
    """The operation has no meaning for an offline archive (withdraw, visibility, zip edits)."""


@dataclass(frozen=True, slots=True)
class FieldName:
    schema: str
    element: str
    qualifier: str | None

    @classmethod
    def parse(cls, name: str) -> FieldName:
        """``dc.contributor.author`` → (dc, contributor, author); DSpace allows 2 or 3 parts."""
        parts = name.split(".")
        if len(parts) not in (2, 3) or not all(p and not re.search(r"\s", p) for p in parts):
            raise Rejected(f"{name!r} is not a DSpace field name (schema.element[.qualifier])")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def __str__(self) -> str:
        return ".".join(p for p in (self.schema, self.element, self.qualifier) if p)


def check_file_name(name: str) -> None:
    """Refuse names the importer would misread (see the module notes)."""
    bad = (
        not name
        or name in (".", "..")
        or any(c in name for c in "/\\\t\r\n")
        or name.strip().startswith("-r ")
        or name in _CONTROL_NAMES
        or (name.startswith("metadata_") and name.endswith(".xml"))
    )
    if bad:
        raise Rejected(f"file name {name!r} cannot be carried in a Simple Archive Format item")


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub(" ", text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def metadata_documents(metadata: Metadata) -> dict[str, bytes]:
    """The XML files for an item's metadata: file name → bytes, ``dublin_core.xml`` first."""
    by_schema: dict[str, list[tuple[FieldName, Value]]] = {"dc": []}
    for name, values in metadata.items():
        field = FieldName.parse(name)
        by_schema.setdefault(field.schema, []).extend((field, v) for v in values)
    documents = {}
    for schema, pairs in by_schema.items():
        root = etree.Element("dublin_core", schema=schema)
        for field, value in pairs:
            text = _xml_text(value.value)
            if not text.strip():
                continue  # the importer drops empty values; writing them would only mislead
            element = etree.SubElement(
                root, "dcvalue", element=field.element, qualifier=field.qualifier or "none"
            )
            if value.language:
                element.set("language", value.language)
            element.text = text
        if schema != "dc" and not len(root):
            continue
        file_name = "dublin_core.xml" if schema == "dc" else f"metadata_{schema}.xml"
        documents[file_name] = etree.tostring(
            root, xml_declaration=True, encoding="UTF-8", pretty_print=True
        )
    return documents


def contents_line(file: FileRef, *, public: bool) -> str:
    """One ``contents`` line in the form ``ItemImportServiceImpl.processContentsFile`` parses."""
    parts = [file.name, f"bundle:{CONTENT_BUNDLE}"]
    if file.description and _one_line(file.description):
        parts.append(f"description:{_one_line(file.description)}")
    if not (public and file.public):
        parts.append(f"permissions:-r '{PRIVATE_GROUP}'")
    return "\t".join(parts)


def parse_metadata_document(data: bytes) -> Metadata:
    """Read a ``dublin_core.xml`` / ``metadata_<schema>.xml`` back the way the importer does."""
    root = etree.fromstring(data)
    schema = root.get("schema") or "dc"
    metadata: Metadata = {}
    for node in root.iterfind("dcvalue"):
        qualifier = node.get("qualifier")
        parts = [schema, node.get("element", "")]
        if qualifier not in (None, "", "none"):
            parts.append(qualifier)
        metadata.setdefault(".".join(parts), []).append(
            Value((node.text or "").strip(), node.get("language") or None)
        )
    return metadata


@dataclass(slots=True)
class ContentsEntry:
    name: str
    bundle: str
    description: str | None
    public: bool


def parse_contents(text: str) -> list[ContentsEntry]:
    entries = []
    for line in text.splitlines():
        if not line.strip() or line.strip().startswith("-r "):
            continue
        name, *options = line.split("\t")
        found = dict(o.split(":", 1) for o in options if ":" in o)
        entries.append(
            ContentsEntry(
                name=name,
                bundle=found.get("bundle", CONTENT_BUNDLE).strip(),
                description=found.get("description", "").strip() or None,
                public="permissions" not in found,
            )
        )
    return entries


class _HashingReader:
    """Streams a file while hashing it, so a copy costs one read, never a whole-file buffer."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self.md5.update(chunk)
        self.size += len(chunk)
        return chunk


class SafWriter:
    """Writes items into an SAF directory or, when the target ends in ``.zip``, a zip archive.

    An existing target is continued: numbering resumes after the highest ``item_N`` found.
    Safe to share between threads.
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)
        self.is_zip = self.target.suffix.lower() == ".zip"
        self._lock = threading.RLock()
        self._zip: zipfile.ZipFile | None = None
        if self.is_zip:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            mode = "a" if self.target.exists() else "w"
            self._zip = zipfile.ZipFile(self.target, mode, allowZip64=True)
        else:
            self.target.mkdir(parents=True, exist_ok=True)
        self._next = max((n for n in self._numbers()), default=0) + 1
        #: (folder, file name) → (size, MD5) of what this writer copied, to avoid re-reading.
        self.checksums: dict[tuple[str, str], tuple[int, str]] = {}

    def __enter__(self) -> SafWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._zip is not None:
                self._zip.close()
                self._zip = None

    # --- reading what is there --------------------------------------------------------------

    def folders(self) -> list[str]:
        """Item folders in the importer's order (natural sort on the number)."""
        with self._lock:
            if self._zip is not None:
                names = {n.split("/", 1)[0] for n in self._zip.namelist() if "/" in n}
            else:
                names = {p.name for p in self.target.iterdir() if p.is_dir()}
        return sorted((n for n in names if _ITEM_DIR.match(n)), key=lambda n: int(n[5:]))

    def _numbers(self) -> Iterable[int]:
        for folder in self.folders():
            yield int(folder[5:])

    def read_bytes(self, folder: str, name: str) -> bytes | None:
        with self._lock:
            if self._zip is not None:
                try:
                    return self._zip.read(f"{folder}/{name}")
                except KeyError:
                    return None
            path = self.target / folder / name
            return path.read_bytes() if path.is_file() else None

    def names(self, folder: str) -> list[str]:
        with self._lock:
            if self._zip is not None:
                prefix = f"{folder}/"
                return [n[len(prefix) :] for n in self._zip.namelist() if n.startswith(prefix)]
            path = self.target / folder
            return [p.name for p in path.iterdir()] if path.is_dir() else []

    def file_checksum(self, folder: str, name: str) -> tuple[int, str]:
        """Size and MD5 of a stored file, streamed (cached for files this writer copied)."""
        known = self.checksums.get((folder, name))
        if known is not None:
            return known
        with self._lock:
            if self._zip is not None:
                stream: IO[bytes] = self._zip.open(f"{folder}/{name}")
            else:
                stream = (self.target / folder / name).open("rb")
            with stream:
                reader = _HashingReader(stream)
                while reader.read(_CHUNK):
                    pass
        return reader.size, reader.md5.hexdigest()

    def modified(self, folder: str) -> datetime:
        with self._lock:
            if self._zip is not None:
                prefix = f"{folder}/"
                infos = self._zip.infolist()
                stamps = [i.date_time for i in infos if i.filename.startswith(prefix)]
                return datetime(*max(stamps)).astimezone(UTC)
            path = self.target / folder
            latest = max([path.stat().st_mtime, *(p.stat().st_mtime for p in path.iterdir())])
            return datetime.fromtimestamp(latest, UTC)

    # --- writing ----------------------------------------------------------------------------

    def write(
        self, item: Item, handle: str | None = None, collections: Sequence[str] | None = None
    ) -> str:
        """Write one item; return its folder name (``item_001``). Nothing is half-written in a
        directory archive: the folder appears complete or not at all."""
        documents = metadata_documents(item.metadata)
        names = [f.name for f in item.files]
        for name in names:
            check_file_name(name)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise Rejected(f"item {item.key}: two files named {', '.join(duplicates)}")
        for file in item.files:
            if not file.path.is_file():
                raise Rejected(f"item {item.key}: file {file.path} does not exist")
        extra = {}
        if item.files:
            lines = (contents_line(f, public=item.public) for f in item.files)
            extra["contents"] = ("\n".join(lines) + "\n").encode()
        if handle:
            extra["handle"] = f"{handle.strip()}\n".encode()
        if collections:
            extra["collections"] = ("\n".join(c.strip() for c in collections) + "\n").encode()
        with self._lock:
            folder = f"item_{self._next:03d}"
            self._next += 1
            if self._zip is not None:
                self._write_zip(folder, {**documents, **extra}, item.files)
            else:
                self._write_dir(folder, {**documents, **extra}, item.files)
        return folder

    def _write_zip(self, folder: str, small: dict[str, bytes], files: list[FileRef]) -> None:
        assert self._zip is not None
        for name, data in small.items():
            self._zip.writestr(f"{folder}/{name}", data, compress_type=zipfile.ZIP_DEFLATED)
        for file in files:
            info = zipfile.ZipInfo(f"{folder}/{file.name}", datetime.now().timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED  # scans are compressed already
            with file.path.open("rb") as source, self._zip.open(info, "w", force_zip64=True) as out:
                self.checksums[(folder, file.name)] = _copy(source, out)

    def _write_dir(self, folder: str, small: dict[str, bytes], files: list[FileRef]) -> None:
        # Assembled beside the archive, never inside it: the importer would take a half-written
        # folder for an item.
        staging = Path(
            tempfile.mkdtemp(prefix=f".{self.target.name}.partial-", dir=self.target.parent)
        )
        try:
            for name, data in small.items():
                (staging / name).write_bytes(data)
            for file in files:
                with file.path.open("rb") as source, (staging / file.name).open("wb") as out:
                    self.checksums[(folder, file.name)] = _copy(source, out)
            staging.rename(self.target / folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def replace_small_files(self, folder: str, small: dict[str, bytes | None]) -> None:
        """Rewrite (or, for None, delete) metadata/control files of a directory item in place,
        each one atomically."""
        self._require_directory("changing an item")
        path = self.target / folder
        if not path.is_dir():
            raise NotFound(f"no SAF item {folder} in {self.target}")
        with self._lock:
            for name, data in small.items():
                if data is None:
                    (path / name).unlink(missing_ok=True)
                    continue
                temporary = path / f".kitab-tmp-{name}"
                temporary.write_bytes(data)
                os.replace(temporary, path / name)

    def copy_file(self, folder: str, file: FileRef) -> tuple[int, str]:
        """Copy a file into a directory item (atomically); return its size and MD5."""
        self._require_directory("adding files")
        path = self.target / folder
        temporary = path / f".kitab-tmp-{file.name}"
        with file.path.open("rb") as source, temporary.open("wb") as out:
            checksum = _copy(source, out)
        os.replace(temporary, path / file.name)
        self.checksums[(folder, file.name)] = checksum
        return checksum

    def delete_file(self, folder: str, name: str) -> None:
        self._require_directory("removing files")
        (self.target / folder / name).unlink(missing_ok=True)
        self.checksums.pop((folder, name), None)

    def _require_directory(self, what: str) -> None:
        if self.is_zip:
            raise Unsupported(
                f"{what} is not possible in a zip archive ({self.target}); write SAF to a "
                "directory to change items after writing them"
            )


def _copy(source: IO[bytes], out: IO[bytes]) -> tuple[int, str]:
    reader = _HashingReader(source)
    while chunk := reader.read(_CHUNK):
        out.write(chunk)
    return reader.size, reader.md5.hexdigest()


class SafConnector:
    """The Repository protocol over an SAF archive, so ``kitab push`` can target one.

    ``find``/``get`` work from what the archive already holds (its items' identity values), so a
    re-run does not write duplicates. Item ids are folder names. Visibility and withdrawal have no
    SAF form and raise :class:`Unsupported`; a zip accepts new items only.
    """

    identity_field = IDENTITY_FIELD
    checksum_algorithm = "MD5"

    def __init__(self, target: str | os.PathLike[str], collection: str | None = None) -> None:
        self.writer = SafWriter(target)
        self.collection = collection
        self._lock = threading.RLock()
        self._index: dict[str, str] = {}
        for folder in self.writer.folders():
            key = self._key_of(folder)
            if key is not None:
                self._index.setdefault(key, folder)

    def _key_of(self, folder: str) -> str | None:
        data = self.writer.read_bytes(folder, "dublin_core.xml")
        if data is None:
            return None
        for value in parse_metadata_document(data).get(IDENTITY_FIELD, []):
            key = key_from_identity(value.value)
            if key is not None:
                return key
        return None

    def find(self, key: str) -> RemoteItem | None:
        with self._lock:
            folder = self._index.get(key)
        return self.get(folder) if folder else None

    def get(self, item_id: str) -> RemoteItem:
        if not _ITEM_DIR.match(item_id) or not self.writer.names(item_id):
            raise NotFound(f"no SAF item {item_id} in {self.writer.target}")
        metadata: Metadata = {}
        for name in sorted(self.writer.names(item_id)):
            if name == "dublin_core.xml" or (
                name.startswith("metadata_") and name.endswith(".xml")
            ):
                metadata.update(parse_metadata_document(self.writer.read_bytes(item_id, name)))
        key = next(
            filter(None, (key_from_identity(v.value) for v in metadata.get(IDENTITY_FIELD, []))),
            None,
        )
        return RemoteItem(
            id=item_id,
            key=key,
            metadata=metadata,
            files=self.list_files(item_id),
            modified=self.writer.modified(item_id),
        )

    def create(self, item: Item, container: str | None = None) -> RemoteItem:
        with self._lock:
            existing = self._index.get(item.key)
            if existing is not None:
                raise Conflict(f"record {item.key} is already in {self.writer.target}/{existing}")
            collection = container or self.collection
            folder = self.writer.write(item, collections=[collection] if collection else None)
            self._index[item.key] = folder
        return self.get(folder)

    def update_metadata(self, item_id: str, changes: Metadata) -> RemoteItem:
        current = self.get(item_id)
        merged = dict(current.metadata)
        for name, values in changes.items():
            FieldName.parse(name)
            if values:
                merged[name] = list(values)
            else:
                merged.pop(name, None)
        documents: dict[str, bytes | None] = dict(metadata_documents(merged))
        for name in self.writer.names(item_id):
            if name.startswith("metadata_") and name.endswith(".xml") and name not in documents:
                documents[name] = None  # its schema has no values left
        self.writer.replace_small_files(item_id, documents)
        return self.get(item_id)

    def _contents(self, item_id: str) -> list[ContentsEntry]:
        data = self.writer.read_bytes(item_id, "contents")
        return parse_contents(data.decode("utf-8")) if data else []

    def list_files(self, item_id: str) -> list[RemoteFile]:
        files = []
        for entry in self._contents(item_id):
            if entry.bundle != CONTENT_BUNDLE:
                continue
            size, md5 = self.writer.file_checksum(item_id, entry.name)
            files.append(
                RemoteFile(
                    id=entry.name,
                    name=entry.name,
                    size=size,
                    checksum=md5,
                    algorithm="MD5",
                    position=len(files),
                    public=entry.public,
                )
            )
        return files

    def _write_contents(self, item_id: str, lines: list[str]) -> None:
        data = ("\n".join(lines) + "\n").encode() if lines else None
        self.writer.replace_small_files(item_id, {"contents": data})

    def _contents_lines(self, item_id: str) -> list[str]:
        data = self.writer.read_bytes(item_id, "contents")
        return [line for line in (data or b"").decode("utf-8").splitlines() if line.strip()]

    def add_file(self, item_id: str, file: FileRef) -> RemoteFile:
        return self._put_file(item_id, file, replacing=None)

    def replace_file(self, item_id: str, old: RemoteFile, file: FileRef) -> RemoteFile:
        return self._put_file(item_id, file, replacing=old.name)

    def _put_file(self, item_id: str, file: FileRef, replacing: str | None) -> RemoteFile:
        check_file_name(file.name)
        with self._lock:
            lines = self._contents_lines(item_id)
            names = [line.split("\t", 1)[0] for line in lines]
            if file.name in names and file.name != replacing:
                raise Conflict(f"SAF item {item_id} already has a file named {file.name}")
            size, md5 = self.writer.copy_file(item_id, file)
            line = contents_line(file, public=True)
            if replacing is not None and replacing in names:
                position = names.index(replacing)
                lines[position] = line
            else:
                position = len(lines)
                lines.append(line)
            self._write_contents(item_id, lines)
            if replacing is not None and replacing != file.name:
                self.writer.delete_file(item_id, replacing)
        return RemoteFile(file.name, file.name, size, md5, "MD5", position, file.public)

    def remove_file(self, item_id: str, file_id: str) -> None:
        with self._lock:
            lines = self._contents_lines(item_id)
            kept = [line for line in lines if line.split("\t", 1)[0] != file_id]
            if len(kept) != len(lines):
                self._write_contents(item_id, kept)
            self.writer.delete_file(item_id, file_id)

    def set_public(self, item_id: str, public: bool) -> None:
        raise Unsupported("a Simple Archive Format item has no visibility setting")

    def withdraw(self, item_id: str) -> None:
        raise Unsupported("a Simple Archive Format item cannot be withdrawn; remove its folder")

    def iter_items(self) -> Iterator[RemoteItem]:
        for folder in self.writer.folders():
            yield self.get(folder)

    def changed_since(self, since: datetime) -> Iterator[RemoteItem]:
        for folder in self.writer.folders():
            if self.writer.modified(folder) >= since:
                yield self.get(folder)

    def close(self) -> None:
        self.writer.close()
