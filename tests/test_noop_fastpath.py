"""The no-op fast path: a record whose source, set-up and scans are as when its link was saved
in step is planned ``unchanged`` without being built or mapped, and only then.

Every scenario compares the plan with the fast path against the ordinary plan of the same
state (the fast path switched off for every record), and pushes to a DSpace sandbox over HTTP
to check what the repository receives. The catalogue is real: the sample MARCXML records (read
eagerly, digested from a canonical serialisation) and a real CP1251 ISO 2709 export (read
lazily, digested from its bytes), with the sample scans.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from targets import EXAMPLES, DSpaceTarget

from kitab.catalogue import ReadOptions, open_catalogue
from kitab.catalogue.build import build_record
from kitab.catalogue.charsets import decoder_for
from kitab.catalogue.iso2709 import Chunk, parse_chunk
from kitab.catalogue.keys import record_key
from kitab.model import Flavour, LazyRecord, Value
from kitab.sync.digest import canonical_source
from kitab.sync.plan import Action, planner_for
from kitab.sync.pull import pull
from kitab.sync.state import Link, StateStore, SyncedFile

ISO = "marc21-cp1251-russian-rkp-pymarc.dat"
XML_RECORDS, ISO_RECORDS = 8, 6
ALL = XML_RECORDS + ISO_RECORDS
QAZAX = "AZ-QzxMKS:"  # the sample records' 003


# -- the lazy reader gives exactly what the eager one gave ------------------------------------


@pytest.mark.parametrize("key_field", [None, "035$a"])
def test_lazy_records_have_the_eager_key_control_number_and_fields(data_dir, key_field):
    lazy_seen = 0
    for path in sorted(data_dir.iterdir()):
        for record in open_catalogue(path, ReadOptions(key_field=key_field)):
            if not isinstance(record, LazyRecord):
                continue
            lazy_seen += 1
            key, control, leader = record.key, record.control_number, record.leader
            source = canonical_source(record)
            assert not record.built, (path.name, key)  # none of that needed the record
            data = record.raw[:-1]
            raw = parse_chunk(Chunk(record.source.ordinal, record.source.offset, data))
            lead = raw.leader
            if record.flavour is Flavour.MARC21:
                lead = lead[:9] + "a" + lead[10:]
            warnings: list[str] = []
            eager = build_record(raw, decoder_for(record.encoding), lead, warnings)
            assert warnings == []
            assert record_key(eager, record.flavour, key_field) == key, (path.name, key)
            first = eager.get_fields("001")
            assert control == (first[0].data if first else None), (path.name, key)
            assert leader == str(eager.leader)
            assert record.marc.as_json() == eager.as_json(), (path.name, key)
            assert canonical_source(record) == source
    assert lazy_seen > 300  # every lazily read record of the shared exports was checked


def test_a_stored_link_reads_back_equal_with_its_digest_and_can_be_stamped(tmp_path):
    title = {"dc.title": [Value("Xəmsə", "az")], "dc.date.issued": [Value("1983")]}
    made = Link("t", "AZ-QzxMKS:000102", "item-1", "hash", title, catalogue_base={})
    made.files = [SyncedFile("000102.pdf", "file-1", "md5", 12)]
    made.source_digest = "sealed"
    with StateStore(tmp_path / "state.sqlite") as store:
        store.save_link(made)
        stored = store.get_links("t", [made.key])[made.key]
        assert stored == made and stored.base == title and stored.catalogue_base == {}
        store.stamp_source_digests("t", [(made.key, "newer", stored.updated_at)])
        store.stamp_source_digests("t", [(made.key, "stale", "2000-01-01T00:00:00.000000Z")])
        again = store.get_link("t", made.key)
        assert again.source_digest == "newer" and again.updated_at == stored.updated_at


# -- the fast path against a sandbox ------------------------------------------------------------


class _Everyone:
    """Holds back every record: the planner plans each the ordinary way."""

    def __contains__(self, key: object) -> bool:
        return True


def _summary(action: Action) -> tuple:
    files = action.files
    return (
        action.kind.value,
        sorted(change.field for change in action.changes),
        sorted(f.name for f in files.add),
        sorted(new.name for _, new in files.replace),
        sorted(f.name for f in files.gone),
        action.visibility_changed,
        action.missing_scans,
    )


def plan(site: DSpaceTarget) -> tuple[int, dict[str, tuple]]:
    """(records taken by the fast path, plan by key), after checking that the ordinary
    planner, over the same state, plans every record the same way."""
    config = site.config
    with StateStore(config.state_path) as store:
        fast = planner_for(config, config.targets["t"], store)
        planned = {action.key: _summary(action) for action in fast}
        slow = planner_for(config, config.targets["t"], store)
        slow.held_back = _Everyone()  # type: ignore[assignment]
        assert {action.key: _summary(action) for action in slow} == planned
        assert slow.fast_paths == 0
    return fast.fast_paths, planned


def kinds(planned: dict[str, tuple]) -> dict[str, str]:
    return {key: summary[0] for key, summary in planned.items() if summary[0] != "unchanged"}


@pytest.fixture
def site(dspace_sandbox, tmp_path: Path, data_dir: Path, monkeypatch) -> DSpaceTarget:
    """A DSpace sandbox, a MARC 21 catalogue under a library's crosswalk file, the sample scans
    (a copy, since scenarios add and replace scans), pushed once."""
    exports = tmp_path / "exports"
    exports.mkdir()
    shutil.copy(EXAMPLES / "catalogue" / "qazax-marc21.xml", exports)
    shutil.copy(data_dir / ISO, exports / "rkp.dat")
    shutil.copytree(EXAMPLES / "scans", tmp_path / "scans")
    (tmp_path / "local.toml").write_text('name = "local"\nextends = "marc21-dc"\n')
    site = DSpaceTarget.__new__(DSpaceTarget)
    site.sandbox, site.tmp_path = dspace_sandbox, tmp_path
    site.config_file = tmp_path / "kitab.toml"
    site.config_file.write_text(
        f"""
[catalogue]
path = "exports"
crosswalk = "{tmp_path / "local.toml"}"
[scans]
path = "scans"
match = ["control-number", "856"]
{site.target_toml()}
[[rights]]
when = {{ field = "506$a", matches = "(?i)restricted" }}
files = "private"
""",
        encoding="utf-8",
    )
    site.set_secrets(monkeypatch)
    site.prepare()
    report = site.push()
    assert report.counts["create"] == ALL, report.to_dict()
    return site


def _rkp_keys(data_dir: Path) -> list[str]:
    return sorted(record.key for record in open_catalogue(data_dir / ISO))


def test_an_unchanged_catalogue_takes_the_fast_path_and_sends_nothing(site):
    fast, planned = plan(site)
    assert fast == ALL and kinds(planned) == {}
    site.sandbox.reset_stats()
    report = site.push()
    assert report.counts["unchanged"] == ALL
    assert site.sandbox.stats().get("total", 0) == 0
    scans = site.tmp_path / "scans"  # the Tashkent records are not in this catalogue
    assert set(report.unclaimed_scans) == {
        str(scans / "unsorted-017.png"),
        str(scans / "UZ-TSH-2001.pdf"),
    }
    assert report.missing_scans == []


def test_changed_bytes_of_one_iso_record_send_that_record_only(site):
    export = site.tmp_path / "exports" / "rkp.dat"
    record = list(open_catalogue(export))[2]
    title = record.marc["245"]["a"]
    assert title[0].isalpha()  # the record's own title: "Akademii︠a︡ ..." and so on
    data = bytearray(export.read_bytes())
    raw = record.raw
    base = int(raw[12:17])
    for at in range(24, base - 1, 12):
        if raw[at : at + 3] == b"245":
            start = record.source.offset + base + int(raw[at + 7 : at + 12]) + 4  # ind ind $a
            break
    assert data[start : start + 1] == title[0].encode("cp1251")
    data[start : start + 1] = title[0].swapcase().encode("cp1251")
    export.write_bytes(bytes(data))

    fast, planned = plan(site)
    assert kinds(planned) == {record.key: "update"} and fast == ALL - 1
    assert planned[record.key][1] == ["dc.title"]
    site.sandbox.reset_stats()
    report = site.push()
    assert report.counts["update"] == 1 and site.writes() == 1
    item = site.items()[record.key][0]
    expected = title[0].swapcase() + title[1:]
    assert site.values(item, "dc.title")[0].startswith(expected.rstrip(" /:"))
    assert plan(site)[0] == ALL  # in step again: the update sealed the new digest


def test_a_crosswalk_rule_added_in_the_library_file_replans_everything(site, data_dir):
    # 040 $a (the cataloguing agency) is in every record of the ISO export, in no MARCXML one
    crosswalk = site.tmp_path / "local.toml"
    crosswalk.write_text(
        crosswalk.read_text() + '\n[[map]]\ntag = "040"\nsubfields = "a"\nto = "dc.description"\n'
    )
    fast, planned = plan(site)
    assert fast == 0
    assert sorted(kinds(planned)) == _rkp_keys(data_dir)
    assert {planned[key][1][0] for key in _rkp_keys(data_dir)} == {"dc.description"}
    report = site.push()
    assert report.counts["update"] == ISO_RECORDS and report.counts["unchanged"] == XML_RECORDS
    assert plan(site)[0] == ALL


def test_a_rights_rule_replans_everything_and_hides_the_item(site):
    config = site.config_file.read_text()
    site.config_file.write_text(
        config + '[[rights]]\nwhen = { field = "001", equals = "000102" }\nitem = "private"\n'
    )
    fast, planned = plan(site)
    assert fast == 0 and kinds(planned) == {QAZAX + "000102": "update"}
    assert planned[QAZAX + "000102"][5] is True  # visibility
    report = site.push()
    assert report.counts["update"] == 1
    assert site.items()[QAZAX + "000102"][0]["discoverable"] is False
    assert plan(site)[0] == ALL


def test_an_added_or_replaced_scan_is_seen(site):
    scans = site.tmp_path / "scans"
    shutil.copy(scans / "000104.pdf", scans / "000102.pdf")
    replaced = scans / "UZ-TSH-2001.pdf"
    replaced.write_bytes(b"%PDF-1.4\n% a new scan of the same book\n%%EOF\n")
    fast, planned = plan(site)
    # UZ-TSH-2001 is not in this catalogue: its scan stays unclaimed and changes nothing
    assert kinds(planned) == {QAZAX + "000102": "update"} and fast == ALL - 1
    assert planned[QAZAX + "000102"][2] == ["000102.pdf"]
    (scans / "000104.pdf").write_bytes(b"%PDF-1.4\n% rescanned\n%%EOF\n")
    fast, planned = plan(site)
    assert (
        kinds(planned) == {QAZAX + "000102": "update", QAZAX + "000104": "update"}
        and fast == ALL - 2
    )
    assert planned[QAZAX + "000104"][3] == ["000104.pdf"]
    report = site.push()
    assert report.counts["update"] == 2 and report.counts["files_sent"] == 2
    items = site.items()
    assert items[QAZAX + "000102"][0]["files"] == ["000102.pdf"]
    assert items[QAZAX + "000104"][0]["files"] == ["000104.pdf"]
    assert plan(site)[0] == ALL


def _edit_title_in_repository(site: DSpaceTarget, item: dict, value: str) -> None:
    response = site.session.patch(
        f"{site.sandbox.url}/api/core/items/{item['uuid']}",
        json=[{"op": "replace", "path": "/metadata/dc.title/0", "value": {"value": value}}],
        headers={"X-XSRF-TOKEN": site.csrf},
    )
    assert response.status_code == 200, response.text


def test_a_pull_that_moved_the_bases_replans_the_record(site):
    item = site.items()[QAZAX + "000103"][0]
    _edit_title_in_repository(site, item, "Почт гутусу")
    config = site.config
    with StateStore(config.state_path) as store:
        report = pull(config, config.targets["t"], store, site.tmp_path / "pulled")
        assert report.counts["records_pulled"] == 1, report.to_dict()
        assert store.get_link("t", QAZAX + "000103").source_digest is None
    fast, planned = plan(site)
    assert fast == ALL - 1 and kinds(planned) == {}  # re-planned in full: still nothing to send
    site.sandbox.reset_stats()
    site.push()
    assert site.writes() == 0
    assert plan(site)[0] == ALL  # found in step the ordinary way, and sealed for next time


def test_an_open_conflict_or_intent_keeps_the_record_off_the_fast_path(site):
    item = site.items()[QAZAX + "000102"][0]
    _edit_title_in_repository(site, item, "Xəmsə (repository)")
    export = site.tmp_path / "exports" / "qazax-marc21.xml"
    export.write_text(export.read_text("utf-8").replace("Xəmsə /", "Xəmsə (catalogue) /"), "utf-8")
    report = site.push()
    assert [c["field"] for c in report.conflicts] == ["dc.title"]
    fast, planned = plan(site)
    assert kinds(planned) == {QAZAX + "000102": "update"} and fast == ALL - 1
    export.write_text(export.read_text("utf-8").replace("Xəmsə (catalogue) /", "Xəmsə /"), "utf-8")
    fast, planned = plan(site)  # the catalogue is back as it was: only the conflict holds it
    assert fast == ALL - 1

    config = site.config
    with StateStore(config.state_path) as store:
        store.journal_intent("t", QAZAX + "000105", "update", {}, None)
    assert plan(site)[0] == ALL - 2
