"""`kitab convert` end to end, as a person runs it: a real process, real records, every format."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
OAI_DC = "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc"
DC = "{http://purl.org/dc/elements/1.1/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CYRILLIC_880 = "marc21-marc8-cyrillic-880-marc4j.mrc"
URAIT = "unimarc-rusmarc-utf8-856-urait.iso"


def kitab(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "kitab", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def xsd(data_dir) -> Path:
    return data_dir.parent / "xsd"


@pytest.fixture(scope="module")
def oai_dc_schema(xsd) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(xsd / "oai_dc.xsd")))


def test_dspace_json_is_an_array_of_item_bodies(data_dir):
    done = kitab("convert", data_dir / CYRILLIC_880, "--to", "dspace-json")
    assert done.returncode == 0, done.stderr
    items = json.loads(done.stdout)
    assert len(items) == 2
    first = items[0]
    assert first["inArchive"] is True and first["discoverable"] is True
    assert first["metadata"]["dc.title"] == [
        {"value": "Vor, shpion i ubiĭt︠s︡a", "language": None},
        {"value": "Вор, шпион и убийца", "language": "ru"},
    ]
    assert first["metadata"]["dc.identifier.other"][0] == {
        "value": "kitab:SIRSI:u6015439",
        "language": None,
    }
    assert items[1]["metadata"]["dc.title"][0] == {
        "value": "Sindrom Petrushki : roman",
        "language": None,
    }
    assert b"2 records converted to dspace-json" in done.stderr


def test_omeka_json_uses_dcterms_and_uri_values(data_dir):
    done = kitab("convert", data_dir / URAIT, "--to", "omeka-json")
    assert done.returncode == 0, done.stderr
    [item] = json.loads(done.stdout)
    assert item["o:is_public"] is True
    title = item["dcterms:title"][0]
    assert title["type"] == "literal" and title["property_id"] == "auto"
    assert title["@value"].startswith("ПЕДАГОГИКА И ПСИХОЛОГИЯ НЕНАСИЛИЯ В ОБРАЗОВАНИИ : ")
    assert title["@language"] == "ru"
    assert item["dcterms:creator"] == [
        {"type": "literal", "property_id": "auto", "@value": "Маралов, Владимир Георгиевич"}
    ]
    identifiers = item["dcterms:identifier"]
    assert identifiers[0]["@value"] == "kitab:RU/URAIT/363150"
    assert {"type": "literal", "property_id": "auto", "@value": "9785991616621"} in identifiers
    link = [v for v in identifiers if v["type"] == "uri"]
    assert link == [
        {
            "type": "uri",
            "property_id": "auto",
            "@id": "http://www.biblio-online.ru/thematic/?id=urait.content."
            "ED5B6AE6-1279-4F97-BF9C-1152BBB57875&type=c_pub",
        }
    ]
    assert item["dcterms:issued"][0]["@value"] == "2012"
    assert item["dcterms:isPartOf"][0]["@value"] == "Бакалавр и магистр. Модуль"


@pytest.mark.parametrize(
    ("name", "count"),
    [(CYRILLIC_880, 2), ("unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso", 81)],
)
def test_dc_xml_records_are_valid_oai_dc(data_dir, oai_dc_schema, name, count):
    done = kitab("convert", data_dir / name, "--to", "dc-xml")
    assert done.returncode == 0, done.stderr
    root = etree.fromstring(done.stdout)
    records = root.findall(OAI_DC)
    assert len(records) == count
    for record in records:
        oai_dc_schema.assertValid(etree.ElementTree(record))
    assert all(child.tag == OAI_DC for child in root)


def test_dc_xml_values_and_languages(data_dir):
    done = kitab("convert", data_dir / CYRILLIC_880, "--to", "dc-xml")
    first = etree.fromstring(done.stdout).find(OAI_DC)
    titles = [(e.text, e.get(XML_LANG)) for e in first.findall(f"{DC}title")]
    assert titles == [("Vor, shpion i ubiĭt︠s︡a", None), ("Вор, шпион и убийца", "ru")]
    creators = [e.text for e in first.findall(f"{DC}creator")]
    assert creators == ["Buĭda, I︠U︡riĭ", "Буйда, Юрий"]
    assert [e.text for e in first.findall(f"{DC}date")] == ["2013"]
    assert "kitab:SIRSI:u6015439" in [e.text for e in first.findall(f"{DC}identifier")]


def test_jsonl_is_one_record_per_line_with_identity(data_dir):
    done = kitab(
        "convert", data_dir / "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso", "--to", "jsonl"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode("utf-8").splitlines()
    assert len(lines) == 81
    second = json.loads(lines[1])
    assert second["key"] == "RU\\NLR\\bibl\\5996"
    assert second["identity"] == "kitab:RU\\NLR\\bibl\\5996"
    assert second["flavour"] == "unimarc"
    assert "record 2" in second["source"]
    assert second["metadata"]["dc.title"] == [{"value": "Задачи и этюды : Сб.", "language": "ru"}]


def test_marcxml_goes_to_the_catalogue_writer(data_dir, xsd, tmp_path):
    source = data_dir / "marc21-cp1251-russian-rkp-pymarc.dat"
    out = tmp_path / "records.xml"
    done = kitab("convert", source, "--encoding", "CP1251", "--to", "marcxml", "-o", out)
    assert done.returncode == 0, done.stderr
    schema = etree.XMLSchema(etree.parse(str(xsd / "MARC21slim.xsd")))
    tree = etree.parse(str(out))
    schema.assertValid(tree)
    ns = {"m": "http://www.loc.gov/MARC21/slim"}
    control = tree.xpath("//m:controlfield[@tag='001']/text()", namespaces=ns)
    assert len(control) == 6 and control[0] == "ru03-000001RKP"
    assert (
        tree.xpath("//m:datafield[@tag='100']/m:subfield[@code='a']/text()", namespaces=ns)[0]
        == "Ильина, Татьяна Николаевна"
    )
    on_stdout = kitab("convert", source, "--encoding", "CP1251", "--to", "marcxml")
    assert on_stdout.returncode == 0
    assert on_stdout.stdout == out.read_bytes()


def test_output_file_is_replaced_whole(data_dir, tmp_path):
    out = tmp_path / "items.json"
    out.write_text("old content", encoding="utf-8")
    done = kitab("convert", data_dir / URAIT, "--to", "dspace-json", "-o", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""
    assert len(json.loads(out.read_text(encoding="utf-8"))) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["items.json"]  # no temp files left


def test_broken_records_are_named_and_the_rest_converted(data_dir):
    done = kitab("convert", data_dir / "broken-marc21-bad-directory-marc4j.mrc", "--to", "jsonl")
    assert done.returncode == 1
    lines = done.stdout.decode("utf-8").splitlines()
    stderr = done.stderr.decode("utf-8")
    assert "broken-marc21-bad-directory-marc4j.mrc: record " in stderr
    assert "Traceback" not in stderr
    assert f"{len(lines)} records converted to jsonl, 1 left out" in stderr
    assert len(lines) == 4


def test_local_crosswalk_file_on_the_command_line(data_dir, tmp_path):
    local = tmp_path / "library.toml"
    local.write_text(
        'extends = "unimarc-dc"\n\n[[map]]\nid = "local-price"\ntag = "010"\n'
        'subfields = "d"\nto = "dc.description"\n',
        encoding="utf-8",
    )
    done = kitab("convert", data_dir / URAIT, "--to", "jsonl", "--crosswalk", local)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["metadata"]["dc.description"] == [{"value": "1380.00", "language": None}]


def test_crosswalk_for_the_other_flavour_leaves_records_out(data_dir):
    done = kitab("convert", data_dir / URAIT, "--to", "jsonl", "--crosswalk", "marc21-dc")
    assert done.returncode == 1
    assert done.stdout == b""
    assert "is UNIMARC but crosswalk 'marc21-dc' is for MARC 21" in done.stderr.decode()


def test_crosswalk_mistake_is_a_usage_error_naming_the_line(data_dir, tmp_path):
    local = tmp_path / "bad.toml"
    local.write_text('extends = "marc21-dc"\n\n[[map]]\ntag = "9999"\n', encoding="utf-8")
    done = kitab("convert", data_dir / URAIT, "--to", "jsonl", "--crosswalk", local)
    assert done.returncode == 2
    assert f"{local}:4: rule 1: tag must be three digits" in done.stderr.decode()
    assert b"Traceback" not in done.stderr
