"""An edited record written back as ISO 2709 that keeps every byte that did not change.

A library system re-imports what kitab writes, and a cataloguer compares it with what was
exported: a title corrected in the repository must come back as a change to that title and
nothing else. So the original bytes (``Record.raw``) are the starting point. The decoded old
fields are lined up with the new ones; a field whose content is the same keeps its original
bytes exactly, and inside a changed field every subfield (and the indicators) that did not
change keeps its bytes too, wherever the encoding decodes subfields independently (all but
MARC-8, whose escape sequences run across subfields). Only the directory and leader/00-04 and
12-16 are recomputed; any other leader position the edit changed is taken, the rest is kept.

The encoding rule, in order:

1. Changed text is written in the record's own encoding when every character fits it: UTF-8;
   a single-byte code page (CP1251, CP866, KOI8-R, ISO 8859-5); plain ASCII for MARC-8 and
   ISO 5426, whose default set is ASCII (pymarc has no Unicode → MARC-8 encoder, and kitab none
   for ISO 5426). An all-ASCII record is in whatever its leader/09 or 100$a declares.
2. Otherwise the whole record is transcoded to UTF-8, its declaration set to match (MARC 21
   leader/09 = ``a``; UNIMARC 100$a/26-29 = ``50``), and :attr:`Patch.note` says so: mixing
   two encodings in one record would make it unreadable.
3. A record with no original bytes (read from MARCXML), or whose bytes no longer take apart,
   is serialised anew as UTF-8 ISO 2709 by :func:`kitab.catalogue.writer.iso2709_bytes`.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import pymarc

from kitab.catalogue.build import DecodeError, build_record
from kitab.catalogue.charsets import (
    ASCII,
    ISO5426,
    MARC8,
    UTF8,
    UndecodableError,
    decoder_for,
    unimarc_declared,
)
from kitab.catalogue.iso2709 import Chunk, RawRecord, StructureError, parse_chunk
from kitab.catalogue.writer import WriteError, iso2709_bytes
from kitab.model import Flavour, Record

_DELIMITER = b"\x1f"
_FIELD_END = b"\x1e"
_RECORD_END = b"\x1d"
_COMPUTED = set(range(0, 5)) | set(range(12, 17)) | {9}  # lengths, base address, charset
_ASCII_SETS = {ASCII, MARC8, ISO5426, "ISO 646"}  # encodings whose default set is ASCII
_STATEFUL = {MARC8}  # escape sequences carry over subfield delimiters


@dataclass(frozen=True, slots=True)
class Patch:
    """The bytes to write, the encoding they are in, and what had to be done to get them."""

    data: bytes
    encoding: str
    rewritten: list[str] = field(default_factory=list)  # tags of fields written anew, in order
    note: str | None = None  # set when the record was transcoded or serialised anew


def patched_iso2709(record: Record, new_marc: pymarc.Record) -> bytes:
    """``new_marc`` as ISO 2709, with the bytes of ``record`` wherever nothing changed."""
    return patch_iso2709(record, new_marc).data


def patch_iso2709(record: Record, new_marc: pymarc.Record) -> Patch:
    """Like :func:`patched_iso2709`, reporting the encoding and any fallback taken.

    Raises :class:`kitab.catalogue.writer.WriteError` when a field or the record is too long
    for ISO 2709.
    """
    if record.raw is None:
        return _anew(new_marc, record.flavour, "no original ISO 2709 bytes (MARCXML)")
    data = record.raw[:-1] if record.raw.endswith(_RECORD_END) else record.raw
    try:
        raw = parse_chunk(Chunk(record.source.ordinal, record.source.offset, data))
        old = build_record(raw, decoder_for(record.encoding), raw.leader, [])
    except (StructureError, DecodeError) as err:
        return _anew(new_marc, record.flavour, f"the original bytes cannot be reused ({err})")
    encoding = _code_page(record, raw)
    encode = _encoder(encoding)
    if encode is not None:
        try:
            return _patched(record, raw, old, new_marc, encoding, encode)
        except UnicodeEncodeError:
            pass
    declared = "leader/09 = a" if record.flavour is Flavour.MARC21 else "100$a/26-29 = 50"
    why = f"the changed text does not fit {encoding}: the record was transcoded to UTF-8"
    patch = _patched(record, raw, None, _declaring_utf8(new_marc, record.flavour), UTF8, _utf8)
    return Patch(patch.data, UTF8, patch.rewritten, f"{why} ({declared})")


def _anew(marc: pymarc.Record, flavour: Flavour, why: str) -> Patch:
    data = iso2709_bytes(marc, flavour)
    return Patch(data, UTF8, [f.tag for f in marc.fields], f"{why}: written anew as UTF-8")


def _code_page(record: Record, raw: RawRecord) -> str:
    """The encoding changed text must be in: the record's, or for all-ASCII bytes its declared."""
    if record.encoding != ASCII:
        return record.encoding
    if record.flavour is Flavour.MARC21:
        return UTF8 if raw.leader[9] == "a" else MARC8
    for tag, data in raw.fields:
        if tag == "100":
            value = data.split(_DELIMITER + b"a", 1)[-1].split(_DELIMITER)[0]
            declared, _ = unimarc_declared(value.decode("ascii", errors="replace"))
            return declared or ASCII
    return ASCII


def _utf8(text: str) -> bytes:
    return text.encode("utf-8")


def _ascii(text: str) -> bytes:
    return text.encode("ascii")


def _encoder(encoding: str) -> Callable[[str], bytes] | None:
    if encoding == UTF8:
        return _utf8
    if encoding in _ASCII_SETS:
        return _ascii
    try:
        codec = codecs.lookup(_PYTHON_CODECS.get(encoding, encoding)).name
    except LookupError:
        return None
    return lambda text: text.encode(codec)


_PYTHON_CODECS = {
    "CP1251": "cp1251",
    "CP866": "cp866",
    "KOI8-R": "koi8_r",
    "ISO 8859-5": "iso8859_5",
}


def _declaring_utf8(marc: pymarc.Record, flavour: Flavour) -> pymarc.Record:
    """A copy of the record whose charset declaration says UTF-8."""
    out = pymarc.Record(leader=str(marc.leader))
    for fld in marc.fields:
        if flavour is Flavour.UNIMARC and fld.tag == "100" and not fld.is_control_field():
            subfields = [
                pymarc.Subfield(s.code, _utf8_100(s.value) if s.code == "a" else s.value)
                for s in fld.subfields
            ]
            fld = pymarc.Field(fld.tag, fld.indicators, subfields)
        out.fields.append(fld)
    return out


def _utf8_100(value: str) -> str:
    return value[:26] + "50  " + value[30:] if len(value) >= 30 else value


def _text(fld: pymarc.Field, raw: RawRecord) -> str:
    """A field's decoded content as the directory would hold it, for comparing old and new."""
    if fld.is_control_field():
        return fld.data or ""
    if raw.code_length == 0:
        return "".join(fld.indicators)[: raw.indicator_count] + "".join(
            s.value for s in fld.subfields
        )
    head = ("".join(fld.indicators) + "  ")[: raw.indicator_count]
    return head + "".join(f"\x1f{s.code}{s.value}" for s in fld.subfields)


def _patched(
    record: Record,
    raw: RawRecord,
    old: pymarc.Record | None,
    new: pymarc.Record,
    encoding: str,
    encode: Callable[[str], bytes],
) -> Patch:
    """Field bytes: the old ones where the content is the same, encoded anew elsewhere."""
    new_texts = [_text(f, raw) for f in new.fields]
    bodies: list[bytes] = []
    rewritten: list[str] = []
    if old is None:
        bodies = [encode(t) for t in new_texts]
        rewritten = [f.tag for f in new.fields]
    else:
        old_texts = [_text(f, raw) for f in old.fields]
        keys_old = [(f.tag, t) for f, t in zip(old.fields, old_texts, strict=True)]
        keys_new = [(f.tag, t) for f, t in zip(new.fields, new_texts, strict=True)]
        matcher = SequenceMatcher(None, keys_old, keys_new, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                bodies.extend(raw.fields[i][1] for i in range(i1, i2))
                continue
            olds = list(range(i1, i2))
            for j in range(j1, j2):
                fld = new.fields[j]
                twin = next((i for i in olds if old.fields[i].tag == fld.tag), None)
                if twin is not None:
                    olds.remove(twin)
                    body = _changed_field(raw, twin, old.fields[twin], fld, encoding, encode)
                else:
                    body = encode(new_texts[j])
                bodies.append(body)
                rewritten.append(fld.tag)
    data = _assemble(record, raw, new, bodies, transcoded=old is None)
    if old is not None and not rewritten and len(old.fields) == len(new.fields):
        # Nothing changed: the original as it was, even where its directory lists the fields
        # in another order than the data area holds them (IRBIS does) or its length is wrong.
        same_leader = data[5:12] + data[17:24] == record.raw[5:12] + record.raw[17:24]
        if same_leader and record.raw is not None:
            data = record.raw
    return Patch(data, encoding, rewritten)


def _changed_field(
    raw: RawRecord,
    index: int,
    old: pymarc.Field,
    new: pymarc.Field,
    encoding: str,
    encode: Callable[[str], bytes],
) -> bytes:
    """A changed field's bytes, keeping the bytes of its unchanged indicators and subfields."""
    text = _text(new, raw)
    if new.is_control_field() or encoding in _STATEFUL or raw.code_length == 0:
        return encode(text)
    head, *pieces = raw.fields[index][1].split(_DELIMITER)
    decode = decoder_for(encoding)
    try:
        old_pieces = [(p[:1].decode("ascii"), decode(p[1:])) for p in pieces if p]
    except (UnicodeDecodeError, UndecodableError):
        return encode(text)
    olds = [(s.code, s.value) for s in old.subfields]
    if old_pieces != olds or len(old_pieces) != len(pieces):
        return encode(text)  # the reader repaired this field: nothing to line up with
    news = [(s.code, s.value) for s in new.subfields]
    count = raw.indicator_count
    same_head = "".join(old.indicators)[:count] == "".join(new.indicators)[:count]
    out = [head if same_head else encode(("".join(new.indicators) + "  ")[:count])]
    matcher = SequenceMatcher(None, olds, news, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.extend(_DELIMITER + pieces[i] for i in range(i1, i2))
        else:
            out.extend(_DELIMITER + encode(code + value) for code, value in news[j1:j2])
    return b"".join(out)


def _assemble(
    record: Record, raw: RawRecord, new: pymarc.Record, bodies: list[bytes], transcoded: bool
) -> bytes:
    directory, offset = [], 0
    for fld, body in zip(new.fields, bodies, strict=True):
        length = len(body) + 1
        if length > 9999:
            raise WriteError(f"field {fld.tag} is {length} bytes, over ISO 2709's 9999")
        directory.append(f"{fld.tag[:3]:0>3}{length:04d}{offset:05d}".encode("ascii"))
        offset += length
    base = 24 + 12 * len(directory) + 1
    total = base + offset + 1
    if total > 99999:
        raise WriteError(f"record is {total} bytes, over ISO 2709's 99999")
    leader = list(raw.leader)
    was, now = str(record.marc.leader), str(new.leader)
    for pos in range(min(24, len(was), len(now))):
        if pos not in _COMPUTED and was[pos] != now[pos]:
            leader[pos] = now[pos]
    if record.flavour is Flavour.MARC21 and transcoded:
        leader[9] = "a"  # a record kept in its encoding keeps its declaration, true or not
    leader[0:5] = f"{total:05d}"
    leader[12:17] = f"{base:05d}"
    body = b"".join(b + _FIELD_END for b in bodies)
    return "".join(leader).encode("ascii") + b"".join(directory) + _FIELD_END + body + _RECORD_END
