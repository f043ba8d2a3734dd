"""The worked example of docs/crosswalks.md does what the page says, on the sample record."""

from pathlib import Path

from kitab.catalogue import ReadOptions, open_catalogue
from kitab.mappings import load_crosswalk, map_record, render
from kitab.model import Value

ROOT = Path(__file__).resolve().parents[1]


def test_the_local_field_example():
    crosswalk = load_crosswalk(ROOT / "examples" / "crosswalks" / "qazax-local.toml")
    record = next(
        r
        for r in open_catalogue(ROOT / "examples" / "catalogue" / "qazax-marc21.xml", ReadOptions())
        if r.control_number == "000101"
    )
    metadata = map_record(record, crosswalk)
    assert metadata["dc.subject"] == [Value("Dastanlar--Azərbaycan"), Value("Diyarşünaslıq", "az")]
    assert metadata["dc.coverage.spatial"] == [Value("Qazax rayonu")]
    omeka = render(metadata, "omeka")
    assert Value("Diyarşünaslıq", "az") in omeka["dcterms:subject"]
    assert omeka["dcterms:spatial"] == [Value("Qazax rayonu")]
    text = (ROOT / "docs" / "crosswalks.md").read_text(encoding="utf-8")
    example = (ROOT / "examples" / "crosswalks" / "qazax-local.toml").read_text(encoding="utf-8")
    for line in ('tag = "965"', 'to = "dc.coverage.spatial"', 'extends = "marc21-dc"'):
        assert line in text and line in example
