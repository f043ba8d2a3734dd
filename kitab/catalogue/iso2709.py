"""Splitting an ISO 2709 byte stream into records and taking each record's structure apart.

Real exports break the standard in ways pymarc's reader stops on, so this module trusts the
record terminator (0x1D) over the leader's length, tolerates CR/LF/blanks between records, and
reads fields from the directory by bytes, by characters (some exporters count characters) or,
failing both, in order between field terminators. Every repair is recorded as a warning on the
record; what cannot be repaired raises :class:`StructureError` with a reason a person can read.
Nothing here decodes text: fields stay bytes until the charset is known.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

RECORD_END = b"\x1d"
FIELD_END = b"\x1e"
_BETWEEN_RECORDS = b"\r\n \t\x00\x1a"  # junk exporters leave between records
_BLOCK = 1 << 16


class StructureError(ValueError):
    """The record's leader or directory cannot be made sense of."""


@dataclass(slots=True)
class Chunk:
    """One record's bytes as cut from the stream (terminator removed)."""

    ordinal: int
    offset: int
    data: bytes
    terminated: bool = True
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RawRecord:
    """A record taken apart but not decoded: leader, (tag, bytes) fields, repairs made."""

    leader: str
    fields: list[tuple[str, bytes]]
    indicator_count: int
    code_length: int
    warnings: list[str]
    #: the data area when the fields are exactly its pieces between terminators, in order and
    #: unrepaired: a decoder that keeps 0x1E can then decode the record in one call
    body: bytes | None = None


def _leader_length(data: bytes) -> int | None:
    head = data[:5]
    return int(head) if len(head) == 5 and head.isdigit() else None


def _looks_like_leader(data: bytes) -> bool:
    return len(data) >= 24 and data[:5].isdigit() and data[12:17].isdigit()


def _cut(piece: bytes, ordinal: int, offset: int) -> Iterator[Chunk]:
    """Yield the records in `piece`, splitting where a terminator is missing between two."""
    while True:
        length = _leader_length(piece)
        if (
            length is not None
            and 24 < length < len(piece)
            and piece[length - 1 : length] == FIELD_END
            and _looks_like_leader(piece[length:])
        ):
            note = "no record terminator: the next record starts where the leader length ends"
            yield Chunk(ordinal, offset, piece[:length], warnings=[note])
            piece, offset, ordinal = piece[length:], offset + length, ordinal + 1
            continue
        yield Chunk(ordinal, offset, piece)
        return


def split_records(stream: BinaryIO) -> Iterator[Chunk]:
    """Cut a binary stream into record chunks, reading it in fixed-size blocks (flat memory)."""
    buffer = b""
    base = 0  # file offset of buffer[0]
    ordinal = 0
    while block := stream.read(_BLOCK):
        buffer += block
        pos = 0
        while (end := buffer.find(RECORD_END, pos)) >= 0:
            piece = buffer[pos:end].lstrip(_BETWEEN_RECORDS)
            if piece:
                start = base + end - len(piece)
                for chunk in _cut(piece, ordinal + 1, start):
                    ordinal = chunk.ordinal
                    yield chunk
            pos = end + 1
        buffer = buffer[pos:]
        base += pos
    rest = buffer.lstrip(_BETWEEN_RECORDS)
    if rest:
        yield Chunk(ordinal + 1, base + len(buffer) - len(rest), rest, terminated=False)


def _digits(value: bytes, what: str) -> int:
    if not value.isdigit():
        raise StructureError(f"{what} is not a number: {value.decode('latin-1')!r}")
    return int(value)


_GOOD_DIRECTORY = re.compile(rb"(?:[0-9A-Za-z]{3}[0-9]{9})+")
_ENTRY = re.compile(r"([0-9A-Za-z]{3})([0-9]{4})[0-9]{5}")


def _in_order(directory: bytes, body: bytes) -> tuple[list[str], list[bytes]] | None:
    """(tags, field data) when the fields lie in directory order, each where its terminator
    ends it: the usual record, checked with a few C-speed calls instead of a loop per entry.
    None sends the caller to the careful path, which also names what is wrong."""
    if not _GOOD_DIRECTORY.fullmatch(directory):
        return None
    pieces = body.split(FIELD_END)
    if pieces.pop() != b"" or len(pieces) * 12 != len(directory):
        return None
    tags, lengths = zip(*_ENTRY.findall(directory.decode("ascii")), strict=True)
    if list(map(int, lengths)) != [len(piece) + 1 for piece in pieces]:
        return None
    return list(tags), pieces


def _directory(data: bytes, base: int) -> list[tuple[str, int, int]]:
    directory = data[24 : base - 1]
    if not directory:
        raise StructureError("record has no fields")
    if _GOOD_DIRECTORY.fullmatch(directory):
        return [
            (directory[i : i + 3].decode("ascii"), int(directory[i + 3 : i + 7]),
             int(directory[i + 7 : i + 12]))
            for i in range(0, len(directory), 12)
        ]  # fmt: skip
    if len(directory) % 12:
        raise StructureError(
            f"directory is {len(directory)} bytes, not a whole number of 12-byte entries"
        )
    entries = []  # slow path, only for a bad directory: name the first bad entry
    for start in range(0, len(directory), 12):
        entry = directory[start : start + 12]
        tag = entry[:3]
        if not (tag.isascii() and tag.isalnum()):
            raise StructureError(f"directory entry {start // 12 + 1} has a bad tag {tag!r}")
        where = f"directory entry {start // 12 + 1} ({tag.decode()})"
        entries.append(
            (tag.decode(), _digits(entry[3:7], f"{where} length"), _digits(entry[7:12], where))
        )
    return entries


def _by_bytes(body: bytes, entries: list[tuple[str, int, int]]) -> list[bytes] | None:
    out = []
    for _tag, length, offset in entries:
        end = offset + length
        if length < 1 or end > len(body) or body[end - 1 : end] != FIELD_END:
            return None
        out.append(body[offset : end - 1])
    return out


def _by_characters(body: bytes, entries: list[tuple[str, int, int]]) -> list[bytes] | None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    out = []
    for _tag, length, offset in entries:
        end = offset + length
        if length < 1 or end > len(text) or text[end - 1] != "\x1e":
            return None
        out.append(text[offset : end - 1].encode("utf-8"))
    return out


def _field_data(body: bytes, entries: list[tuple[str, int, int]], warnings: list[str]):
    pieces = body.split(FIELD_END)
    in_order = pieces[:-1] if pieces[-1] == b"" else None
    if (
        in_order is not None
        and len(in_order) == len(entries)
        and all(len(p) + 1 == e[1] for p, e in zip(in_order, entries, strict=True))
    ):
        return in_order
    found = _by_bytes(body, entries)
    if found is None and (found := _by_characters(body, entries)) is not None:
        warnings.append("directory counts characters instead of bytes: fields read by characters")
    if found is None and in_order is not None and len(in_order) == len(entries):
        warnings.append(
            "directory lengths disagree with the field terminators: fields read in order"
        )
        found = in_order
    if found is None:
        terminators = len(pieces) - 1
        raise StructureError(
            f"directory ({len(entries)} entries) does not match the data "
            f"({terminators} field terminators)"
        )
    return found


def parse_chunk(chunk: Chunk) -> RawRecord:
    """Take one record apart; StructureError says why when it cannot be done."""
    data = chunk.data
    if not chunk.terminated:
        raise StructureError(
            f"truncated: the file ends {len(data)} bytes into the record, with no terminator"
        )
    if len(data) < 24:
        raise StructureError(f"record is {len(data)} bytes, shorter than a leader")
    raw_leader = data[:24]
    if not raw_leader.isascii():
        raise StructureError(f"leader has non-ASCII bytes: {raw_leader!r}")
    leader = raw_leader.decode("ascii")
    warnings = list(chunk.warnings)
    length = _leader_length(data)
    if length is None:
        warnings.append(f"leader record length {leader[:5]!r} is not a number")
    elif length != len(data) + 1:
        warnings.append(
            f"leader says {length} bytes but the record is {len(data) + 1} up to its terminator"
        )
    base = _digits(raw_leader[12:17], "base address of data (leader/12-16)")
    if not 24 < base <= len(data) or data[base - 1 : base] != FIELD_END:
        raise StructureError(f"base address of data {base} does not point after the directory")
    counts = []
    for pos, what in ((10, "indicator count"), (11, "subfield code length")):
        if leader[pos].isdigit():
            counts.append(int(leader[pos]))
        else:
            warnings.append(f"leader/{pos} {what} is {leader[pos]!r}, not a digit: assumed 2")
            counts.append(2)
    body = data[base:]
    usual = _in_order(data[24 : base - 1], body)
    if usual is not None:
        fields = list(zip(*usual, strict=True))
        return RawRecord(leader, fields, counts[0], counts[1], warnings, body)
    entries = _directory(data, base)
    found = _field_data(body, entries, warnings)
    fields = []
    for (tag, _length, _offset), value in zip(entries, found, strict=True):
        if FIELD_END in value:
            warnings.append(f"field {tag} holds a stray field terminator: replaced by a space")
            value = value.replace(FIELD_END, b" ")
        fields.append((tag, value))
    return RawRecord(leader, fields, counts[0], counts[1], warnings)
