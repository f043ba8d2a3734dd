"""SAF output read back with lxml/zipfile and checked field by field against the MARC records
it came from, and its layout against what DSpace's importer (ItemImportServiceImpl) parses."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import pymarc
import pytest
from lxml import etree

from kitab.connectors.base import Conflict, Rejected, Repository
from kitab.connectors.saf import SafConnector, SafWriter, Unsupported
from kitab.model import FileRef, Item, Value, identity_value

ARABIC = "marc21-utf8-arabic-catmandu-oschrift.mrc"
URAIT = "unimarc-rusmarc-utf8-856-urait.iso"


def first_record(path: Path) -> pymarc.Record:
    with path.open("rb") as stream:
        return next(iter(pymarc.MARCReader(stream, to_unicode=True, force_utf8=True)))


def arabic_item(data_dir: Path, scans: list[FileRef]) -> Item:
    """Metadata taken straight from the MARC 21 record, the way a crosswalk would name it."""
    record = first_record(data_dir / ARABIC)
    key = f"{record['003'].data}:{record['001'].data}"
    return Item(
        key=key,
        metadata={
            "dc.title": [Value(record["245"]["a"].strip(), "ar")],
            "dc.contributor.author": [Value(record["110"]["a"])],
            "dc.subject": [Value(f["a"]) for f in record.get_fields("650")],
            "dc.description.abstract": [Value(record["520"]["a"], "ar")],
            "dc.identifier.isbn": [Value(record["020"]["a"])],
            "dc.identifier.other": [Value(identity_value(key))],
            "dcterms.extent": [Value(record["300"]["a"].rstrip(" ;"))],
            "local.marc.controlnumber": [Value(record["001"].data)],
        },
        files=scans,
    )


def urait_item(data_dir: Path) -> Item:
    record = first_record(data_dir / URAIT)
    key = record["001"].data
    return Item(
        key=key,
        metadata={
            "dc.title": [Value(record["200"]["a"], "ru")],
            "dc.contributor.author": [Value(f"{record['700']['a']}, {record['700']['b']}")],
            "dc.subject": [Value(f["a"], "ru") for f in record.get_fields("610")],
            "dc.identifier.other": [Value(identity_value(key))],
        },
    )


@pytest.fixture
def scans(tmp_path: Path) -> list[FileRef]:
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "p001.tif").write_bytes(b"II*\x00" + bytes(range(256)) * 40)
    (folder / "p002.pdf").write_bytes(b"%PDF-1.4\n" + b"page two\n" * 500)
    return [
        FileRef(folder / "p001.tif", description="page 1\twith a tab"),
        FileRef(folder / "p002.pdf", public=False),
    ]


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def dcvalues(document: bytes) -> tuple[str, list[tuple[str, str, str | None, str]]]:
    root = etree.fromstring(document)
    assert root.tag == "dublin_core"
    rows = [
        (v.get("element"), v.get("qualifier"), v.get("language"), v.text)
        for v in root.iterfind("dcvalue")
    ]
    assert len(rows) == len(root), "only dcvalue children are allowed"
    return root.get("schema"), rows


def test_directory_item_field_by_field(tmp_path: Path, data_dir: Path, scans: list[FileRef]):
    record = first_record(data_dir / ARABIC)
    item = arabic_item(data_dir, scans)
    out = tmp_path / "saf"
    with SafWriter(out) as writer:
        folder = writer.write(item, handle="123456789/55", collections=["123456789/2"])

    assert folder == "item_001"
    assert [p.name for p in out.iterdir()] == ["item_001"]  # nothing but item folders
    item_dir = out / folder
    assert sorted(p.name for p in item_dir.iterdir()) == sorted(
        [
            "dublin_core.xml",
            "metadata_dcterms.xml",
            "metadata_local.xml",
            "contents",
            "handle",
            "collections",
            "p001.tif",
            "p002.pdf",
        ]
    )
    assert all(p.is_file() for p in item_dir.iterdir())

    schema, rows = dcvalues((item_dir / "dublin_core.xml").read_bytes())
    assert schema == "dc"
    subjects = [f["a"] for f in record.get_fields("650")]
    assert subjects[0] == "Finance and Investment"
    assert subjects[-1] == "Industry and Services"
    assert len(subjects) == 5
    assert rows == [
        ("title", "none", "ar", "منطقة الشرق الأوسط وشمال أفريقيا المتوسطية 2018"),
        ("contributor", "author", None, "Organisation for Economic Co-operation and Development."),
        *[("subject", "none", None, s) for s in subjects],
        ("description", "abstract", "ar", record["520"]["a"]),
        ("identifier", "isbn", None, "9789264310032"),
        ("identifier", "other", None, "kitab:FR-PaOEC:9789264310032-ar"),
    ]
    assert dcvalues((item_dir / "metadata_dcterms.xml").read_bytes()) == (
        "dcterms",
        [("extent", "none", None, "148 p.")],
    )
    assert dcvalues((item_dir / "metadata_local.xml").read_bytes()) == (
        "local",
        [("marc", "controlnumber", None, "9789264310032-ar")],
    )
    # The importer's contents grammar: name TAB bundle:X [TAB description:…] [TAB permissions:…]
    assert (item_dir / "contents").read_text().splitlines() == [
        "p001.tif\tbundle:ORIGINAL\tdescription:page 1 with a tab",
        "p002.pdf\tbundle:ORIGINAL\tpermissions:-r 'Administrator'",
    ]
    assert (item_dir / "handle").read_text() == "123456789/55\n"
    assert (item_dir / "collections").read_text() == "123456789/2\n"
    for scan in scans:
        assert md5((item_dir / scan.name).read_bytes()) == scan.md5


def test_zip_layout_is_flat_and_readable(tmp_path: Path, data_dir: Path, scans: list[FileRef]):
    target = tmp_path / "batch.zip"
    with SafWriter(target) as writer:
        assert writer.write(arabic_item(data_dir, scans)) == "item_001"
        assert writer.write(urait_item(data_dir)) == "item_002"

    record = first_record(data_dir / URAIT)
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        # item/file only: a deeper entry makes the importer re-root the archive
        assert all(len(n.split("/")) == 2 for n in names)
        assert {n.split("/")[0] for n in names} == {"item_001", "item_002"}
        assert "item_002/contents" not in names  # metadata-only item: no contents file
        schema, rows = dcvalues(archive.read("item_002/dublin_core.xml"))
        assert archive.read("item_001/p002.pdf") == scans[1].path.read_bytes()
        assert archive.getinfo("item_001/p001.tif").compress_type == zipfile.ZIP_STORED
    assert schema == "dc"
    assert rows[0] == ("title", "none", "ru", "ПЕДАГОГИКА И ПСИХОЛОГИЯ НЕНАСИЛИЯ В ОБРАЗОВАНИИ")
    assert rows[1] == ("contributor", "author", None, "Маралов, В. Г.")
    assert [r[3] for r in rows if r[0] == "subject"] == [f["a"] for f in record.get_fields("610")]
    assert rows[-1] == ("identifier", "other", None, "kitab:RU/URAIT/363150")

    # A second run continues the archive instead of overwriting it.
    with SafWriter(target) as writer:
        assert writer.write(urait_item(data_dir)) == "item_003"


def test_connector_rerun_finds_instead_of_duplicating(
    tmp_path: Path, data_dir: Path, scans: list[FileRef]
):
    out = tmp_path / "saf"
    item = arabic_item(data_dir, scans)
    connector = SafConnector(out, collection="123456789/2")
    assert isinstance(connector, Repository)
    assert connector.find(item.key) is None
    created = connector.create(item)
    connector.close()

    again = SafConnector(out)  # a new run: the index is rebuilt from the archive itself
    found = again.find(item.key)
    assert found is not None and found.id == created.id == "item_001"
    assert found.key == item.key
    assert found.metadata == item.metadata
    assert [(f.name, f.checksum, f.size, f.public) for f in found.files] == [
        (s.name, s.md5, s.size, s.public) for s in scans
    ]
    with pytest.raises(Conflict, match="item_001"):
        again.create(item)
    assert [p.name for p in out.iterdir()] == ["item_001"]
    assert (out / "item_001" / "collections").read_text() == "123456789/2\n"


def test_connector_updates_only_what_changed(tmp_path: Path, data_dir: Path, scans: list[FileRef]):
    out = tmp_path / "saf"
    connector = SafConnector(out)
    item = arabic_item(data_dir, scans)
    created = connector.create(item)

    updated = connector.update_metadata(
        created.id,
        {"dc.title": [Value("New title", "en")], "local.marc.controlnumber": []},
    )
    assert updated.metadata["dc.title"] == [Value("New title", "en")]
    assert "local.marc.controlnumber" not in updated.metadata
    assert not (out / "item_001" / "metadata_local.xml").exists()
    for name in ("dc.subject", "dc.description.abstract", "dcterms.extent", "dc.identifier.other"):
        assert updated.metadata[name] == item.metadata[name]

    new_scan = tmp_path / "p001-v2.tif"
    new_scan.write_bytes(b"II*\x00 second scan")
    replaced = connector.replace_file(created.id, created.files[0], FileRef(new_scan))
    assert replaced.position == 0
    assert [f.name for f in connector.list_files(created.id)] == ["p001-v2.tif", "p002.pdf"]
    assert not (out / "item_001" / "p001.tif").exists()

    connector.remove_file(created.id, "p002.pdf")
    connector.remove_file(created.id, "p002.pdf")  # already gone: not an error
    assert [f.checksum for f in connector.list_files(created.id)] == [FileRef(new_scan).md5]
    with pytest.raises(Unsupported):
        connector.withdraw(created.id)


def test_bad_input_is_refused_before_anything_is_written(
    tmp_path: Path, data_dir: Path, scans: list[FileRef]
):
    out = tmp_path / "saf"
    connector = SafConnector(out)
    bad_name = tmp_path / "page\t1.tif"
    bad_name.write_bytes(b"x")
    item = arabic_item(data_dir, [*scans, FileRef(bad_name)])
    with pytest.raises(Rejected, match=re.escape(repr("page\t1.tif"))):
        connector.create(item)
    item = arabic_item(data_dir, scans)
    item.metadata["title"] = [Value("no schema")]
    with pytest.raises(Rejected, match="'title'"):
        connector.create(item)
    assert list(out.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []

    # A MARC control character in a value becomes a space rather than breaking the XML.
    item = urait_item(data_dir)
    item.metadata["dc.title"] = [Value("a\x1fb")]
    connector.create(item)
    assert dcvalues((out / "item_001" / "dublin_core.xml").read_bytes())[1][0][3] == "a b"


def test_zip_cannot_be_changed_in_place(tmp_path: Path, data_dir: Path):
    connector = SafConnector(tmp_path / "batch.zip")
    created = connector.create(urait_item(data_dir))
    with pytest.raises(Unsupported, match="zip"):
        connector.update_metadata(created.id, {"dc.title": [Value("x")]})
    connector.close()
    assert SafConnector(tmp_path / "batch.zip").find("RU/URAIT/363150") is not None
