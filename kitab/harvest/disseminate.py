"""One catalogue record as the XML a harvester receives: MARCXML, UNIMARC slim, or oai_dc.

OAI-PMH embeds metadata under a strict schema wildcard, so one bad indicator makes the whole
page invalid and a strict harvester drops every record on it. Catalogue exports do carry such
faults (``|`` or ``#`` indicators, empty fields, UNIMARC leaders ending ``450 ``), so each
record is brought inside its schema here, once, when the provider index is built: an
unrepairable field is left out rather than served broken.

UNIMARC is served as UNIMARC slim (the BNCF schema, namespace below), never labelled MARC 21.
Links to the repository copy and to the scans go into 856 (``$u``), and into ``dc:identifier``
/ ``dc:relation`` for oai_dc, so a harvester can reach the digital objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pymarc
from lxml import etree

from kitab.mappings.writers import oai_dc_element
from kitab.model import Flavour, Metadata, Record, Value

MARC21_NS = "http://www.loc.gov/MARC21/slim"
MARC21_SCHEMA = "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"
UNIMARC_NS = "http://www.bncf.firenze.sbn.it/unimarc/slim"
UNIMARC_SCHEMA = (
    "http://www.bncf.firenze.sbn.it/progetti/unimarc/slim/documentation/unimarcslim.xsd"
)
XSI = "http://www.w3.org/2001/XMLSchema-instance"

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_DATA_TAG = re.compile(r"^(0[1-9A-Za-z][0-9A-Za-z]|[1-9A-Za-z][0-9A-Za-z]{2})$")
_CONTROL_TAG = re.compile(r"^00[1-9A-Za-z]$")
_MARC21_CODE = re.compile(r"^[\dA-Za-z!\"#$%&'()*+,\-./:;<=>?{}_^`~\[\]\\]$")
_UNIMARC_CODE = re.compile(r"^[\da-z!\"#$%&'()*+,\-./:;<=>?{}_^`~\[\]\\]$")


@dataclass(frozen=True, slots=True)
class Link:
    """A URL a harvester should be able to follow from the record."""

    url: str
    label: str  # "Repository copy", "Scan: page1.png"
    kind: str  # "item" (the repository copy) or "scan"


def clean(text: str | None) -> str:
    """Text with the characters XML 1.0 cannot carry left out (MARC data has stray C0 bytes)."""
    return _NOT_XML.sub("", text or "")


def _alnum_or_space(ch: str) -> bool:
    return ch == " " or (ch.isascii() and ch.isalnum())


def _leader(raw: str, flavour: Flavour) -> str:
    """A leader that fits the schema's pattern, keeping every position that already does."""
    lead = list(clean(raw).ljust(24)[:24])
    for i in (*range(5), *range(12, 17)):
        if not (lead[i].isascii() and lead[i].isdigit()) and lead[i] != " ":
            lead[i] = "0"
    for i in (5, 7, 8, 9, 17, 18, 19):
        if not _alnum_or_space(lead[i]):
            lead[i] = " "
    if not (lead[6].isascii() and lead[6].isalnum()):
        lead[6] = "a"
    lead[10], lead[11] = "2", "2"
    lead[20:24] = list("4500" if flavour is Flavour.MARC21 else "450 ")
    return "".join(lead)


def _indicator(value: str | None, flavour: Flavour) -> str:
    ind = (value or " ")[:1].lower()
    allowed = "0123456789abcdefghijklmnopqrstuvwxyz " + ("|" if flavour is Flavour.UNIMARC else "")
    return ind if ind in allowed else " "


def _with_links(marc: pymarc.Record, links: list[Link]) -> list[pymarc.Field]:
    fields = list(marc.fields)
    present = {u for f in marc.get_fields("856") for u in f.get_subfields("u")}
    for link in links:
        if link.url in present:
            continue
        second = "1" if link.kind == "item" else "2"
        fields.append(
            pymarc.Field(
                tag="856",
                indicators=pymarc.Indicators("4", second),
                subfields=[pymarc.Subfield("u", link.url), pymarc.Subfield("z", link.label)],
            )
        )
    return fields


def native_xml(record: Record, links: list[Link]) -> bytes:
    """The record in its own format: MARCXML for MARC 21, UNIMARC slim for UNIMARC."""
    unimarc = record.flavour is Flavour.UNIMARC
    ns = UNIMARC_NS if unimarc else MARC21_NS
    names = (
        ("rec", "lab", "cf", "df", "sf", "t", "c")
        if unimarc
        else ("record", "leader", "controlfield", "datafield", "subfield", "tag", "code")
    )
    rec_n, lab_n, cf_n, df_n, sf_n, tag_a, code_a = names
    ind_a = ("i1", "i2") if unimarc else ("ind1", "ind2")
    code_ok = _UNIMARC_CODE if unimarc else _MARC21_CODE
    root = etree.Element(
        f"{{{ns}}}{rec_n}",
        nsmap={None: ns, "xsi": XSI},
        attrib={f"{{{XSI}}}schemaLocation": f"{ns} {UNIMARC_SCHEMA if unimarc else MARC21_SCHEMA}"},
    )
    etree.SubElement(root, f"{{{ns}}}{lab_n}").text = _leader(
        str(record.marc.leader), record.flavour
    )
    fields = _with_links(record.marc, links)
    controls = [f for f in fields if f.is_control_field() and _CONTROL_TAG.match(f.tag)]
    if not controls and unimarc:  # UNIMARC slim demands at least one control field
        controls = [pymarc.Field(tag="001", data=record.key)]
    for field in controls:
        etree.SubElement(root, f"{{{ns}}}{cf_n}", {tag_a: field.tag}).text = clean(field.data)
    for field in fields:
        if field.is_control_field() or not _DATA_TAG.match(field.tag):
            continue
        subfields = [s for s in field.subfields if code_ok.match(s.code or "")]
        if not subfields:
            continue  # an empty datafield is invalid in both schemas
        node = etree.SubElement(
            root,
            f"{{{ns}}}{df_n}",
            {
                tag_a: field.tag,
                ind_a[0]: _indicator(field.indicator1, record.flavour),
                ind_a[1]: _indicator(field.indicator2, record.flavour),
            },
        )
        for sub in subfields:
            etree.SubElement(node, f"{{{ns}}}{sf_n}", {code_a: sub.code}).text = clean(sub.value)
    return etree.tostring(root, encoding="utf-8")


def dc_xml(metadata: Metadata, links: list[Link]) -> bytes:
    """The record as oai_dc, with the repository copy as an identifier and scans as relations."""
    extra: Metadata = {name: list(values) for name, values in metadata.items()}
    for link in links:
        name = "dc.identifier.uri" if link.kind == "item" else "dc.relation"
        values = extra.setdefault(name, [])
        if Value(link.url) not in values:
            values.append(Value(link.url))
    return oai_dc_element(extra).encode("utf-8")
