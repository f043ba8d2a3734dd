"""`kitab inspect` and `kitab check` through click, on the real exports."""

import json

from click.testing import CliRunner

from kitab.cli import main


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_inspect_names_flavour_encoding_and_count(data_dir):
    result = run("inspect", data_dir / "marc21-utf8-alma-bu-100recs-catmandu.mrc")
    assert result.exit_code == 0
    assert "flavour:  MARC 21" in result.output
    assert "encoding: UTF-8" in result.output
    assert "100 read, 0 skipped" in result.output
    assert "record 3 (byte 4435) [99177327110001161]: warning: leader says 1914" in result.output


def test_inspect_json_for_a_legacy_cyrillic_unimarc_file(data_dir):
    path = data_dir / "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso"
    result = run("inspect", "--json", path)
    data = json.loads(result.output)
    assert (data["flavour"], data["encoding"], data["records"]) == ("UNIMARC", "CP1251", 81)
    assert result.exit_code == 0


def test_inspect_reports_a_truncated_record_and_exits_1(data_dir):
    path = data_dir / "broken-marc21-utf8-truncated-file-xbib-zdb.mrc"
    result = run("inspect", "--json", path)
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["records"] == 7 and data["skipped"] == 1
    (problem,) = data["problems"]
    assert problem["position"] == {"file": str(path), "ordinal": 8, "offset": 11484, "line": None}
    assert problem["severity"] == "error"


def test_inspect_overrides(data_dir):
    path = data_dir / "marc21-cp1251-russian-rkp-pymarc.dat"
    forced = json.loads(run("inspect", "--json", "--encoding", "cp866", path).output)
    assert forced["encoding"] == "CP866" and forced["notes"] == []
    flavour = json.loads(run("inspect", "--json", "--flavour", "unimarc", path).output)
    assert flavour["flavour"] == "UNIMARC"
    bad = run("inspect", "--encoding", "klingon", path)
    assert bad.exit_code == 2 and "unknown character encoding" in bad.output


def test_check_passes_a_clean_file_with_warnings(data_dir):
    result = run("check", data_dir / "marc21-cp1251-russian-rkp-pymarc.dat")
    assert result.exit_code == 0
    assert "[RU-RKP:ru03-000001RKP]: warning: 008 is 38 characters, not 40" in result.output
    assert "6 records checked, 0 errors" in result.output


def test_check_finds_duplicates_and_bad_xml(data_dir):
    path = data_dir / "broken-marcxml-not-wellformed-3recs-ruby.xml"
    result = run("check", "--json", path)
    assert result.exit_code == 1
    data = json.loads(result.output)
    reasons = {(p["position"]["ordinal"], p["reason"].split(":")[0]) for p in data["problems"]}
    assert (3, "duplicate key DLC") in reasons
    assert (2, "XML is not well-formed") in reasons
    assert data["errors"] == 2


def test_check_missing_title_and_required_fields(data_dir):
    viniti = run("check", "--json", data_dir / "unimarc-cp866-viniti-nonstandard-ruby.marc")
    assert viniti.exit_code == 1
    reasons = [p["reason"] for p in json.loads(viniti.output)["problems"]]
    assert "no title (200$a)" in reasons
    bad = run(
        "check", "--key-field", "245$a", data_dir / "broken-marc21-various-pymarc-bad_records.mrc"
    )
    assert bad.exit_code == 1
    assert (
        "record 8 (byte 790) [The pragmatic programmer :]: error: missing required field 001"
        in (bad.output)
    )
    assert "record 7 (byte 764): error: record has no fields" in bad.output
