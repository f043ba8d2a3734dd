"""Writing records back: ISO 2709 round trips, MARCXML that validates, and atomic replacement."""

import pytest
from conftest import XSD
from lxml import etree

from kitab.catalogue import ReadOptions, WriteError, open_catalogue, write_records

ROUND_TRIP = [
    "marc21-utf8-alma-bu-100recs-catmandu.mrc",
    "marc21-marc8-ansel-diacritics-marc4j-brkrtest.mrc",
    "marc21-marc8-cjk-eacc-yaz-marc12.marc",
    "marc21-cp1251-russian-rkp-pymarc.dat",
    "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso",
    "unimarc-utf8-sbn-italian-lf-separated-5recs.mrc",
    "marcxml-marc21-collection-9recs-marc4j-sample1a.xml",
]


def content(record):
    """Everything a record says, minus what a UTF-8 rewrite must change (lengths, charset)."""
    out = []
    for f in record.marc.fields:
        if f.is_control_field():
            out.append((f.tag, f.data))
        else:
            subs = [(s.code, s.value) for s in f.subfields]
            if record.flavour.value == "unimarc" and f.tag == "100":
                subs = [(c, v[:26] + v[30:]) for c, v in subs]
            out.append((f.tag, tuple(f.indicators), tuple(subs)))
    return out


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_iso2709_round_trip(tmp_path, data_dir, name):
    original = list(open_catalogue(data_dir / name))
    target = tmp_path / "out.mrc"
    assert write_records(original, target) == len(original)
    again = open_catalogue(target)
    back = list(again)
    assert [r.key for r in back] == [r.key for r in original]
    assert [content(r) for r in back] == [content(r) for r in original]
    assert {r.encoding for r in back} <= {"UTF-8", "ASCII"}
    assert not again.problems  # lengths, offsets and the charset declaration are all right now


def test_unimarc_output_declares_utf8(tmp_path, data_dir):
    records = list(open_catalogue(data_dir / "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso"))
    write_records(records, tmp_path / "out.iso")
    back = next(iter(open_catalogue(tmp_path / "out.iso")))
    assert back.marc["100"]["a"][26:30] == "50  "
    assert back.marc["200"]["a"] == records[0].marc["200"]["a"]


@pytest.mark.parametrize(
    "name",
    [
        "marc21-utf8-alma-bu-100recs-catmandu.mrc",
        "marc21-utf8-cjk-880-yaz-marccol1.marc",
        "marc21-marc8-greek-bad-charset-marc4j.mrc",
        "marcxml-marc21-in-sru-response-5recs-xbib-lvi.xml",
    ],
)
def test_marcxml_output_validates_and_reads_back(tmp_path, data_dir, name):
    records = list(open_catalogue(data_dir / name))
    target = tmp_path / "out.xml"
    write_records(records, target, fmt="marcxml")
    schema = etree.XMLSchema(etree.parse(str(XSD / "MARC21slim.xsd")))
    document = etree.parse(str(target))
    assert schema.validate(document), schema.error_log
    back = list(open_catalogue(target))
    assert [lowered(r) for r in back] == [lowered(r) for r in records]


def lowered(record):
    """Content with indicators lower-cased: Alma's corrupt 999 fields carry 'E' and 'C'."""
    return [
        (f[0], tuple(i.lower() for i in f[1]), f[2]) if len(f) == 3 else f for f in content(record)
    ]


def test_existing_file_is_not_clobbered_on_failure(tmp_path, data_dir):
    records = list(open_catalogue(data_dir / "marc21-utf8-cjk-880-yaz-marccol1.marc"))
    target = tmp_path / "catalogue.mrc"
    target.write_bytes(b"the cataloguer's file")

    def failing():
        yield from records[:5]
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        write_records(failing(), target, overwrite=True)
    assert target.read_bytes() == b"the cataloguer's file"
    assert [p.name for p in tmp_path.iterdir()] == ["catalogue.mrc"]  # no temp file left


def test_existing_file_needs_overwrite_and_is_kept_as_backup(tmp_path, data_dir):
    records = list(open_catalogue(data_dir / "marc21-utf8-oclc-connexion-marc4j.mrc"))
    target = tmp_path / "catalogue.mrc"
    target.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        write_records(records, target)
    write_records(records, target, overwrite=True)
    assert (tmp_path / "catalogue.mrc.bak").read_bytes() == b"old"
    assert next(iter(open_catalogue(target))).key == records[0].key


def test_oversize_field_is_refused_not_written(tmp_path, data_dir):
    (record,) = open_catalogue(data_dir / "marc21-utf8-oclc-connexion-marc4j.mrc")
    record.marc["245"].add_subfield("c", "x" * 10000)
    with pytest.raises(WriteError, match="field 245"):
        write_records([record], tmp_path / "out.mrc")
    assert not list(tmp_path.iterdir())


def test_source_file_is_never_written_in_place(tmp_path, data_dir):
    source = tmp_path / "export.mrc"
    source.write_bytes((data_dir / "marc21-utf8-arabic-catmandu-oschrift.mrc").read_bytes())
    with pytest.raises(FileExistsError):
        write_records(open_catalogue(source, ReadOptions()), source)
    assert (
        source.read_bytes() == (data_dir / "marc21-utf8-arabic-catmandu-oschrift.mrc").read_bytes()
    )
