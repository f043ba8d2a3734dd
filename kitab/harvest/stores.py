"""Where harvested records go: a record store keyed by OAI identifier, written out as a file.

A harvest delivers the same record more than once (overlapping from=, restarted lists), and a
later harvest brings changes and deletions of records fetched long ago. So records are upserted
into the state store (component ``harvest``), keyed by (store, identifier), an incoming record
older than the one held is ignored, and a deletion keeps the last known content. The file the
cataloguer uses is then written from that table in identifier order, atomically:

* ``.jsonl``: one object per record: identifier, datestamp, sets, ``deleted``, and the metadata
  (oai_dc as element → values, MARC formats as MARCXML text);
* ``.xml``: a MARCXML collection for the catalogue side; UNIMARC slim records are turned into
  the MARCXML shape, and a deleted record is kept with leader/05 = ``d`` (MARC's own way of
  saying deleted), unless it is written for a push.
"""

from __future__ import annotations

import json
import os
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from kitab.harvest.disseminate import MARC21_NS, UNIMARC_NS
from kitab.mappings.writers import OAI_DC_NS
from kitab.sync.state import MIGRATIONS, StateStore

MIGRATIONS["harvest"] = [
    [
        """CREATE TABLE harvest_records (
            store TEXT NOT NULL,
            identifier TEXT NOT NULL,
            datestamp TEXT NOT NULL,
            deleted INTEGER NOT NULL,
            sets TEXT NOT NULL,
            kind TEXT,
            payload BLOB,
            PRIMARY KEY (store, identifier))""",
    ]
]

_UNIMARC_NAMES = {
    "rec": "record",
    "lab": "leader",
    "cf": "controlfield",
    "df": "datafield",
    "sf": "subfield",
}
_UNIMARC_ATTRS = {"t": "tag", "i1": "ind1", "i2": "ind2", "c": "code"}


class RecordError(ValueError):
    """A harvested record that cannot be understood in its declared format."""


@dataclass(slots=True)
class Harvested:
    """One record (or deletion) as it came from the source."""

    identifier: str
    datestamp: str
    deleted: bool
    sets: list[str]
    metadata: etree._Element | None  # the element inside <metadata>


def understand(element: etree._Element) -> tuple[str, bytes]:
    """(kind, canonical XML) of a metadata element: ``dc``, ``marc`` or ``xml`` (anything else).

    MARCXML in the MARC 21 namespace (also UNIMARC in MARCXML shape, as Koha serves it) and
    UNIMARC slim become one MARCXML ``record``; a ``collection`` must hold exactly one.
    """
    qname = etree.QName(element)
    if qname.namespace == OAI_DC_NS and qname.localname == "dc":
        return "dc", etree.tostring(element, encoding="utf-8")
    if qname.namespace in (MARC21_NS, UNIMARC_NS):
        records = [element] if qname.localname in ("record", "rec") else list(element)
        if len(records) != 1 or etree.QName(records[0]).localname not in ("record", "rec"):
            raise RecordError(f"expected one MARC record in <{qname.localname}>")
        record = _as_marcxml(records[0]) if qname.namespace == UNIMARC_NS else records[0]
        if record.find(f"{{{MARC21_NS}}}leader") is None:
            raise RecordError("MARC record without a leader")
        return "marc", etree.tostring(record, encoding="utf-8")
    return "xml", etree.tostring(element, encoding="utf-8")


def _as_marcxml(rec: etree._Element) -> etree._Element:
    def convert(node: etree._Element) -> etree._Element:
        name = _UNIMARC_NAMES.get(etree.QName(node).localname)
        if name is None:
            raise RecordError(f"unexpected <{etree.QName(node).localname}> in UNIMARC slim")
        attrs = {_UNIMARC_ATTRS[k]: v for k, v in node.attrib.items() if k in _UNIMARC_ATTRS}
        out = etree.Element(f"{{{MARC21_NS}}}{name}", attrs, nsmap={None: MARC21_NS})
        out.text = node.text if len(node) == 0 else None
        for child in node:
            if isinstance(child.tag, str):
                out.append(convert(child))
        return out

    return convert(rec)


class RecordStore:
    """Upserts by identifier for one destination; ``export`` writes the file."""

    def __init__(self, store: StateStore, name: str) -> None:
        self.store = store
        self.name = name
        store.migrate()

    def upsert(self, record: Harvested) -> str:
        """``new``, ``updated``, ``unchanged``, ``deleted`` or ``stale`` (older than held).

        RecordError when the metadata is not understood; nothing is stored then.
        """
        kind, payload = (None, None)
        if not record.deleted:
            if record.metadata is None:
                raise RecordError("no <metadata> in a record that is not deleted")
            kind, xml = understand(record.metadata)
            payload = zlib.compress(xml)
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT datestamp, deleted, kind, payload FROM harvest_records "
                "WHERE store = ? AND identifier = ?",
                (self.name, record.identifier),
            ).fetchone()
            if row is not None and _instant(row[0]) > _instant(record.datestamp):
                return "stale"
            if record.deleted and row is not None:
                kind, payload = row[2], row[3]  # keep the last known content
            if row is not None and row == (record.datestamp, int(record.deleted), kind, payload):
                return "unchanged"  # delivered again by an overlapping or restarted list
            db.upsert(
                "harvest_records",
                {
                    "store": self.name,
                    "identifier": record.identifier,
                    "datestamp": record.datestamp,
                    "deleted": int(record.deleted),
                    "sets": " ".join(record.sets),
                    "kind": kind,
                    "payload": payload,
                },
                key=("store", "identifier"),
            )
        if record.deleted:
            return "deleted"
        return "new" if row is None else "updated"

    def rows(self) -> Iterator[tuple[str, str, bool, list[str], str | None, bytes | None]]:
        """(identifier, datestamp, deleted, sets, kind, xml) in identifier order, paged."""
        last = ""
        while rows := self.store.query(
            "SELECT identifier, datestamp, deleted, sets, kind, payload FROM harvest_records "
            "WHERE store = ? AND identifier > ? ORDER BY identifier LIMIT 500",
            (self.name, last),
        ):
            for identifier, datestamp, deleted, sets, kind, payload in rows:
                xml = zlib.decompress(payload) if payload is not None else None
                yield identifier, datestamp, bool(deleted), sets.split(), kind, xml
            last = rows[-1][0]

    def export(self, path: Path, *, include_deleted: bool = True) -> int:
        """Write every held record to ``path`` (.jsonl or .xml), atomically; returns the count."""
        suffix = path.suffix.lower()
        if suffix not in (".jsonl", ".xml"):
            raise ValueError(f"{path}: the record store is .jsonl or .xml (MARCXML)")
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                if suffix == ".jsonl":
                    count = self._jsonl(out)
                else:
                    count = self._marcxml(out, include_deleted)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return count

    def _jsonl(self, out: BinaryIO) -> int:
        count = 0
        for identifier, datestamp, deleted, sets, kind, xml in self.rows():
            line: dict[str, object] = {
                "identifier": identifier,
                "datestamp": datestamp,
                "deleted": deleted,
                "sets": sets,
            }
            if not deleted and xml is not None:
                if kind == "dc":
                    line["dc"] = _dc_values(etree.fromstring(xml))
                else:
                    line["marcxml" if kind == "marc" else "xml"] = xml.decode("utf-8")
            out.write(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n")
            count += 1
        return count

    def _marcxml(self, out: BinaryIO, include_deleted: bool) -> int:
        count = 0
        with etree.xmlfile(out, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element(f"{{{MARC21_NS}}}collection", nsmap={None: MARC21_NS}):
                for _, _, deleted, _, kind, xml in self.rows():
                    if kind != "marc" or xml is None or (deleted and not include_deleted):
                        continue
                    record = etree.fromstring(xml)
                    if deleted:
                        leader = record.find(f"{{{MARC21_NS}}}leader")
                        text = (leader.text or "").ljust(24)  # type: ignore[union-attr]
                        leader.text = text[:5] + "d" + text[6:]  # type: ignore[union-attr]
                    xf.write(record)
                    count += 1
        return count


def _dc_values(dc: etree._Element) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for child in dc:
        if isinstance(child.tag, str) and child.text and child.text.strip():
            values.setdefault(etree.QName(child).localname, []).append(child.text.strip())
    return values


def _instant(datestamp: str) -> str:
    """A datestamp comparable across granularities (a day sorts as its first second)."""
    return datestamp if "T" in datestamp else f"{datestamp}T00:00:00Z"
