"""The crosswalks on real records: every expected value below was read from the record itself."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from kitab.catalogue import ReadOptions, open_catalogue
from kitab.mappings import (
    load_crosswalk,
    map_record,
    metadata_hash,
    record_to_item,
    render,
)
from kitab.model import Flavour, Record, Value, identity_value


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def read(path: Path, **options: str) -> list[Record]:
    catalogue = open_catalogue(path, ReadOptions(**options))
    return list(catalogue)


def record(data_dir: Path, name: str, n: int, **options: str) -> Record:
    return read(data_dir / name, **options)[n - 1]


def values(metadata, name: str) -> list[tuple[str, str | None]]:
    return [(v.value, v.language) for v in metadata.get(name, [])]


MARC21 = Flavour.MARC21
UNIMARC = Flavour.UNIMARC


@pytest.fixture(scope="module")
def marc21_dc():
    return load_crosswalk("marc21-dc")


@pytest.fixture(scope="module")
def unimarc_dc():
    return load_crosswalk("unimarc-dc")


def test_marc8_cyrillic_880_values_are_tagged_with_the_record_language(data_dir, marc21_dc):
    rec = record(data_dir, "marc21-marc8-cyrillic-880-marc4j.mrc", 1)
    md = map_record(rec, marc21_dc)
    assert values(md, "dc.title") == [
        (nfc("Vor, shpion i ubiĭt︠s︡a"), None),
        ("Вор, шпион и убийца", "ru"),
    ]
    assert values(md, "dc.contributor.author") == [
        (nfc("Buĭda, I︠U︡riĭ"), None),
        ("Буйда, Юрий", "ru"),
    ]
    assert values(md, "dc.description.statementofresponsibility")[1] == ("Юрий Буйда", "ru")
    assert values(md, "dc.identifier.isbn") == [("9785699626076", None), ("5699626077", None)]
    assert values(md, "dc.date.issued") == [("2013", None)]
    assert values(md, "dc.language.iso") == [("rus", None)]
    assert values(md, "dc.subject.ddc") == [("891.7", None)]
    assert values(md, "dc.subject.lcc") == [("PG3479.4.U485 V67 2013", None)]
    assert values(md, "dc.format.extent") == [("314 pages", None)]
    # 490 and 830 say the same series; the 880 says it in Cyrillic
    assert values(md, "dc.relation.ispartofseries") == [
        (nfc("Bolʹshai︠a︡ literatura. Proza I︠U︡rii︠a︡ Buĭdy"), None),
        ("Большая литература. Проза Юрия Буйды", "ru"),
    ]
    assert ("Soviet Union--Social conditions--1945-1991--Fiction", None) in values(md, "dc.subject")
    assert values(md, "dc.identifier.other") == [
        (identity_value(rec.key), None),
        ("(OCoLC)846683294", None),
    ]


def test_marc21_title_keeps_inner_isbd_and_drops_the_trailing_slash(data_dir, marc21_dc):
    rec = record(data_dir, "marc21-marc8-cyrillic-880-marc4j.mrc", 2)
    md = map_record(rec, marc21_dc)
    # ISBD " :" between $a and $b stays, the " /" before $c goes. (The 880 of this record has
    # a MARC-8 escape left open across its subfield delimiters; only 245 is checked here.)
    assert values(md, "dc.title")[0] == ("Sindrom Petrushki : roman", None)
    # two 260s with different publisher spellings, one date
    assert values(md, "dc.publisher") == [(nfc("Ėksmo"), None), (nfc("ĖKSMO"), None)]
    assert values(md, "dc.date.issued") == [("2010", None)]
    assert values(md, "dc.format.extent") == [("427 p.", None)]


def test_marc21_cp1251_udc_and_classification(data_dir, marc21_dc):
    rec = record(data_dir, "marc21-cp1251-russian-rkp-pymarc.dat", 1, encoding="CP1251")
    md = map_record(rec, marc21_dc)
    assert rec.key == "RU-RKP:ru03-000001RKP"
    assert values(md, "dc.subject.udc") == [("624.01:532.5(075.8)", None)]
    assert values(md, "dc.subject.classification") == [("38.1я73", None)]
    assert values(md, "dc.contributor.author") == [("Ильина, Татьяна Николаевна", None)]
    assert values(md, "dc.title") == [
        (
            "Основы гидравлического расчета инженерных сетей [учеб. пособие для вузов по "
            "специальностям <Теплогазоснабжение и вентиляция>, <Водоснабжение и водоотведение>]",
            None,
        )
    ]
    assert values(md, "dc.publisher") == [("Изд-во Ассоц. строит. вузов", None)]
    assert values(md, "dc.identifier.isbn") == [("5930933421", None)]
    assert values(md, "dc.format.extent") == [("186 с.", None)]  # "с." is an abbreviation
    assert values(md, "dc.subject") == [("Трубопроводы--Гидравлический расчет", None)]


def test_marcxml_856_link_and_written_out_date(data_dir, marc21_dc):
    rec = record(data_dir, "marcxml-marc21-single-856-pymarc-utf8.xml", 1)
    md = map_record(rec, marc21_dc)
    assert values(md, "dc.identifier.uri") == [
        ("http://www.aspresolver.com/aspresolver.asp?CLMU;925318", None)
    ]
    assert values(md, "dc.date.issued") == [("2008-11-03", None)]  # 260 $c "03 Nov 2008"
    assert values(md, "dc.title") == [("Zen Classics", None)]
    assert values(md, "dc.title.alternative") == [("Wilfried Hiller: Book of Stars", None)]
    assert values(md, "dc.publisher") == [("Virgin Classics", None)]
    assert values(md, "dc.type") == [("Sound", None)]  # leader/06 j
    assert values(md, "dc.description.tableofcontents") == [("Préludes", None)]


def test_rusmarc_cp1251_title_responsibility_and_names(data_dir, unimarc_dc):
    rec = record(data_dir, "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso", 2)
    md = map_record(rec, unimarc_dc)
    assert values(md, "dc.identifier.other") == [("kitab:RU\\NLR\\bibl\\5996", None)]
    assert values(md, "dc.title") == [("Задачи и этюды : Сб.", "ru")]
    assert values(md, "dc.description.statementofresponsibility") == [
        ("Редкол.: В. Н. Барсуков и др.", None)
    ]
    assert values(md, "dc.contributor.other") == [("Барсуков, В. Н.", None)]
    assert values(md, "dc.publisher") == [("Ut", None)]
    assert values(md, "dc.date.issued") == [("1997", None)]
    assert values(md, "dc.subject") == [("Шахматные композиции--Сборники", None)]
    assert values(md, "dc.subject.classification") == [("Ч515.815я43", None)]


def test_rusmarc_parallel_titles_carry_their_own_language(data_dir, unimarc_dc):
    rec = record(data_dir, "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso", 46)
    md = map_record(rec, unimarc_dc)
    assert values(md, "dc.title") == [("Магадан: история возникновения и развития", "ru")]
    assert values(md, "dc.title.alternative") == [
        ("Magadan: the history of development", "en"),  # 200 $d with $z eng
        ("Magadan: the history of developnemt", "en"),  # 510 $a with $z eng, as catalogued
    ]
    # RUSMARC 700 $g, the full forename, is preferred over the initials in $b
    assert values(md, "dc.contributor.author") == [("Козлов, Александр Григорьевич", None)]
    assert values(md, "dc.description") == [
        ("Авт. также на англ. яз.: A. Kozlov", None),
        ("Рез. на англ. яз.", None),
    ]
    assert values(md, "dc.language.iso") == [("rus", None)]


def test_rusmarc_xml_ukrainian(data_dir, unimarc_dc):
    rec = record(data_dir, "unimarc-rusmarc-xml-rba-ns-ukrainian-xbib.xml", 1, key_field="090$a")
    md = map_record(rec, unimarc_dc)
    assert values(md, "dc.title") == [("Сучасна соціальна філософія", "uk")]
    assert values(md, "dc.contributor.author") == [
        ("Андрущенко, В.П.", None),
        ("Михальченко, М.І.", None),
    ]
    assert values(md, "dc.identifier.isbn") == [("9665040251", None)]  # 966-504-025-1
    assert values(md, "dc.publisher") == [("Генеза", None)]
    assert values(md, "dc.date.issued") == [("1996", None)]
    assert values(md, "dc.format.extent") == [("368 с.", None)]
    assert values(md, "dc.subject.udc") == [("1", None)]  # 675 $a, as the library gave it
    assert values(md, "dc.language.iso") == [("ukr", None)]


def test_unimarc_greek(data_dir, unimarc_dc):
    rec = record(data_dir, "unimarc-utf8-greek-catmandu-dollar.mrc", 2)
    md = map_record(rec, unimarc_dc)
    title = values(md, "dc.title")
    assert title[0][0].startswith("Ψειρολογία : ήτοι, πραγματεία περί των οχληρών ζουζουνίων")
    assert title[0][1] == "el"  # 101 $a gre
    assert values(md, "dc.contributor.author") == [("ΠΕΤΡΟΠΟΥΛΟΣ, ΗΛΙΑΣ", None)]
    assert values(md, "dc.contributor.other") == [("ΕΚΔΟΣΕΙΣ ΝΕΦΕΛΗ", None)]
    assert values(md, "dc.identifier.isbn") == [("9602110821", None)]
    assert values(md, "dc.publisher") == [("Νεφέλη", None)]
    assert values(md, "dc.date.issued") == [("1991", None)]
    assert values(md, "dc.subject.ddc") == [("398.24 ΠΕΤ", None)]
    # 225 and 410 name the same series
    assert values(md, "dc.relation.ispartofseries") == [("Ηλία Πετρόπουλου Άπαντα", None)]
    assert values(md, "dc.language.iso") == [("gre", None)]


def test_unimarc_italian_non_filing_marks_removed(data_dir, unimarc_dc):
    rec = record(data_dir, "unimarc-utf8-sbn-italian-lf-separated-5recs.mrc", 1)
    md = map_record(rec, unimarc_dc)
    assert values(md, "dc.title") == [
        ("Lo Stato innovatore : sfatare il mito del pubblico contro il privato", "it")
    ]
    assert values(md, "dc.title.alternative") == [("The entrepreneurial State", None)]
    assert values(md, "dc.description.statementofresponsibility") == [
        ("Mariana Mazzucato ; traduzione di Fabio Galimberti", None)
    ]
    # $b ", Mariana": the comma the export left in is not doubled
    assert values(md, "dc.contributor.author") == [("Mazzucato, Mariana", None)]
    assert values(md, "dc.contributor.other") == [("Galimberti, Fabio", None)]
    assert values(md, "dc.relation.ispartofseries") == [("Anticorpi ; 43", None)]
    assert values(md, "dc.identifier.isbn") == [("9788858111703", None)]
    assert values(md, "dc.date.issued") == [("2014", None)]
    assert values(md, "dc.subject.ddc") == [("338.45", None)]


def test_rusmarc_urait_link_abstract_edition(data_dir, unimarc_dc):
    rec = record(data_dir, "unimarc-rusmarc-utf8-856-urait.iso", 1)
    md = map_record(rec, unimarc_dc)
    assert values(md, "dc.identifier.isbn") == [("9785991616621", None)]
    assert values(md, "dc.identifier.uri") == [
        (
            "http://www.biblio-online.ru/thematic/?id=urait.content."
            "ED5B6AE6-1279-4F97-BF9C-1152BBB57875&type=c_pub",
            None,
        )
    ]
    assert values(md, "dc.contributor.author") == [("Маралов, Владимир Георгиевич", None)]
    assert values(md, "dc.description.edition") == [("2-е изд., пер. и доп", None)]
    assert md["dc.description.abstract"][0].value.startswith("В пособии даны теоретические")
    assert values(md, "dc.relation.ispartofseries") == [("Бакалавр и магистр. Модуль", None)]
    assert len(values(md, "dc.subject")) == 6


def test_identity_first_and_hash_stable_and_order_sensitive(data_dir, unimarc_dc):
    rec = record(data_dir, "unimarc-rusmarc-utf8-856-urait.iso", 1)
    item = record_to_item(rec, unimarc_dc)
    assert item.key == rec.key
    assert rec.key.endswith("RU/URAIT/363150")
    assert item.files == []
    assert item.metadata["dc.identifier.other"][0] == Value(identity_value(rec.key))
    first = metadata_hash(item.metadata)
    assert first == metadata_hash(map_record(rec, unimarc_dc))
    assert len(first) == 64
    reordered = dict(reversed(list(item.metadata.items())))
    assert metadata_hash(reordered) == first  # field order carries no meaning
    swapped = dict(item.metadata)
    swapped["dc.subject"] = list(reversed(swapped["dc.subject"]))
    assert metadata_hash(swapped) != first  # value order within a field does
    retagged = dict(item.metadata)
    retagged["dc.title"] = [Value(retagged["dc.title"][0].value, "uk")]
    assert metadata_hash(retagged) != first


def test_render_for_omeka_uses_dcterms(data_dir, marc21_dc):
    rec = record(data_dir, "marc21-marc8-cyrillic-880-marc4j.mrc", 1)
    md = map_record(rec, marc21_dc)
    omeka = render(md, "omeka")
    assert omeka["dcterms:title"] == md["dc.title"]
    assert omeka["dcterms:creator"] == md["dc.contributor.author"]
    assert omeka["dcterms:issued"] == [Value("2013")]
    assert omeka["dcterms:isPartOf"] == md["dc.relation.ispartofseries"]
    # identity, ISBNs and other identifiers all land on dcterms:identifier, identity first
    assert omeka["dcterms:identifier"][0] == Value(identity_value(rec.key))
    assert Value("9785699626076") in omeka["dcterms:identifier"]
    assert "dc.title" not in omeka
    assert render(md, "dspace") == md


def test_every_record_in_every_readable_file_maps(data_dir, marc21_dc, unimarc_dc):
    """No record of the shared set makes the engine fail, and each keeps its identity."""
    files = [
        ("marc21-utf8-many856-pymarc-regression45.dat", MARC21, None),
        ("marc21-utf8-alma-bu-100recs-catmandu.mrc", MARC21, None),
        ("marc21-utf8-indic-880-yaz-marccol5.marc", MARC21, None),
        ("marc21-utf8-cjk-880-yaz-marccol1.marc", MARC21, None),
        ("marc21-marc8-cjk-eacc-yaz-marc12.marc", MARC21, None),
        ("marc21-marc8-ansel-diacritics-marc4j-brkrtest.mrc", MARC21, None),
        ("marc21-utf8-arabic-catmandu-oschrift.mrc", MARC21, None),
        ("marcxml-marc21-collection-9recs-marc4j-sample1a.xml", MARC21, None),
        ("marcxml-marc21-in-sru-response-5recs-xbib-lvi.xml", MARC21, None),
        ("unimarc-utf8-serials-sciencespo-first200.mrc", UNIMARC, None),
        ("unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso", UNIMARC, None),
        ("unimarc-utf8-sbn-italian-lf-separated-5recs.mrc", UNIMARC, None),
    ]
    total = 0
    for name, flavour, encoding in files:
        crosswalk = marc21_dc if flavour is MARC21 else unimarc_dc
        for rec in read(data_dir / name, **({"encoding": encoding} if encoding else {})):
            assert rec.flavour is flavour
            md = map_record(rec, crosswalk)
            assert md["dc.identifier.other"][0].value == identity_value(rec.key)
            for field_values in md.values():
                assert all(v.value and v.value == v.value.strip() for v in field_values)
            total += 1
    assert total > 300
