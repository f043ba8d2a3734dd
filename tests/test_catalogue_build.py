"""The reader's fast paths give records that behave exactly like pymarc-built ones.

build.py makes pymarc fields without Field.__init__ and decodes a record in one call when its
codec allows it; iso2709.py takes the usual record apart with a few bulk checks. These tests pin
what that relies on: on real exports, every field equals the one pymarc's own constructor makes
from the same text, pymarc's methods answer the same on both, and pymarc's own reader agrees
with the values.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pymarc
import pytest
from pymarc import Field, Indicators, Subfield

from kitab.catalogue import ReadOptions, open_catalogue
from kitab.catalogue.charsets import decoder_for, decodes_whole
from kitab.catalogue.iso2709 import Chunk, parse_chunk, split_records

FILES = [
    "marc21-utf8-alma-bu-100recs-catmandu.mrc",
    "marc21-cp1251-russian-rkp-pymarc.dat",
    "marc21-marc8-cyrillic-880-marc4j.mrc",
    "marc21-utf8-cjk-880-yaz-marccol1.marc",
    "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso",
    "unimarc-utf8-sbn-italian-lf-separated-5recs.mrc",
    "unimarc-cp866-viniti-nonstandard-ruby.marc",
    "broken-marc21-bad-directory-marc4j.mrc",
]


def _reference(tag: str, text: str, indicator_count: int, code_length: int) -> Field:
    """The field as pymarc's constructor makes it from the decoded text (the slow, sure way)."""
    if tag < "010" and tag.isdigit():
        return Field(tag=tag, data=text)
    indicators = (text[:indicator_count] + "  ")[:2]
    rest = text[indicator_count:]
    if code_length == 0:
        return Field(tag=tag, indicators=Indicators(*indicators), subfields=[Subfield("a", rest)])
    head, *parts = rest.split("\x1f")
    subfields = [Subfield(part[:1], part[1:]) for part in parts if part]
    if head.strip():
        subfields.insert(0, Subfield("a", head))
    return Field(tag=tag, indicators=Indicators(*indicators), subfields=subfields)


def _same_field(ours: Field, theirs: Field) -> None:
    assert type(ours) is Field
    for name in ("tag", "data", "control_field", "indicators", "subfields"):
        assert getattr(ours, name) == getattr(theirs, name), name
    if not ours.control_field:
        assert type(ours.indicators) is Indicators
        assert all(type(sub) is Subfield for sub in ours.subfields)
        codes = {sub.code for sub in theirs.subfields}
        for code in codes:
            assert ours.get_subfields(code) == theirs.get_subfields(code)
            assert ours.get(code) == theirs.get(code)
        assert list(ours) == list(theirs)  # pymarc's own iterator (its private position slot)
    assert ours.value() == theirs.value()
    assert str(ours) == str(theirs)
    assert ours.as_marc("utf-8") == theirs.as_marc("utf-8")


@pytest.mark.parametrize("name", FILES)
def test_fields_equal_pymarc_constructed(data_dir: Path, name: str) -> None:
    catalogue = open_catalogue(data_dir / name)
    records = list(catalogue)
    assert records, name
    for record in records:
        raw = parse_chunk(Chunk(record.source.ordinal, record.source.offset, record.raw[:-1]))
        decode = decoder_for(record.encoding)
        texts = [decode(data) for _, data in raw.fields]
        expected = [
            _reference(tag, text, raw.indicator_count, raw.code_length)
            for (tag, _), text in zip(raw.fields, texts, strict=True)
        ]
        assert len(record.marc.fields) == len(expected)
        for ours, theirs in zip(record.marc.fields, expected, strict=True):
            _same_field(ours, theirs)
        rebuilt = pymarc.Record(leader=str(record.marc.leader))
        rebuilt.add_field(*expected)
        assert record.marc.as_marc() == rebuilt.as_marc()
        found = [str(f) for f in record.marc.get_fields("245", "200", "880")]
        assert found == [str(f) for f in rebuilt.get_fields("245", "200", "880")]


def test_values_agree_with_pymarcs_reader(data_dir: Path) -> None:
    """pymarc's own MARCReader over the same UTF-8 export (one it reads to the end), value by
    value (NFC on its side); then values read off the first Alma record."""
    path = data_dir / "marc21-utf8-cjk-880-yaz-marccol1.marc"
    ours = list(open_catalogue(path))
    with path.open("rb") as stream:
        theirs = list(pymarc.MARCReader(stream, to_unicode=True, force_utf8=True))
    assert len(ours) == len(theirs) == 19
    for mine, other in zip(ours, theirs, strict=True):
        for a, b in zip(mine.marc.fields, other.fields, strict=True):
            assert a.tag == b.tag
            if a.control_field:
                assert a.data == b.data
            else:
                assert a.indicators == b.indicators
                assert a.subfields == [
                    Subfield(s.code, unicodedata.normalize("NFC", s.value)) for s in b.subfields
                ]
    first = next(iter(open_catalogue(data_dir / "marc21-utf8-alma-bu-100recs-catmandu.mrc"))).marc
    assert first["001"].data == "99177355940001161"
    assert first["245"].indicators == Indicators("0", "0")
    assert first["245"].get_subfields("a", "b") == [
        "America without the death penalty :",
        "states leading the way /",
    ]
    assert first["035"].get_subfields("0") == [
        "http://www.worldcat.org/oclc/49576820",
        "/resolver/wikidata/oclc/49576820",
    ]
    assert first.get_fields("010")[0].value() == "20020049 23"


def test_whole_record_decoding_only_for_codecs_that_keep_terminators() -> None:
    assert decodes_whole(decoder_for("UTF-8"))
    assert decodes_whole(decoder_for("CP1251"))
    assert not decodes_whole(decoder_for("MARC-8"))
    assert not decodes_whole(decoder_for("ISO 5426"))


def test_out_of_order_directory_is_read_by_offsets(data_dir: Path) -> None:
    """A directory whose entries are not in data order (allowed by ISO 2709) must not take the
    in-order fast path: each tag keeps its own data."""
    with (data_dir / "marc21-utf8-alma-bu-100recs-catmandu.mrc").open("rb") as stream:
        chunk = next(split_records(stream))
    base = int(chunk.data[12:17])
    entries = [chunk.data[i : i + 12] for i in range(24, base - 1, 12)]
    swapped = [entries[1], entries[0], *entries[2:]]  # 005 listed before 001
    data = chunk.data[:24] + b"".join(swapped) + chunk.data[base - 1 :]
    raw = parse_chunk(Chunk(1, 0, data))
    assert raw.body is None
    assert raw.fields[0] == ("005", b"20150312090411.0")
    assert raw.fields[1] == ("001", b"99177355940001161")


def test_usual_record_keeps_its_data_area(data_dir: Path) -> None:
    with (data_dir / "marc21-utf8-alma-bu-100recs-catmandu.mrc").open("rb") as stream:
        chunk = next(split_records(stream))
    raw = parse_chunk(chunk)
    base = int(chunk.data[12:17])
    assert raw.body == chunk.data[base:]
    assert raw.fields[0] == ("001", b"99177355940001161")
    assert b"\x1e".join(data for _, data in raw.fields) + b"\x1e" == raw.body


def test_indicator_cache_stays_bounded() -> None:
    from kitab.catalogue import build

    for n in range(3000):
        pair = chr(0x400 + n % 60) + chr(0x400 + n // 60)
        assert build._indicators(pair) == Indicators(pair[0], pair[1])
    assert len(build._INDICATORS) <= build._INDICATORS_KEPT


def test_a_record_options_do_not_change_the_fields(data_dir: Path) -> None:
    """Reading with the encoding configured (the whole-record decode) and detected give the
    same fields."""
    path = data_dir / "marc21-cp1251-russian-rkp-pymarc.dat"
    detected = list(open_catalogue(path))
    configured = list(open_catalogue(path, ReadOptions(encoding="cp1251")))
    assert [r.marc.as_marc() for r in detected] == [r.marc.as_marc() for r in configured]
    assert {r.encoding for r in detected} == {"CP1251"}
