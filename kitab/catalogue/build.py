"""Turning a taken-apart ISO 2709 record into a decoded pymarc.Record.

The mapping room works with pymarc's API, so records are pymarc objects. This is the reader's
hot path (a catalogue of a million records has some 27 million fields), so it avoids work per
field wherever pymarc's behaviour allows:

* a record in a codec that keeps the terminators (UTF-8, the Cyrillic code pages) is decoded
  in one call and split on 0x1E; others are decoded field by field, each field whole, since
  subfield delimiters survive every decoder;
* fields are made the way ``Field.__init__`` leaves them (tag, data, indicators, subfields,
  control flag) without its argument checks and conversions, which cost as much as the rest
  of the reading; what pymarc itself does with them is pinned by tests/test_catalogue_build.py;
* indicator pairs are shared: a catalogue uses a handful of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pymarc
from pymarc import Field, Indicators, Subfield

from kitab.catalogue.charsets import UndecodableError, decodes_whole
from kitab.catalogue.iso2709 import RawRecord

_new_field = Field.__new__
_new_tuple = tuple.__new__
_INDICATORS: dict[str, Indicators] = {}
_INDICATORS_KEPT = 1024  # bad data can hold any pair; the cache must not grow with it
#: one subfield: delimiter, code, value up to the next delimiter; a delimiter followed by
#: another or by the end of the field makes no subfield
_SUBFIELD = re.compile("\x1f([^\x1f])([^\x1f]*)", re.DOTALL)


class DecodeError(ValueError):
    """A field's bytes are not text in the record's encoding."""


def _indicators(pair: str) -> Indicators:
    found = _INDICATORS.get(pair)
    if found is None:
        found = Indicators(pair[0], pair[1])
        if len(_INDICATORS) < _INDICATORS_KEPT:
            _INDICATORS[pair] = found
    return found


def _made(tag: str, indicators: Indicators, subfields: list[Subfield]) -> Field:
    """A data field exactly as ``Field(tag, indicators, subfields)`` leaves it."""
    fld = _new_field(Field)
    fld.tag = tag
    fld.data = None
    fld.control_field = False
    fld._indicators = indicators
    fld.subfields = subfields
    return fld


def _control(tag: str, text: str) -> Field:
    """A control field exactly as ``Field(tag, data=text)`` leaves it."""
    fld = _new_field(Field)
    fld.tag = tag
    fld.data = text
    fld.control_field = True
    fld._indicators = None
    fld.subfields = []
    return fld


def _data_field(tag: str, text: str, raw: RawRecord, warnings: list[str]) -> Field:
    """Any data field, however odd its indicators or its start."""
    count = raw.indicator_count
    if count == 2 and len(text) >= 2:
        indicators, rest = _indicators(text[:2]), text[2:]
    else:
        indicators, rest = _indicators((text[:count] + "  ")[:2]), text[count:]
    if raw.code_length == 0:
        # Non-standard exports (VINITI) have no subfield codes at all: keep the text as $a.
        return _made(tag, indicators, [Subfield("a", rest)])
    parts = rest.split("\x1f")
    subfields = [_new_tuple(Subfield, (part[:1], part[1:])) for part in parts[1:] if part]
    if parts[0].strip():
        warnings.append(f"field {tag}: text before the first subfield code kept as $a")
        subfields.insert(0, Subfield("a", parts[0]))
    return _made(tag, indicators, subfields)


def decode_texts(raw: RawRecord, decode: Callable[[bytes], str]) -> list[str]:
    """Every field's text, in order; DecodeError names the first field that will not decode."""
    if raw.body is not None and decodes_whole(decode):
        try:
            texts = decode(raw.body).split("\x1e")
        except UndecodableError:
            pass  # decoded again field by field below, to name the field at fault
        else:
            texts.pop()
            return texts
    texts = []
    for tag, data in raw.fields:
        try:
            texts.append(decode(data))
        except UndecodableError as err:
            raise DecodeError(f"undecodable bytes in field {tag}: {err}") from None
    return texts


def builds_quietly(raw: RawRecord, texts: list[str]) -> bool:
    """Whether building adds no warning: every data field is two indicators then subfields.

    Only such a record may be built lazily, since a warning found at building time would come
    too late for the reader's report."""
    if raw.indicator_count != 2 or raw.code_length == 0:
        return False
    for (tag, _), text in zip(raw.fields, texts, strict=True):
        if text[2:3] != "\x1f" and len(text) != 2 and not (tag < "010" and tag.isdigit()):
            return False
    return True


def build_from_texts(
    raw: RawRecord,
    texts: list[str],
    leader: str,
    warnings: list[str],
    tags: frozenset[str] | None = None,
) -> pymarc.Record:
    """A pymarc.Record of the decoded fields (only those with a tag in ``tags``, if given).

    A field is made the same way whatever else the record holds, so a record of some tags has
    exactly the fields the whole record has under those tags: the key is read from one."""
    record = pymarc.Record(leader=leader)
    fields = record.fields
    usual = raw.indicator_count == 2 and raw.code_length != 0
    shared = _INDICATORS
    for (tag, _), text in zip(raw.fields, texts, strict=True):
        if tags is not None and tag not in tags:
            continue
        if tag < "010" and tag.isdigit():
            fields.append(_control(tag, text))
        elif usual and (text[2:3] == "\x1f" or len(text) == 2):
            # the usual field, two indicators then subfields: _made and _indicators inlined
            fld = _new_field(Field)
            fld.tag = tag
            fld.data = None
            fld.control_field = False
            fld._indicators = shared.get(text[:2]) or _indicators(text[:2])
            fld.subfields = [_new_tuple(Subfield, pair) for pair in _SUBFIELD.findall(text, 2)]
            fields.append(fld)
        else:
            fields.append(_data_field(tag, text, raw, warnings))
    if raw.code_length == 0:
        warnings.append("no subfield codes (leader/11 = 0): each data field's text kept as $a")
    return record


def build_record(
    raw: RawRecord, decode: Callable[[bytes], str], leader: str, warnings: list[str]
) -> pymarc.Record:
    """A pymarc.Record with every field decoded by `decode`; DecodeError names the field."""
    return build_from_texts(raw, decode_texts(raw, decode), leader, warnings)
