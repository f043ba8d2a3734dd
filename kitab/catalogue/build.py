"""Turning a taken-apart ISO 2709 record into a decoded pymarc.Record.

The mapping room works with pymarc's API, so records are pymarc objects. Each field is decoded
once, whole (subfield delimiters survive every decoder), then split; this keeps the hot path in
C (bytes.decode, str.split) for UTF-8 and the code pages.
"""

from __future__ import annotations

from collections.abc import Callable

import pymarc
from pymarc import Field, Subfield

from kitab.catalogue.charsets import UndecodableError
from kitab.catalogue.iso2709 import RawRecord


class DecodeError(ValueError):
    """A field's bytes are not text in the record's encoding."""


def _data_field(tag: str, text: str, raw: RawRecord, warnings: list[str]) -> Field:
    count = raw.indicator_count
    if count == 2 and len(text) >= 2:
        indicators, rest = (text[0], text[1]), text[2:]
    else:
        padded = (text[:count] + "  ")[:2]
        indicators, rest = (padded[0], padded[1]), text[count:]
    if raw.code_length == 0:
        # Non-standard exports (VINITI) have no subfield codes at all: keep the text as $a.
        return Field(tag=tag, indicators=indicators, subfields=[Subfield("a", rest)])
    parts = rest.split("\x1f")
    subfields = [Subfield(part[:1], part[1:]) for part in parts[1:] if part]
    if parts[0].strip():
        warnings.append(f"field {tag}: text before the first subfield code kept as $a")
        subfields.insert(0, Subfield("a", parts[0]))
    return Field(tag=tag, indicators=indicators, subfields=subfields)


def build_record(
    raw: RawRecord, decode: Callable[[bytes], str], leader: str, warnings: list[str]
) -> pymarc.Record:
    """A pymarc.Record with every field decoded by `decode`; DecodeError names the field."""
    record = pymarc.Record(leader=leader)
    fields = record.fields
    no_codes = raw.code_length == 0
    for tag, data in raw.fields:
        try:
            text = decode(data)
        except UndecodableError as err:
            raise DecodeError(f"undecodable bytes in field {tag}: {err}") from None
        if tag < "010" and tag.isdigit():
            fields.append(Field(tag=tag, data=text))
        else:
            fields.append(_data_field(tag, text, raw, warnings))
    if no_codes:
        warnings.append("no subfield codes (leader/11 = 0): each data field's text kept as $a")
    return record
