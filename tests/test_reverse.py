"""Reverse crosswalks on real records: repository edits come back into the original MARC.

Every expected subfield below was read from the record itself; the property tests run over
every record of several exports.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest

from kitab.catalogue import open_catalogue
from kitab.mappings import (
    apply_changes,
    default_crosswalk,
    load_crosswalk,
    map_record,
    owned_fields,
    unrender,
)
from kitab.model import Record, Value

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "catalogue"
QAZAX = EXAMPLES / "qazax-marc21.xml"
TOSHKENT = EXAMPLES / "toshkent-unimarc.mrc"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def by_key(path: Path, key: str) -> Record:
    return next(r for r in open_catalogue(path) if r.key == key)


def mapped(record: Record, marc=None) -> dict[str, list[Value]]:
    target = record if marc is None else replace(record, marc=marc)
    return map_record(target, default_crosswalk(record.flavour))


def apply(record: Record, **changes: list[Value]):
    fields = {name.replace("_", "."): values for name, values in changes.items()}
    return apply_changes(record, default_crosswalk(record.flavour), fields)


def subfields(fld) -> list[tuple[str, str]]:
    return [(s.code, s.value) for s in fld.subfields]


def test_marc21_title_edit_rewrites_245_b_with_isbd_punctuation():
    rec = by_key(QAZAX, "AZ-QzxMKS:000101")
    result = apply(rec, dc_title=[Value("Kitabi Dədə Qorqud : boylar və rəvayətlər")])
    assert result.applied == ["dc.title"] and not result.problems
    assert subfields(result.marc["245"]) == [
        ("a", "Kitabi Dədə Qorqud :"),
        ("b", "boylar və rəvayətlər /"),
        ("c", "tərtib edən Şamil Cəmşidov."),
    ]
    assert result.marc["245"].indicators == rec.marc["245"].indicators
    assert mapped(rec, result.marc)["dc.title"] == [
        Value("Kitabi Dədə Qorqud : boylar və rəvayətlər")
    ]
    assert str(rec.marc["245"]).endswith("$bdastanlar /$ctərtib edən Şamil Cəmşidov.")  # input kept


def test_removing_the_subtitle_moves_its_punctuation_to_the_title():
    rec = by_key(QAZAX, "AZ-QzxMKS:000101")
    result = apply(rec, dc_title=[Value("Kitabi Dədə Qorqud")])
    assert subfields(result.marc["245"]) == [
        ("a", "Kitabi Dədə Qorqud /"),
        ("c", "tərtib edən Şamil Cəmşidov."),
    ]


def test_uzbek_title_edit_keeps_the_modifier_letter_apostrophe():
    rec = by_key(QAZAX, "AZ-QzxMKS:000104")
    title = nfc("Oʻtkan kunlar : tarixiy roman")
    result = apply(rec, dc_title=[Value(title)])
    assert result.marc["245"]["b"] == "tarixiy roman /"
    assert result.marc["245"]["a"] == "Oʻtkan kunlar :"
    assert "\u02bb" in result.marc["245"]["a"]
    assert mapped(rec, result.marc)["dc.title"] == [Value(title)]


def test_cyrillic_azerbaijani_title_edit():
    rec = by_key(QAZAX, "AZ-QzxMKS:000103")
    title = "Почт гутусу : һекајәләр вә фелјетонлар"
    result = apply(rec, dc_title=[Value(title)])
    assert result.marc["245"]["b"] == "һекајәләр вә фелјетонлар /"
    assert mapped(rec, result.marc)["dc.title"] == [Value(title)]


def test_unimarc_title_edit_goes_to_200_e_without_punctuation():
    rec = by_key(TOSHKENT, "UZ-TSH-2001")
    before = mapped(rec)["dc.title"]
    assert before == [Value("Alpomish : oʻzbek xalq dostoni", "uz")]
    result = apply(rec, dc_title=[Value("Alpomish : oʻzbek xalq qahramonlik dostoni", "uz")])
    assert result.applied == ["dc.title"]
    assert subfields(result.marc["200"]) == [
        ("a", "Alpomish"),
        ("e", "oʻzbek xalq qahramonlik dostoni"),
        ("f", "aytuvchi Fozil Yoʻldosh oʻgʻli"),
    ]


def test_unimarc_parallel_title_goes_back_to_200_d_and_keeps_its_language():
    rec = by_key(TOSHKENT, "UZ-TSH-2003")
    assert mapped(rec)["dc.title.alternative"] == [Value("Библиотеки Узбекистана", "ru")]
    result = apply(rec, dc_title_alternative=[Value("Библиотеки Республики Узбекистан", "ru")])
    assert result.applied == ["dc.title.alternative"]
    assert result.marc["200"]["d"] == "Библиотеки Республики Узбекистан"
    assert result.marc["200"]["z"] == "rus"
    assert result.marc["510"]["a"] == "Библиотеки Республики Узбекистан"  # the same value, twice


def test_cp1251_rusmarc_title_subtitle(data_dir):
    path = data_dir / "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso"
    rec = by_key(path, "RU\\NLR\\bibl\\5996")
    assert mapped(rec)["dc.title"] == [Value("Задачи и этюды : Сб.", "ru")]
    result = apply(rec, dc_title=[Value("Задачи и этюды : Сборник", "ru")])
    assert subfields(result.marc["200"])[:2] == [("a", "Задачи и этюды"), ("e", "Сборник")]


def test_880_value_goes_back_to_the_880(data_dir):
    rec = next(iter(open_catalogue(data_dir / "marc21-marc8-cyrillic-880-marc4j.mrc")))
    titles = mapped(rec)["dc.title"]
    assert titles[1] == Value("Вор, шпион и убийца", "ru")
    result = apply(rec, dc_title=[titles[0], Value("Вор, шпион и убийца : роман", "ru")])
    assert result.applied == ["dc.title"]
    linked = [f for f in result.marc.get_fields("880") if f["6"].startswith("245")]
    assert subfields(linked[0]) == [
        ("6", "245-02/(N"),
        ("a", "Вор, шпион и убийца : роман /"),
        ("c", "Юрий Буйда."),
    ]
    assert str(result.marc["245"]) == str(rec.marc["245"])


def test_subject_added_and_removed(data_dir):
    rec = by_key(QAZAX, "AZ-QzxMKS:000101")
    assert mapped(rec)["dc.subject"] == [Value("Dastanlar--Azərbaycan")]
    result = apply(rec, dc_subject=[Value("Dastanlar--Azərbaycan"), Value("Eposlar--Oğuzlar")])
    added = result.marc.get_fields("650")[1]
    assert added.indicators == rec.marc["650"].indicators  # shaped like the record's own 650
    assert subfields(added) == [("a", "Eposlar"), ("z", "Oğuzlar.")]
    result = apply(rec, dc_subject=[])
    assert result.applied == ["dc.subject"] and not result.marc.get_fields("650")


def test_new_subject_with_no_neighbour_is_refused_not_guessed():
    rec = by_key(QAZAX, "AZ-QzxMKS:000108")
    assert "dc.subject" not in mapped(rec)
    result = apply(rec, dc_subject=[Value("Qazax (Azərbaycan)--Xəritələr")])
    assert result.applied == []
    assert "several fields (600, 610, 611, 630, 650, 651, 653)" in result.problems[0]


def test_publisher_removed_passes_its_comma_to_the_place():
    rec = by_key(QAZAX, "AZ-QzxMKS:000101")
    result = apply(rec, dc_publisher=[])
    assert subfields(result.marc["260"]) == [("a", "Bakı,"), ("c", "1988.")]
    assert result.notes  # the field stays, for its place and date


def test_language_added_to_041():
    rec = by_key(QAZAX, "AZ-QzxMKS:000101")
    result = apply(rec, dc_language_iso=[Value("aze"), Value("rus")])
    assert result.applied == ["dc.language.iso"]
    assert result.marc["041"].get_subfields("a") == ["aze", "rus"]


@pytest.mark.parametrize(
    ("key", "field", "values", "reason"),
    [
        ("000102", "dc.type", [Value("Image")], "leader"),
        ("000102", "dc.language.iso", [Value("rus")], "008/35-37"),
        ("000102", "dc.title", [Value("Xəmsə"), Value("Pəncgənc")], "245 is not repeatable"),
        ("000102", "dc.contributor", [Value("x")], "maps nothing"),
        ("000102", "dc.contributor.author", [Value("Nizami Gəncəvi"), Value("Rza")], "100 is not"),
        (
            "000101",
            "dc.contributor.author",
            [Value("Cəmşidov, Şamil")],
            "several fields (100, 110, 111)",
        ),
    ],
)
def test_changes_that_cannot_be_placed_are_reported_and_change_nothing(key, field, values, reason):
    rec = by_key(QAZAX, f"AZ-QzxMKS:{key}")
    result = apply_changes(rec, default_crosswalk(rec.flavour), {field: values})
    assert result.applied == []
    assert len(result.problems) == 1 and result.problems[0].startswith(field)
    assert reason in result.problems[0]
    assert [str(f) for f in result.marc.fields] == [str(f) for f in rec.marc.fields]


def test_language_tag_that_the_record_cannot_express_is_refused():
    rec = by_key(QAZAX, "AZ-QzxMKS:000101")
    result = apply(rec, dc_title=[Value("Kitabi Dədə Qorqud : dastanlar", "tr")])
    assert result.applied == [] and "would map to" in result.problems[0]


def test_the_identity_value_is_not_written_into_marc():
    rec = by_key(QAZAX, "AZ-QzxMKS:000101")
    result = apply(rec, dc_identifier_other=mapped(rec)["dc.identifier.other"])
    assert result.unchanged == ["dc.identifier.other"] and not result.applied


ROUND_TRIP_FILES = [
    "marc21-utf8-alma-bu-100recs-catmandu.mrc",
    "marc21-utf8-cjk-880-yaz-marccol1.marc",
    "marc21-cp1251-russian-rkp-pymarc.dat",
    "marc21-marc8-cyrillic-880-marc4j.mrc",
    "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso",
    "unimarc-utf8-sbn-italian-lf-separated-5recs.mrc",
    "marcxml-marc21-collection-9recs-marc4j-sample1a.xml",
]


@pytest.mark.parametrize("name", ROUND_TRIP_FILES)
def test_own_values_change_nothing(data_dir, name):
    for rec in open_catalogue(data_dir / name):
        result = apply(rec, **{k.replace(".", "_"): v for k, v in mapped(rec).items()})
        assert result.applied == [] and result.problems == [], rec.key
        assert [str(f) for f in result.marc.fields] == [str(f) for f in rec.marc.fields]


@pytest.mark.parametrize("name", ROUND_TRIP_FILES)
def test_every_title_edit_maps_back_exactly(data_dir, name):
    applied = 0
    for rec in open_catalogue(data_dir / name):
        titles = mapped(rec).get("dc.title")
        if not titles:
            continue
        wanted = [Value(titles[0].value + " — yangi nəşr", titles[0].language), *titles[1:]]
        result = apply(rec, dc_title=wanted)
        assert mapped(rec, result.marc)["dc.title"] == (wanted if result.applied else titles)
        applied += bool(result.applied)
        assert result.applied or result.problems, rec.key
    assert applied > 0


def test_owned_fields_and_unrender():
    marc21 = load_crosswalk("marc21-dc")
    owned = owned_fields(marc21)
    assert {"dc.title", "dc.subject", "dc.identifier.other", "dc.language.iso"} <= owned
    assert unrender("dcterms:title", "omeka") == ["dc.title"]
    assert unrender("dc.title", "dspace") == ["dc.title"]
    assert unrender("dcterms:creator", "omeka") == ["dc.creator", "dc.contributor.author"]
    identifiers = unrender("dcterms:identifier", "omeka", sorted(owned))
    assert {"dc.identifier.isbn", "dc.identifier.uri"} <= set(identifiers)
