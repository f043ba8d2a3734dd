"""Reading one ISO 2709 file: split, take apart, decide flavour and charset, decode, key.

Decisions about the whole file (flavour) are made once from its first records; decisions about
charset are made per record, because exports mix them (a Greek file with leader/09 both blank
and 'a'). A detection that overrides what the records declare is reported once per file and
kind, with a count, and noted on each record it touched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import partial
from itertools import chain, islice
from typing import BinaryIO

from kitab.catalogue import flavour as flavours
from kitab.catalogue.build import DecodeError, build_from_texts, builds_quietly, decode_texts
from kitab.catalogue.charsets import (
    ISO5426,
    MARC8,
    UTF8,
    choose_encoding,
    decoder_for,
    guess_cyrillic,
    unimarc_declared,
)
from kitab.catalogue.iso2709 import Chunk, RawRecord, StructureError, parse_chunk, split_records
from kitab.catalogue.keys import parse_key_field, record_key
from kitab.catalogue.options import ReadOptions
from kitab.catalogue.report import ReadLog
from kitab.model import Flavour, LazyRecord, Record, SourcePosition

_HEAD = 10  # records looked at before a file's flavour is decided


def _parsed(chunks: Iterator[Chunk], file: str, log: ReadLog) -> Iterator[tuple[Chunk, RawRecord]]:
    for chunk in chunks:
        try:
            yield chunk, parse_chunk(chunk)
        except StructureError as err:
            log.error(SourcePosition(file, chunk.ordinal, chunk.offset), str(err))


def _control_number(raw: RawRecord) -> str | None:
    for tag, data in raw.fields:
        if tag == "001":
            return data.decode("utf-8", errors="replace").strip() or None
    return None


def _declared(raw: RawRecord, flavour: Flavour) -> tuple[str | None, str | None]:
    if flavour is Flavour.MARC21:
        code = raw.leader[9]
        return (UTF8 if code == "a" else MARC8 if code == " " else None), None
    for tag, data in raw.fields:
        if tag == "100":
            start = data.find(b"\x1fa")
            if start >= 0:
                value = data[start + 2 :].split(b"\x1f")[0]
                return unimarc_declared(value.decode("ascii", errors="replace"))
    return unimarc_declared(None)


def _file_flavour(
    head: list[tuple[Chunk, RawRecord]], options: ReadOptions, file: str, log: ReadLog
) -> Flavour:
    if options.flavour is not None:
        return options.flavour
    found = flavours.decide(sum(flavours.score(raw.leader, raw.fields) for _, raw in head))
    if found is not None:
        return found
    sample = b"".join(chunk.data for chunk, _ in head[:3])
    if guess_cyrillic(sample):
        log.note(
            f"{file}: no 245/008 or 200/100 to tell the flavour; the text is in a legacy "
            "Cyrillic code page, so read as UNIMARC (RUSMARC practice); override with --flavour"
        )
        return Flavour.UNIMARC
    log.note(f"{file}: no 245/008 or 200/100 to tell the flavour; assumed MARC 21")
    return Flavour.MARC21


def read_iso(stream: BinaryIO, file: str, options: ReadOptions, log: ReadLog) -> Iterator[Record]:
    """Yield the good records of one ISO 2709 stream; problems go to `log`."""
    parsed = _parsed(split_records(stream), file, log)
    head = list(islice(parsed, _HEAD))
    if not head:
        return
    flavour = _file_flavour(head, options, file, log)
    default = MARC8 if flavour is Flavour.MARC21 else ISO5426
    overrides: Counter[str] = Counter()
    first_seen: dict[str, SourcePosition] = {}
    mixed = 0
    key_tags = frozenset(
        ("001", "003", parse_key_field(options.key_field)[0] if options.key_field else "001")
    )
    for chunk, raw in chain(head, parsed):
        position = SourcePosition(file, chunk.ordinal, chunk.offset)
        control = _control_number(raw)
        if (
            options.flavour is None
            and flavours.score(raw.leader, raw.fields) * (1 if flavour is Flavour.MARC21 else -1)
            >= flavours.STRONG
        ):
            mixed += 1
        if options.encoding:
            encoding, note = options.encoding, None
        else:
            declared, declared_note = _declared(raw, flavour)
            encoding, note = choose_encoding(chunk.data, declared, default)
            note = note if note is None or declared_note is None else f"{declared_note}; {note}"
        warnings = list(raw.warnings)
        if note:
            overrides[note] += 1
            first_seen.setdefault(note, position)
            warnings.append(note)
        leader = raw.leader
        if flavour is Flavour.MARC21:
            leader = leader[:9] + "a" + leader[10:]  # the record is Unicode now
        try:
            texts = decode_texts(raw, decoder_for(encoding))
        except DecodeError as err:
            log.error(position, f"{err} (read as {encoding})", control)
            continue
        lazy = builds_quietly(raw, texts)
        if lazy:
            marc = build_from_texts(raw, texts, leader, [], key_tags)
        else:
            marc = build_from_texts(raw, texts, leader, warnings)
        key = record_key(marc, flavour, options.key_field)
        if key is None:
            log.error(position, f"no key: the record has no {options.key_field or '001'}", control)
            continue
        for warning in warnings:
            if warning != note:
                log.warn(position, warning, key)
        log.summary.records += 1
        log.summary.flavours[flavour.label] += 1
        log.summary.encodings[encoding] += 1
        data = chunk.data + b"\x1d"
        if lazy:
            build = partial(build_from_texts, raw, texts, leader, [])
            yield LazyRecord(
                None, flavour, key, position, encoding, data, warnings, build=build, head=marc
            )
        else:
            yield Record(marc, flavour, key, position, encoding, data, warnings)
    for note, count in overrides.items():
        log.warn(first_seen[note], f"{note} ({count} record{'s' * (count != 1)})")
        log.note(f"{file}: {note} ({count} record{'s' * (count != 1)})")
    if mixed:
        other = Flavour.UNIMARC if flavour is Flavour.MARC21 else Flavour.MARC21
        log.warn(
            SourcePosition(file, 0, 0),
            f"mixed file: {mixed} records look like {other.label}, read as {flavour.label}",
        )
