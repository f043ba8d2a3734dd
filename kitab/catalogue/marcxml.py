"""Reading MARCXML as a stream: MARC 21 slim, bare records, SRU-wrapped records, RUSMARC XML.

lxml's iterparse hands over one ``<record>`` at a time; each is cleared after use (and the
wrappers around it pruned), so memory stays flat. Records are recognised by namespace and local
name wherever they sit, which covers ``marc:``-prefixed collections, a bare ``<record>`` root and
MARCXML inside an SRU response. The rba.ru RUSMARC dialect has no ``<leader>``: one is made up
(and said so). When the XML is not well-formed, the records before the fault have already come
through; the reader then reports the line and re-reads the rest in lxml's recovery mode,
delivering only records that start after the fault, and says how many it recovered.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pymarc
from lxml import etree
from pymarc import Field, Indicators, Subfield

from kitab.catalogue import flavour as flavours
from kitab.catalogue.keys import record_key
from kitab.catalogue.options import ReadOptions
from kitab.catalogue.report import ReadLog
from kitab.model import Flavour, Record, SourcePosition

MARC21_NS = "http://www.loc.gov/MARC21/slim"
RUSMARC_NS = "http://www.rba.ru/rusmarc/soft"
_RECORD_TAGS = [f"{{{MARC21_NS}}}record", f"{{{RUSMARC_NS}}}record", "record"]
_SYNTHETIC_LEADER = {
    Flavour.UNIMARC: "00000nam  2200000   450 ",
    Flavour.MARC21: "00000nam a2200000   4500",
}
_ENCODING_DECL = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _nfc(text: str | None) -> str:
    if not text:
        return ""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _to_pymarc(element: etree._Element) -> tuple[pymarc.Record, str | None]:
    """The record as pymarc, and its leader text (None when the XML has no leader)."""
    record = pymarc.Record()
    leader = None
    for child in element:
        name = _local(child.tag)
        if name == "leader":
            leader = (child.text or "").ljust(24)[:24]
        elif name == "controlfield":
            record.fields.append(Field(tag=child.get("tag", ""), data=_nfc(child.text)))
        elif name == "datafield":
            subfields = [
                Subfield(sub.get("code", ""), _nfc(sub.text))
                for sub in child
                if _local(sub.tag) == "subfield"
            ]
            indicators = Indicators(
                child.get("ind1", " ")[:1] or " ", child.get("ind2", " ")[:1] or " "
            )
            record.fields.append(
                Field(tag=child.get("tag", ""), indicators=indicators, subfields=subfields)
            )
    return record, leader


def _flavour_of(element: etree._Element, marc: pymarc.Record, leader: str) -> Flavour | None:
    if element.tag.startswith(f"{{{RUSMARC_NS}}}"):
        return Flavour.UNIMARC
    declared = (element.get("format") or "").upper().replace(" ", "")
    if declared in ("UNIMARC", "RUSMARC"):
        return Flavour.UNIMARC
    if declared == "MARC21":
        return Flavour.MARC21
    raw_fields = [
        (
            f.tag,
            (f.data or "").encode()
            if f.is_control_field()
            else b"  "
            + b"".join(b"\x1f" + s.code.encode() + s.value.encode() for s in f.subfields),
        )
        for f in marc.fields
    ]
    return flavours.decide(flavours.score(leader, raw_fields))


def _prune(element: etree._Element) -> None:
    element.clear()
    for ancestor in element.iterancestors():
        while ancestor.getprevious() is not None:
            parent = ancestor.getparent()
            if parent is None:
                break
            del parent[0]
    while element.getprevious() is not None:
        del element.getparent()[0]


def _declared_encoding(path: Path) -> str:
    with path.open("rb") as stream:
        head = stream.read(200)
    found = _ENCODING_DECL.search(head)
    return found.group(1).decode().upper() if found else "UTF-8"


class _XmlFile:
    """State of one XML file's read: how far it got, and what it decided."""

    def __init__(self, path: Path, file: str, options: ReadOptions, log: ReadLog) -> None:
        self.path, self.file, self.options, self.log = path, file, options, log
        self.encoding = _declared_encoding(path)
        self.ordinal = 0
        self.flavour: Flavour | None = options.flavour

    def _record(self, element: etree._Element) -> Record | None:
        self.ordinal += 1
        position = SourcePosition(self.file, self.ordinal, 0, element.sourceline)
        marc, leader = _to_pymarc(element)
        flavour = self.flavour or _flavour_of(element, marc, leader or "") or Flavour.MARC21
        self.flavour = self.flavour or flavour
        control = marc["001"].data if marc.get_fields("001") else None
        warnings = []
        if leader is None:
            leader = _SYNTHETIC_LEADER[flavour]
            warnings.append("no <leader>: a default one was made up")
        marc.leader = pymarc.Leader(leader)
        key = record_key(marc, flavour, self.options.key_field)
        if key is None:
            self.log.error(
                position, f"no key: the record has no {self.options.key_field or '001'}", control
            )
            return None
        for warning in warnings:
            self.log.warn(position, warning, key)
        summary = self.log.summary
        summary.records += 1
        summary.flavours[flavour.label] += 1
        summary.encodings[self.encoding] += 1
        return Record(marc, flavour, key, position, self.encoding, None, warnings)

    def _elements(self, recover: bool) -> Iterator[etree._Element]:
        for _event, element in etree.iterparse(
            str(self.path),
            events=("end",),
            tag=_RECORD_TAGS,
            recover=recover,
            huge_tree=True,
            resolve_entities=False,
            no_network=True,
        ):
            names = {_local(child.tag) for child in element}
            if names & {"leader", "controlfield", "datafield"}:
                yield element
            _prune(element)

    def read(self) -> Iterator[Record]:
        try:
            for element in self._elements(recover=False):
                if (record := self._record(element)) is not None:
                    yield record
        except etree.XMLSyntaxError as err:
            yield from self._recover(err)

    def _recover(self, err: etree.XMLSyntaxError) -> Iterator[Record]:
        line = err.lineno or 0
        broken = self.ordinal + 1
        self.log.error(
            SourcePosition(self.file, broken, 0, line),
            f"XML is not well-formed: {err.msg}; this record is skipped",
        )
        done, recovered = self.ordinal, 0
        self.ordinal = broken  # the skipped record keeps its number
        for seen, element in enumerate(self._elements(recover=True), start=1):
            if seen <= done or (element.sourceline or 0) <= line:
                continue
            if (record := self._record(element)) is not None:
                recovered += 1
                yield record
        self.log.note(
            f"{self.file}: not well-formed at line {line}; re-read in lxml recovery mode, "
            f"{recovered} record{'s' * (recovered != 1)} recovered after the fault"
        )


def read_marcxml(path: Path, file: str, options: ReadOptions, log: ReadLog) -> Iterator[Record]:
    """Yield the records of one MARCXML file; problems go to `log`."""
    yield from _XmlFile(path, file, options, log).read()
