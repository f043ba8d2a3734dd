"""Serialising mapped records as they stream past: DSpace JSON, Omeka S JSON, oai_dc XML, JSONL.

Each writer writes one record the moment it is given one and keeps nothing, so converting a
million-record catalogue takes the memory of one record. The array formats open their bracket
on the first write and close it in :meth:`close`, which the caller must reach (``with`` does).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from kitab.mappings.naming import dcterms_name, simple_dc_element
from kitab.model import Metadata, Record, identity_value

OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"


class Writer:
    """Base of the stream writers: ``write`` per record, ``close`` once at the end."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.count = 0

    def write(self, record: Record, metadata: Metadata) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the document; nothing to do for formats without an envelope."""

    def __enter__(self) -> Writer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class _JsonArrayWriter(Writer):
    """A JSON array written element by element; ``[]`` when there were no records."""

    def write(self, record: Record, metadata: Metadata) -> None:
        self.stream.write("[\n" if self.count == 0 else ",\n")
        self.stream.write(json.dumps(self.document(record, metadata), ensure_ascii=False))
        self.count += 1

    def close(self) -> None:
        self.stream.write("[]\n" if self.count == 0 else "\n]\n")

    def document(self, record: Record, metadata: Metadata) -> dict[str, object]:
        raise NotImplementedError


class DSpaceJsonWriter(_JsonArrayWriter):
    """Bodies for DSpace's ``POST /core/items``: archived and discoverable, as creation requires."""

    def document(self, record: Record, metadata: Metadata) -> dict[str, object]:
        return {
            "metadata": {
                name: [{"value": v.value, "language": v.language} for v in values]
                for name, values in metadata.items()
            },
            "inArchive": True,
            "discoverable": True,
        }


class OmekaJsonWriter(_JsonArrayWriter):
    """Bodies for Omeka S's ``POST /api/items``, values under dcterms terms.

    ``property_id: "auto"`` lets Omeka (4.0+) resolve the term itself. Links from 856 become
    ``uri`` values so Omeka shows them as links; everything else is a ``literal``.
    """

    def document(self, record: Record, metadata: Metadata) -> dict[str, object]:
        terms: dict[str, list[dict[str, str]]] = {}
        for name, values in metadata.items():
            existing = terms.setdefault(dcterms_name(name), [])
            for value in values:
                if name == "dc.identifier.uri":
                    entry = {"type": "uri", "property_id": "auto", "@id": value.value}
                else:
                    entry = {"type": "literal", "property_id": "auto", "@value": value.value}
                    if value.language:
                        entry["@language"] = value.language
                if entry not in existing:
                    existing.append(entry)
        return {"o:is_public": True, **terms}


class JsonLinesWriter(Writer):
    """One JSON object per line: the record's key, identity, where it was read, and its metadata."""

    def write(self, record: Record, metadata: Metadata) -> None:
        line = {
            "key": record.key,
            "identity": identity_value(record.key),
            "flavour": str(record.flavour),
            "source": str(record.source),
            "metadata": {
                name: [{"value": v.value, "language": v.language} for v in values]
                for name, values in metadata.items()
            },
        }
        self.stream.write(json.dumps(line, ensure_ascii=False))
        self.stream.write("\n")
        self.count += 1


class DublinCoreXmlWriter(Writer):
    """A ``<collection>`` of ``oai_dc:dc`` records, each valid against the oai_dc schema.

    The wrapper has no namespace: oai_dc defines a record, not a set of them, and harvesters of
    this file read the ``oai_dc:dc`` children. Values keep their language as ``xml:lang``.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        stream.write('<?xml version="1.0" encoding="UTF-8"?>\n<collection>\n')

    def write(self, record: Record, metadata: Metadata) -> None:
        self.stream.write(oai_dc_element(metadata))
        self.count += 1

    def close(self) -> None:
        self.stream.write("</collection>\n")


def oai_dc_element(metadata: Metadata) -> str:
    """One ``oai_dc:dc`` element, valid on its own: the OAI-PMH provider embeds the same text."""
    out = [
        f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xsi:schemaLocation="{OAI_DC_NS} http://www.openarchives.org/OAI/2.0/oai_dc.xsd">\n'
    ]
    for name, values in metadata.items():
        element = simple_dc_element(name)
        for value in values:
            text = xml_text(value.value)
            if not text:
                continue
            lang = f' xml:lang="{xml_text(value.language)}"' if value.language else ""
            out.append(f"  <dc:{element}{lang}>{text}</dc:{element}>\n")
    out.append("</oai_dc:dc>\n")
    return "".join(out)


def xml_text(text: str) -> str:
    """Text escaped for XML 1.0, with the characters XML cannot carry at all left out.

    MARC data does hold C0 control characters (stray ESC bytes from MARC-8, form feeds); an XML
    parser would reject the whole file for one of them.
    """
    if not text.isprintable():
        text = "".join(ch for ch in text if _xml_char(ch))
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _xml_char(ch: str) -> bool:
    code = ord(ch)
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or code >= 0x10000
    )


WRITERS: dict[str, Callable[[TextIO], Writer]] = {
    "dspace-json": DSpaceJsonWriter,
    "omeka-json": OmekaJsonWriter,
    "dc-xml": DublinCoreXmlWriter,
    "jsonl": JsonLinesWriter,
}
