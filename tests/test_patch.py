"""The byte-preserving ISO 2709 patcher, on real exports: only edited bytes change."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from kitab.catalogue import open_catalogue
from kitab.catalogue.iso2709 import Chunk, parse_chunk
from kitab.catalogue.patch import patch_iso2709, patched_iso2709
from kitab.mappings import apply_changes, default_crosswalk, map_record
from kitab.model import Record, Value

TOSHKENT = Path(__file__).resolve().parents[1] / "examples" / "catalogue" / "toshkent-unimarc.mrc"


def fields(data: bytes) -> list[tuple[str, bytes]]:
    return parse_chunk(Chunk(1, 0, data.removesuffix(b"\x1d"))).fields


def reread(tmp_path: Path, data: bytes) -> Record:
    path = tmp_path / "patched.mrc"
    path.write_bytes(data)
    catalogue = open_catalogue(path)
    records = list(catalogue)
    assert len(records) == 1 and not catalogue.problems
    return records[0]


def edit_title(record: Record, suffix: str):
    crosswalk = default_crosswalk(record.flavour)
    titles = map_record(record, crosswalk)["dc.title"]
    wanted = [Value(titles[0].value + suffix, titles[0].language), *titles[1:]]
    result = apply_changes(record, crosswalk, {"dc.title": wanted})
    assert result.applied == ["dc.title"], result.problems
    return result, wanted


def only_title_changed(record: Record, data: bytes, title_tag: str) -> None:
    """Field by field: same tags, same bytes, except inside the title field; leader kept."""
    old, new = fields(record.raw), fields(data)
    assert [t for t, _ in old] == [t for t, _ in new]
    changed = [t for (t, a), (_, b) in zip(old, new, strict=True) if a != b]
    assert changed == [title_tag]
    assert data[5:12] + data[17:24] == record.raw[5:12] + record.raw[17:24]
    assert int(data[:5]) == len(data)


UTF8_FILES = [
    ("marc21-utf8-cjk-880-yaz-marccol1.marc", "245"),
    ("marc21-utf8-many856-pymarc-regression45.dat", "245"),
    ("unimarc-utf8-serials-sciencespo-first200.mrc", "200"),
    ("unimarc-utf8-sbn-italian-lf-separated-5recs.mrc", "200"),
]


@pytest.mark.parametrize(("name", "tag"), UTF8_FILES)
def test_utf8_title_edit_changes_only_the_title_field(data_dir, name, tag):
    for record in open_catalogue(data_dir / name):
        result, _ = edit_title(record, " — yangi nəşr, oʻzbekcha")
        patch = patch_iso2709(record, result.marc)
        assert patch.note is None and patch.rewritten == [tag]
        only_title_changed(record, patch.data, tag)


def test_unchanged_subfields_keep_their_bytes_inside_the_edited_field(data_dir):
    record = next(iter(open_catalogue(data_dir / "marc21-utf8-oclc-connexion-marc4j.mrc")))
    result, _ = edit_title(record, " yangi")
    data = patched_iso2709(record, result.marc)
    old = dict(fields(record.raw))["245"].split(b"\x1f")
    new = dict(fields(data))["245"].split(b"\x1f")
    assert [a == b for a, b in zip(old, new, strict=True)] == [True, True, False, True]
    assert new[2] == b"aRiben min su, xin yang, yi neng, yu Zhongguo wen hua yangi /"


def test_uzbek_and_cyrillic_survive_the_round_trip_byte_exact(tmp_path):
    record = next(r for r in open_catalogue(TOSHKENT) if r.key == "UZ-TSH-2003")
    result, wanted = edit_title(record, " va Qoraqalpogʻiston")
    data = patched_iso2709(record, result.marc)
    only_title_changed(record, data, "200")
    back = reread(tmp_path, data)
    assert map_record(back, default_crosswalk(back.flavour))["dc.title"] == wanted
    assert "Qoraqalpogʻiston".encode() in data and "Библиотеки Узбекистана".encode() in data


def test_own_values_give_back_the_original_bytes(data_dir):
    names = [
        "marc21-utf8-alma-bu-100recs-catmandu.mrc",
        "marc21-cp1251-russian-rkp-pymarc.dat",
        "marc21-marc8-ansel-diacritics-marc4j-brkrtest.mrc",
        "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso",
        "unimarc-utf8-serials-sciencespo-first200.mrc",
    ]
    for name in names:
        for record in open_catalogue(data_dir / name):
            crosswalk = default_crosswalk(record.flavour)
            result = apply_changes(record, crosswalk, map_record(record, crosswalk))
            assert patched_iso2709(record, result.marc) == record.raw, (name, record.key)


def test_cp1251_edit_that_fits_stays_cp1251(tmp_path, data_dir):
    path = data_dir / "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso"
    record = next(r for r in open_catalogue(path) if r.key == "RU\\NLR\\bibl\\5996")
    result, wanted = edit_title(record, " — второе издание")
    patch = patch_iso2709(record, result.marc)
    assert patch.encoding == "CP1251" and patch.note is None
    only_title_changed(record, patch.data, "200")
    assert "второе издание".encode("cp1251") in patch.data
    back = reread(tmp_path, patch.data)
    assert back.encoding == "CP1251"
    assert map_record(back, default_crosswalk(back.flavour))["dc.title"] == wanted


def test_cp1251_edit_that_does_not_fit_transcodes_the_record(tmp_path, data_dir):
    path = data_dir / "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso"
    record = next(r for r in open_catalogue(path) if r.key == "RU\\NLR\\bibl\\5996")
    result, wanted = edit_title(record, " (Azərbaycan nəşri)")
    patch = patch_iso2709(record, result.marc)
    assert patch.encoding == "UTF-8" and "CP1251" in patch.note and "100$a/26-29" in patch.note
    back = reread(tmp_path, patch.data)
    assert back.encoding == "UTF-8" and back.marc["100"]["a"][26:30] == "50  "
    assert map_record(back, default_crosswalk(back.flavour))["dc.title"] == wanted
    assert [str(f) for f in back.marc.fields if f.tag not in ("100", "200")] == [
        str(f) for f in record.marc.fields if f.tag not in ("100", "200")
    ]


def test_marc8_cyrillic_edit_transcodes_and_declares_utf8(tmp_path, data_dir):
    path = data_dir / "marc21-marc8-cyrillic-880-marc4j.mrc"
    record = next(r for r in open_catalogue(path) if r.key == "SIRSI:u5278992")
    result, _ = edit_title(record, " yangi")  # the romanised 245 is ASCII: it fits MARC-8
    patch = patch_iso2709(record, result.marc)
    assert patch.encoding == "MARC-8" and patch.note is None
    only_title_changed(record, patch.data, "245")
    assert patch.data[9:10] == b" "
    crosswalk = default_crosswalk(record.flavour)
    titles = map_record(record, crosswalk)["dc.title"]
    cyrillic = [titles[0], Value(titles[1].value + ": роман", titles[1].language)]
    result = apply_changes(record, crosswalk, {"dc.title": cyrillic})
    patch = patch_iso2709(record, result.marc)
    assert patch.encoding == "UTF-8" and "MARC-8" in patch.note and "leader/09" in patch.note
    back = reread(tmp_path, patch.data)
    assert back.encoding == "UTF-8" and patch.data[9:10] == b"a"
    assert map_record(back, crosswalk)["dc.title"] == cyrillic


def test_marcxml_records_are_serialised_anew(data_dir):
    record = next(iter(open_catalogue(data_dir / "marcxml-marc21-single-856-pymarc-utf8.xml")))
    patch = patch_iso2709(record, copy.deepcopy(record.marc))
    assert record.raw is None and patch.encoding == "UTF-8" and "MARCXML" in patch.note
    assert [t for t, _ in fields(patch.data)] == [f.tag for f in record.marc.fields]
