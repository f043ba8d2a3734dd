"""Matching scans to records by control number, ISBN, a configured field and 856 paths."""

import pymarc

from kitab.catalogue.scans import ScanIndex, isbn_forms, normalise_name
from kitab.model import Flavour, Record, SourcePosition


def record(control, *fields, flavour=Flavour.MARC21):
    marc = pymarc.Record()
    marc.add_field(pymarc.Field(tag="001", data=control))
    for tag, subfields in fields:
        marc.add_field(
            pymarc.Field(
                tag=tag,
                indicators=[" ", " "],
                subfields=[pymarc.Subfield(c, v) for c, v in subfields],
            )
        )
    return Record(marc, flavour, control, SourcePosition("t.mrc", 1, 0), "UTF-8")


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"scan")
    return path


def test_folder_of_pages_is_one_item_in_natural_order(tmp_path):
    for n in (1, 2, 10, 3):
        touch(tmp_path / "AZ-000123" / f"page{n}.tif")
    index = ScanIndex(tmp_path)
    match = index.match(record("AZ-000123"))
    assert [p.name for p in match.files] == ["page1.tif", "page2.tif", "page3.tif", "page10.tif"]
    assert index.unclaimed() == []


def test_loose_page_files_group_and_names_compare_without_punctuation(tmp_path):
    touch(tmp_path / "RU_NLR_bibl_1234_p2.jpg")
    touch(tmp_path / "RU_NLR_bibl_1234_p10.jpg")
    touch(tmp_path / "RU_NLR_bibl_1234_p1.jpg")
    stray = touch(tmp_path / "unknown-book.pdf")
    touch(tmp_path / "notes.txt")
    index = ScanIndex(tmp_path)
    match = index.match(record("RU\\NLR\\bibl\\1234"))
    assert [p.name for p in match.files] == [
        "RU_NLR_bibl_1234_p1.jpg",
        "RU_NLR_bibl_1234_p2.jpg",
        "RU_NLR_bibl_1234_p10.jpg",
    ]
    assert index.unclaimed() == [stray]


def test_isbn_matches_either_form(tmp_path):
    assert isbn_forms("5-9916-1234-X (pbk.)") == {"599161234x", "9785991612340"}
    assert isbn_forms("978-5-9916-1234-0") == {"599161234x", "9785991612340"}
    touch(tmp_path / "978-5-9916-1234-0.pdf")
    index = ScanIndex(tmp_path, ["control-number", "isbn"])
    assert index.match(record("x1", ("020", [("a", "599161234X")]))).files
    unimarc = record("x2", ("010", [("a", "978-5-9916-1234-0")]), flavour=Flavour.UNIMARC)
    assert index.match(unimarc).files


def test_configured_field_and_declared_856_paths(tmp_path):
    touch(tmp_path / "inv" / "INV 77" / "001.tif")
    touch(tmp_path / "pdf" / "book.pdf")
    index = ScanIndex(tmp_path, ["field:852$p", "856"])
    match = index.match(
        record(
            "b1",
            ("852", [("p", "INV-77")]),
            ("856", [("u", "pdf/book.pdf")]),
            ("856", [("u", "file:///pdf/missing.pdf")]),
            ("856", [("u", "https://example.org/book")]),
            ("856", [("u", "../../etc/passwd")]),
        )
    )
    assert [p.relative_to(tmp_path).as_posix() for p in match.files] == [
        "inv/INV 77/001.tif",
        "pdf/book.pdf",
    ]
    assert match.missing == ["file:///pdf/missing.pdf"]
    assert index.unclaimed() == []


def test_normalise_keeps_non_latin_letters():
    assert normalise_name("Ўзбек-001") == "ўзбек001"
    assert normalise_name("Dədə Qorqud") == "dədəqorqud"
