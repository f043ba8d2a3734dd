"""Writing records back out, atomically: ISO 2709 (UTF-8) or MARCXML.

The output goes to a temporary file in the destination's folder and is moved into place with
os.replace only once every record is written, so a failure half-way leaves an existing file as it
was. An existing destination is never overwritten unless asked, and then the old file is kept
beside it as ``<name>.bak`` (DESIGN: catalogue files are never overwritten without a backup).
Output is always UTF-8 and says so: MARC 21 leader/09 = ``a``, UNIMARC 100$a/26-29 = ``50``.
MARCXML is written to validate against MARC21slim.xsd, so values the schema cannot hold are
adjusted on the way out (an upper-case indicator is lower-cased, any other invalid indicator
becomes blank, an invalid subfield code becomes ``?``); ``kitab check`` reports such values.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import pymarc
from lxml import etree

from kitab.model import Flavour, Record

MARC21_NS = "http://www.loc.gov/MARC21/slim"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_CODE = re.compile(r"[0-9A-Za-z!\"#$%&'()*+,\-./:;<=>?{}_^`~\[\]\\]")


class WriteError(ValueError):
    """A record cannot be written in the chosen format (too long, unwritable tag...)."""


def _unimarc_100(value: str) -> str:
    return value[:26] + "50  " + value[30:] if len(value) >= 30 else value


def _field_text(field: pymarc.Field, flavour: Flavour) -> str:
    if field.is_control_field():
        return field.data or ""
    subfields = field.subfields
    if flavour is Flavour.UNIMARC and field.tag == "100":
        subfields = [
            pymarc.Subfield(s.code, _unimarc_100(s.value) if s.code == "a" else s.value)
            for s in subfields
        ]
    indicators = "".join(i or " " for i in field.indicators)
    return indicators + "".join(f"\x1f{s.code}{s.value}" for s in subfields)


def _leader(marc: pymarc.Record, flavour: Flavour) -> str:
    leader = str(marc.leader).ljust(24)[:24]
    tail = "4500" if flavour is Flavour.MARC21 else "450 "
    code = "a" if flavour is Flavour.MARC21 else leader[9]
    return leader[:9] + code + "22" + leader[12:20] + tail


def iso2709_bytes(marc: pymarc.Record, flavour: Flavour = Flavour.MARC21) -> bytes:
    """One record as UTF-8 ISO 2709, lengths and offsets recomputed from the content."""
    directory, data, offset = [], [], 0
    for field in marc.fields:
        body = _field_text(field, flavour).encode("utf-8") + b"\x1e"
        if len(body) > 9999:
            raise WriteError(f"field {field.tag} is {len(body)} bytes, over ISO 2709's 9999")
        directory.append(f"{field.tag[:3]:0>3}{len(body):04d}{offset:05d}".encode("ascii"))
        data.append(body)
        offset += len(body)
    base = 24 + 12 * len(directory) + 1
    total = base + offset + 1
    if total > 99999:
        raise WriteError(f"record is {total} bytes, over ISO 2709's 99999")
    leader = _leader(marc, flavour)
    head = f"{total:05d}{leader[5:12]}{base:05d}{leader[17:]}".encode("ascii")
    return head + b"".join(directory) + b"\x1e" + b"".join(data) + b"\x1d"


def _xml_indicator(value: str | None) -> str:
    if value and (value.isdigit() or value.islower() or value == " ") and value.isascii():
        return value
    return value.lower() if value and value.isascii() and value.isalpha() else " "


def _xml(text: str) -> str:
    return _NOT_XML.sub("", text)


def _write_marcxml(out: BinaryIO, items: Iterable[tuple[pymarc.Record, Flavour]]) -> int:
    count = 0
    with etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element("collection", nsmap={None: MARC21_NS}):
            for marc, flavour in items:
                record = etree.Element("record")
                etree.SubElement(record, "leader").text = _leader(marc, flavour)
                for field in marc.fields:
                    if field.is_control_field():
                        node = etree.SubElement(record, "controlfield", tag=field.tag)
                        node.text = _xml(field.data or "")
                        continue
                    ind1, ind2 = (_xml_indicator(i) for i in field.indicators)
                    node = etree.SubElement(
                        record, "datafield", tag=field.tag, ind1=ind1, ind2=ind2
                    )
                    text = _field_text(field, flavour)[2:]
                    for part in text.split("\x1f")[1:]:
                        code = part[:1] if _XML_CODE.fullmatch(part[:1]) else "?"
                        sub = etree.SubElement(node, "subfield", code=code)
                        sub.text = _xml(part[1:])
                xf.write(record)
                count += 1
    return count


def _items(records: Iterable[Record | pymarc.Record]) -> Iterable[tuple[pymarc.Record, Flavour]]:
    for record in records:
        if isinstance(record, Record):
            yield record.marc, record.flavour
        else:
            yield record, Flavour.MARC21


def write_records(
    records: Iterable[Record | pymarc.Record],
    path: str | Path,
    fmt: str = "iso2709",
    *,
    overwrite: bool = False,
) -> int:
    """Write records to `path` atomically; return how many were written.

    Plain pymarc records are written as MARC 21. FileExistsError when `path` exists and
    `overwrite` is false; with `overwrite` the previous file is kept as ``<path>.bak``.
    """
    if fmt not in ("iso2709", "marcxml"):
        raise ValueError(f"unknown output format {fmt!r}: use iso2709 or marcxml")
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists: refusing to overwrite it")
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            if fmt == "marcxml":
                count = _write_marcxml(out, _items(records))
            else:
                count = 0
                for marc, flavour in _items(records):
                    out.write(iso2709_bytes(marc, flavour))
                    count += 1
            out.flush()
            os.fsync(out.fileno())
        if path.exists():  # a copy, so `path` never stops existing
            shutil.copy2(path, path.with_name(path.name + ".bak"))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return count
