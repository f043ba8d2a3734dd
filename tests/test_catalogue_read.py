"""Reading every real export in /work/shared/data: counts, flavour, encoding, decoded values.

Expected values were read from the bytes themselves (see INDEX.md for what each file is).
"""

import unicodedata

import pytest

from kitab.catalogue import ReadOptions, Severity, open_catalogue
from kitab.model import Flavour

M21, UNI = "MARC 21", "UNIMARC"

# file → (records delivered, records skipped, flavour, main encoding)
EXPECTED = {
    "broken-marc21-bad-directory-marc4j.mrc": (4, 1, M21, "UTF-8"),
    "broken-marc21-bad-leader-10-11-marc4j.mrc": (1, 0, M21, "MARC-8"),
    "broken-marc21-invalid-utf8-ruby.marc": (0, 1, None, None),
    "broken-marc21-utf8-truncated-file-xbib-zdb.mrc": (7, 1, M21, "UTF-8"),
    "broken-marcxml-not-wellformed-3recs-ruby.xml": (2, 1, M21, "UTF-8"),
    "marc21-cp1251-russian-rkp-pymarc.dat": (6, 0, M21, "CP1251"),
    "marc21-marc8-ansel-diacritics-marc4j-brkrtest.mrc": (8, 0, M21, "MARC-8"),
    "marc21-marc8-cjk-eacc-yaz-marc12.marc": (1, 0, M21, "MARC-8"),
    "marc21-marc8-cyrillic-880-marc4j.mrc": (2, 0, M21, "MARC-8"),
    "marc21-marc8-greek-bad-charset-marc4j.mrc": (3, 0, M21, "MARC-8"),
    "marc21-utf8-alma-bu-100recs-catmandu.mrc": (100, 0, M21, "UTF-8"),
    "marc21-utf8-arabic-catmandu-oschrift.mrc": (1, 0, M21, "UTF-8"),
    "marc21-utf8-cjk-880-yaz-marccol1.marc": (19, 0, M21, "UTF-8"),
    "marc21-utf8-indic-880-yaz-marccol5.marc": (11, 0, M21, "UTF-8"),
    "marc21-utf8-many856-pymarc-regression45.dat": (12, 0, M21, "UTF-8"),
    "marc21-utf8-oclc-connexion-marc4j.mrc": (1, 0, M21, "UTF-8"),
    "marcxml-marc21-berber-035-marc4j-azdoud.xml": (1, 0, M21, "UTF-8"),
    "marcxml-marc21-collection-9recs-marc4j-sample1a.xml": (9, 0, M21, "UTF-8"),
    "marcxml-marc21-in-sru-response-5recs-xbib-lvi.xml": (5, 0, M21, "UTF-8"),
    "marcxml-marc21-single-856-pymarc-utf8.xml": (1, 0, M21, "UTF-8"),
    "unimarc-cp866-viniti-nonstandard-ruby.marc": (1, 0, UNI, "CP866"),
    "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso": (81, 0, UNI, "CP1251"),
    "unimarc-rusmarc-utf8-856-urait.iso": (1, 0, UNI, "UTF-8"),
    # no 001 in the rba.ru record: with the default key rule it is reported and skipped
    "unimarc-rusmarc-xml-rba-ns-ukrainian-xbib.xml": (0, 1, None, None),
    "unimarc-utf8-greek-catmandu-dollar.mrc": (2, 0, UNI, "UTF-8"),
    "unimarc-utf8-pymarc-testunimarc.dat": (1, 0, UNI, "UTF-8"),
    "unimarc-utf8-sbn-italian-lf-separated-5recs.mrc": (5, 0, UNI, "UTF-8"),
    # 7 of the first 200 Sciences Po records have no 001
    "unimarc-utf8-serials-sciencespo-first200.mrc": (193, 7, UNI, "UTF-8"),
    # all eight records have no 001 (only a 245): see test_bad_records_* for the structure
    "broken-marc21-various-pymarc-bad_records.mrc": (0, 8, None, None),
}


def read(path, **options):
    catalogue = open_catalogue(path, ReadOptions(**options))
    return list(catalogue), catalogue


def test_every_shared_file_is_covered(data_dir):
    present = {p.name for p in data_dir.iterdir() if p.name not in ("INDEX.md", "SHA256SUMS")}
    assert present == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_flavour_and_encoding(data_dir, name):
    count, skipped, flavour, encoding = EXPECTED[name]
    records, catalogue = read(data_dir / name)
    summary = catalogue.summary
    assert (len(records), summary.records, summary.skipped) == (count, count, skipped)
    errors = [p for p in catalogue.problems if p.severity is Severity.ERROR]
    assert len(errors) == skipped
    for problem in errors:
        assert problem.position.file.endswith(name) and problem.position.ordinal >= 1
    if flavour:
        assert set(summary.flavours) == {flavour}
        named = [n for n, _ in summary.encodings.most_common() if n != "ASCII"]
        assert named[0] == encoding
    for record in records:
        assert record.key and record.source.file.endswith(name)
        for found in record.marc.fields:
            text = found.data if found.is_control_field() else found.value()
            assert unicodedata.is_normalized("NFC", text)


def test_bad_records_each_reported_with_ordinal_offset_and_reason(data_dir):
    records, catalogue = read(
        data_dir / "broken-marc21-various-pymarc-bad_records.mrc", key_field="245$a"
    )
    assert [(r.source.ordinal, r.source.offset) for r in records] == [(1, 0), (8, 790)]
    assert records[0].marc["245"]["b"] == "from journeyman to master /"
    found = [(p.position.ordinal, p.position.offset, p.reason) for p in catalogue.problems]
    assert found == [
        (2, 127, "base address of data 99937 does not point after the directory"),
        (3, 254, "base address of data 0 does not point after the directory"),
        (4, 381, "directory is 13 bytes, not a whole number of 12-byte entries"),
        (5, 509, "directory is 13 bytes, not a whole number of 12-byte entries"),
        (6, 637, "base address of data (leader/12-16) is not a number: 'f0037'"),
        (7, 764, "record has no fields"),
    ]


def test_truncated_file_gives_seven_and_reports_the_eighth(data_dir):
    records, catalogue = read(data_dir / "broken-marc21-utf8-truncated-file-xbib-zdb.mrc")
    assert records[-1].key == "DE-101:010000070"
    (problem,) = catalogue.problems
    assert (problem.position.ordinal, problem.position.offset) == (8, 11484)
    assert "truncated" in problem.reason


def test_invalid_utf8_is_reported_not_crashed(data_dir):
    _, catalogue = read(data_dir / "broken-marc21-invalid-utf8-ruby.marc")
    (problem,) = catalogue.problems
    assert problem.key == "000039829"
    assert "undecodable bytes in field 245" in problem.reason


def test_alma_lying_leaders_are_read_and_reported(data_dir):
    records, catalogue = read(data_dir / "marc21-utf8-alma-bu-100recs-catmandu.mrc")
    third = records[2]
    assert third.source.offset == 4435 and third.encoding == "UTF-8"
    assert third.marc["245"]["a"].startswith("Vichy in the tropics :")
    reasons = [p.reason for p in catalogue.problems if p.position.ordinal == 3]
    assert "leader says 1914 bytes but the record is 1918 up to its terminator" in reasons
    notes = catalogue.summary.notes
    assert any(
        "declared MARC-8, but the bytes are UTF-8" in n and "(16 records)" in n for n in notes
    )


def test_sbn_records_separated_by_newlines(data_dir):
    records, _ = read(data_dir / "unimarc-utf8-sbn-italian-lf-separated-5recs.mrc")
    assert [r.key for r in records] == [
        "CFI0893220", "CFI0899224", "SGE0046714", "MIL0907385", "CFI0012299",
    ]  # fmt: skip
    assert records[1].source.offset == 1435  # after the stray LF
    assert records[4].marc["200"]["a"] == "Storia d'Italia. Annali"


def test_cp1251_marc21_detected_and_reported(data_dir):
    records, catalogue = read(data_dir / "marc21-cp1251-russian-rkp-pymarc.dat")
    assert records[0].marc["245"]["a"].startswith("Основы гидравлического расчета инженерных сетей")
    assert records[0].encoding == "CP1251"
    assert any("declared MARC-8" in p.reason and "CP1251" in p.reason for p in catalogue.problems)


def test_configured_encoding_wins_without_detection(data_dir):
    records, catalogue = read(data_dir / "marc21-cp1251-russian-rkp-pymarc.dat", encoding="koi8-r")
    assert records[0].encoding == "KOI8-R"
    assert not catalogue.summary.notes
    assert not records[0].marc["245"]["a"].startswith("Основы")


def test_marc8_scripts_decode(data_dir):
    greek, _ = read(data_dir / "marc21-marc8-greek-bad-charset-marc4j.mrc")
    assert "Η αγορά στη Μεσόγειο" in greek[1].marc["880"]["a"]  # via &#x...; references
    cyrillic, _ = read(data_dir / "marc21-marc8-cyrillic-880-marc4j.mrc")
    assert cyrillic[0].marc.get_fields("880")[1]["a"] == "Вор, шпион и убийца /"
    eacc, _ = read(data_dir / "marc21-marc8-cjk-eacc-yaz-marc12.marc")
    assert eacc[0].marc.get_fields("880")[1]["a"].startswith("车票去哪儿了")


def test_ansel_diacritics_compose_to_nfc(data_dir):
    records, _ = read(data_dir / "marc21-marc8-ansel-diacritics-marc4j-brkrtest.mrc")
    note = records[1].marc.get_fields("500")[0]["a"]
    assert note.endswith("Polish L in Łódź")
    assert "\u00f3" in note and "\u0301" not in note  # ó as one composed code point


def test_utf8_scripts(data_dir):
    arabic, _ = read(data_dir / "marc21-utf8-arabic-catmandu-oschrift.mrc")
    assert arabic[0].marc["245"]["a"].startswith("منطقة الشرق الأوسط وشمال أفريقيا")
    cjk, _ = read(data_dir / "marc21-utf8-cjk-880-yaz-marccol1.marc")
    assert cjk[0].marc.get_fields("880")[0]["a"] == "半田 市誌."
    indic, _ = read(data_dir / "marc21-utf8-indic-880-yaz-marccol5.marc")
    assert "ইংরাজী - বাংলা" in indic[0].marc.get_fields("880")[1]["a"]


def test_unimarc_cyrillic(data_dir):
    nlr, _ = read(data_dir / "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso")
    assert nlr[1].key == "RU\\NLR\\bibl\\5996"
    assert nlr[1].marc["200"]["a"] == "Задачи и этюды"
    urait, catalogue = read(data_dir / "unimarc-rusmarc-utf8-856-urait.iso")
    assert urait[0].encoding == "UTF-8"
    assert any("declared CP1251, but the bytes are UTF-8" in n for n in catalogue.summary.notes)


def test_viniti_cp866_nonstandard_record(data_dir):
    (record,), catalogue = read(data_dir / "unimarc-cp866-viniti-nonstandard-ruby.marc")
    assert record.flavour is Flavour.UNIMARC and record.encoding == "CP866"
    assert record.marc["021"]["a"].startswith("Автоматизация проектирования и подготовки")
    assert record.marc["003"].data == "Междунар. новости мира пластмасс"
    reasons = " ".join(p.reason for p in catalogue.problems)
    assert "fields read in order" in reasons and "CP866" in reasons


def test_rusmarc_xml_with_configured_key(data_dir):
    (record,), catalogue = read(
        data_dir / "unimarc-rusmarc-xml-rba-ns-ukrainian-xbib.xml", key_field="090$a"
    )
    assert record.key == "52769" and record.flavour is Flavour.UNIMARC
    assert record.marc["200"]["a"] == "Сучасна соціальна філософія"
    assert len(record.marc.fields) == 210
    assert str(record.marc.leader).endswith("450 ")
    assert any("no <leader>" in p.reason for p in catalogue.problems)


def test_marcxml_variants_and_the_003_key_rule(data_dir):
    sru, _ = read(data_dir / "marcxml-marc21-in-sru-response-5recs-xbib-lvi.xml")
    assert sru[0].key == "DE-605:HT014020783"
    sample, _ = read(data_dir / "marcxml-marc21-collection-9recs-marc4j-sample1a.xml")
    assert sample[0].key == "NBYdb:370589"
    berber, _ = read(data_dir / "marcxml-marc21-berber-035-marc4j-azdoud.xml")
    assert "Timstiyin n wanziw n tmazig̳t" in berber[0].marc["245"].value()  # g + U+0333
    assert "ⵜⵉⵎⵙⵜⵉⵢⵉⵏ ⵏ ⵡⴰⵏⵣⵉⵡ" in berber[0].marc["880"].value()  # Tifinagh


def test_not_wellformed_xml_recovers_the_record_after_the_fault(data_dir):
    records, catalogue = read(data_dir / "broken-marcxml-not-wellformed-3recs-ruby.xml")
    assert [(r.source.ordinal, r.source.line) for r in records] == [(1, 3), (3, 108)]
    (problem,) = catalogue.problems
    assert (problem.position.ordinal, problem.position.line) == (2, 72)
    assert "recovery mode, 1 record recovered" in catalogue.summary.notes[0]


def test_flavour_override(data_dir):
    records, _ = read(data_dir / "unimarc-utf8-pymarc-testunimarc.dat", flavour=Flavour.MARC21)
    assert records[0].flavour is Flavour.MARC21


def test_folder_reads_every_file_sorted_skipping_hidden(tmp_path, data_dir):
    for name in ("b.mrc", "a.xml", ".hidden.mrc"):
        source = {
            "b.mrc": "marc21-utf8-oclc-connexion-marc4j.mrc",
            "a.xml": "marcxml-marc21-single-856-pymarc-utf8.xml",
            ".hidden.mrc": "marc21-utf8-arabic-catmandu-oschrift.mrc",
        }[name]
        (tmp_path / name).symlink_to(data_dir / source)
    (tmp_path / "notes.txt").write_text("not a catalogue")
    records, catalogue = read(tmp_path)
    assert [r.source.file.rsplit("/", 1)[1] for r in records] == ["a.xml", "b.mrc"]
    assert catalogue.summary.files == 3
    (problem,) = catalogue.problems
    assert problem.position.file.endswith("notes.txt") and "not a MARC file" in problem.reason


def test_bad_options_fail_before_reading(data_dir):
    with pytest.raises(ValueError, match="unknown character encoding"):
        open_catalogue(data_dir, ReadOptions(encoding="no-such-code"))
    with pytest.raises(ValueError, match="key field"):
        open_catalogue(data_dir, ReadOptions(key_field="245$ab"))


def test_iso5426_diacritics_move_after_their_letter():
    # No real ISO 5426 export exists in the shared data; these bytes follow ISO-IR 53:
    # 0xC2 acute and 0xCF caron precede their letter, 0xE8 is Ł, 0xA9/0xB9 are quotes.
    from kitab.catalogue.iso5426 import decode_iso5426

    text = decode_iso5426(b"\xe8\xc2od\xc2z \xa9Dvo\xcfr\xc2ak\xb9\x1fbx")
    assert text == "Łódź ‘Dvořák’\x1fbx"
    assert unicodedata.is_normalized("NFC", text)
