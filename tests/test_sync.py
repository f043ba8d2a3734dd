"""Two-way sync against the sandboxes: repository edits come back as MARC, nothing is lost.

Edits are made through the repository's own REST API, as its web UI would make them; the pulled
records are read back from the files kitab wrote and compared with the original export.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pymarc
import pytest
from targets import EXAMPLES, RECORDS, DSpaceTarget, OmekaTarget, by_control

from kitab.catalogue import ReadOptions, open_catalogue
from kitab.sync.conflicts import ConflictError, ConflictStore
from kitab.sync.engine import sync
from kitab.sync.pull import pull
from kitab.sync.state import StateStore


def run_sync(target, out: Path, policy: str | None = None):
    if policy is not None:
        text = target.config_file.read_text(encoding="utf-8")
        target.config_file.write_text(
            text.replace("concurrency = 4", f'concurrency = 4\nconflicts = "{policy}"', 1),
            encoding="utf-8",
        )
    config = target.config
    with StateStore(config.state_path) as store:
        return sync(config, config.targets["t"], store, out)


def run_pull(target, out: Path):
    config = target.config
    with StateStore(config.state_path) as store:
        return pull(config, config.targets["t"], store, out)


def pulled_records(out: Path) -> dict[str, pymarc.Record]:
    records = {}
    for path in sorted(out.glob("*.mrc")):
        for record in open_catalogue(path, ReadOptions()):
            records[record.control_number] = record
    return records


def set_title(target, item: dict, title: str) -> None:
    """Replace the item's title in the repository, as a cataloguer would in the UI."""
    field = target.title_field()
    if isinstance(target, DSpaceTarget):
        response = target.session.patch(
            f"{target.sandbox.url}/api/core/items/{item['uuid']}",
            json=[{"op": "replace", "path": f"/metadata/{field}/0/value", "value": title}],
            headers={"X-XSRF-TOKEN": target.csrf},
        )
        assert response.status_code == 200, response.text
        return
    import requests

    url = f"{target.sandbox.url}/api/items/{item['o:id']}"
    current = requests.get(url, params=target.keys).json()
    current[field][0]["@value"] = title
    assert requests.put(url, params=target.keys, json=current).status_code == 200


def edit_export(target, old: str, new: str) -> None:
    export = target.tmp_path / "exports" / "qazax-marc21.xml"
    text = export.read_text(encoding="utf-8")
    assert old in text
    export.write_text(text.replace(old, new), encoding="utf-8")


def fields_by_tag(raw: bytes) -> dict[str, list[bytes]]:
    """The data of every field of an ISO 2709 record, by tag, from its own directory."""
    base = int(raw[12:17])
    directory = raw[24 : base - 1]
    fields: dict[str, list[bytes]] = {}
    for at in range(0, len(directory), 12):
        entry = directory[at : at + 12]
        tag, length, start = entry[:3].decode(), int(entry[3:7]), int(entry[7:12])
        fields.setdefault(tag, []).append(raw[base + start : base + start + length])
    return fields


@pytest.mark.parametrize("kind", ["dspace", "omeka"])
def test_a_title_edited_in_the_repository_comes_back_with_every_other_byte_unchanged(
    kind, request, tmp_path, data_dir, monkeypatch
):
    sandbox = request.getfixturevalue(f"{kind}_sandbox")
    target = (DSpaceTarget if kind == "dspace" else OmekaTarget)(
        sandbox, tmp_path, data_dir, monkeypatch
    )
    assert target.push().outcome == "ok"
    items = by_control(target.items())
    set_title(target, items["UZ-TSH-2002"], "Кеча ва кундуз : тарихий роман")
    set_title(target, items["RU/URAIT/363150"], "Педагогика ненасилия : учебное пособие")
    report = run_pull(target, tmp_path / "pulled")
    assert report.outcome == "ok", report.to_dict()
    assert report.counts["records_pulled"] == 2
    pulled = pulled_records(tmp_path / "pulled")

    unimarc = pulled["UZ-TSH-2002"]
    assert unimarc.marc["200"].get_subfields("a") == ["Кеча ва кундуз"]
    assert unimarc.marc["200"].get_subfields("e") == ["тарихий роман"]
    original = next(
        r
        for r in open_catalogue(EXAMPLES / "catalogue" / "toshkent-unimarc.mrc", ReadOptions())
        if r.control_number == "UZ-TSH-2002"
    )
    before, after = fields_by_tag(original.raw), fields_by_tag(unimarc.raw)
    assert set(before) == set(after)
    for tag in before:
        if tag != "200":
            assert before[tag] == after[tag], tag
    assert original.raw[5:12] == unimarc.raw[5:12] and original.raw[17:24] == unimarc.raw[17:24]

    urait = pulled["RU/URAIT/363150"]
    source = next(
        iter(open_catalogue(data_dir / "unimarc-rusmarc-utf8-856-urait.iso", ReadOptions()))
    )
    assert urait.marc["200"].get_subfields("a") == ["Педагогика ненасилия"]
    assert urait.marc["200"].get_subfields("e") == ["учебное пособие"]
    assert urait.marc["200"].get_subfields("f") == ["Маралов В.Г., Ситаров В.А."]
    before, after = fields_by_tag(source.raw), fields_by_tag(urait.raw)
    for tag in before:
        if tag != "200":
            assert before[tag] == after[tag], tag
    (xml,) = (tmp_path / "pulled").glob("*.xml")
    from_xml = {r.control_number: r for r in open_catalogue(xml, ReadOptions())}
    assert from_xml["UZ-TSH-2002"].marc["200"].get_subfields("a") == ["Кеча ва кундуз"]


def test_edits_to_different_fields_on_both_sides_merge(target, tmp_path):
    target.push()
    set_title(target, by_control(target.items())["000104"], "Oʻtkan kunlar : tarixiy roman")
    edit_export(target, "Oʻzbek romani", "Oʻzbek tarixiy romani")
    pulled, pushed = run_sync(target, tmp_path / "pulled")
    assert pulled.outcome == "ok" and pushed.outcome == "ok", (pulled.to_dict(), pushed.to_dict())
    record = pulled_records(tmp_path / "pulled")["000104"]
    assert record.marc["245"].get_subfields("a", "b") == ["Oʻtkan kunlar :", "tarixiy roman /"]
    assert record.marc["650"].get_subfields("a") == ["Oʻzbek tarixiy romani"]  # the export's
    item = by_control(target.items())["000104"]
    subject = "dc.subject" if target.kind == "dspace" else "dcterms:subject"
    assert "Oʻzbek tarixiy romani" in target.values(item, subject)
    assert target.values(item, target.title_field()) == ["Oʻtkan kunlar : tarixiy roman"]


def test_same_field_on_both_sides_is_a_conflict_and_nothing_is_overwritten(target, tmp_path):
    target.push()
    set_title(target, by_control(target.items())["000101"], "Kitabi Dədə Qorqud : boylar")
    edit_export(target, "dastanlar /", "oğuznamə /")
    _, pushed = run_sync(target, tmp_path / "pulled")
    assert pushed.outcome == "conflicts"
    item = by_control(target.items())["000101"]
    assert target.values(item, target.title_field()) == ["Kitabi Dədə Qorqud : boylar"]
    assert "000101" not in pulled_records(tmp_path / "pulled")
    with StateStore(target.config.state_path) as store:
        (conflict,) = ConflictStore(store).open("t")
    assert conflict.field == target.title_field()
    assert [v.value for v in conflict.catalogue] == ["Kitabi Dədə Qorqud : oğuznamə"]
    assert [v.value for v in conflict.repository] == ["Kitabi Dədə Qorqud : boylar"]
    assert [v.value for v in conflict.base] == ["Kitabi Dədə Qorqud : dastanlar"]

    _, again_pushed = run_sync(target, tmp_path / "pulled-2")
    assert again_pushed.outcome == "conflicts"  # still open, still nobody overwritten
    with StateStore(target.config.state_path) as store:
        assert len(ConflictStore(store).open("t")) == 1
        ConflictStore(store).resolve(conflict.id, "repository", by="Aynur")
        with pytest.raises(ConflictError, match="already resolved by Aynur"):
            ConflictStore(store).resolve(conflict.id, "catalogue")
    run_sync(target, tmp_path / "pulled-3")
    record = pulled_records(tmp_path / "pulled-3")["000101"]
    assert record.marc["245"].get_subfields("b") == ["boylar /"]
    item = by_control(target.items())["000101"]
    assert target.values(item, target.title_field()) == ["Kitabi Dədə Qorqud : boylar"]


@pytest.mark.parametrize("policy", ["catalogue-wins", "repository-wins"])
def test_policies_settle_a_conflict_as_configured(
    policy, omeka_sandbox, tmp_path, data_dir, monkeypatch
):
    target = OmekaTarget(omeka_sandbox, tmp_path, data_dir, monkeypatch)
    target.push()
    set_title(target, by_control(target.items())["000101"], "Kitabi Dədə Qorqud : boylar")
    edit_export(target, "dastanlar /", "oğuznamə /")
    pulled, pushed = run_sync(target, tmp_path / "pulled", policy)
    assert not pulled.conflicts and not pushed.conflicts
    item = by_control(target.items())["000101"]
    titles = target.values(item, target.title_field())
    records = pulled_records(tmp_path / "pulled")
    if policy == "catalogue-wins":
        assert titles == ["Kitabi Dədə Qorqud : oğuznamə"]
        assert "000101" not in records
    else:
        assert titles == ["Kitabi Dədə Qorqud : boylar"]
        assert records["000101"].marc["245"].get_subfields("b") == ["boylar /"]


def test_sync_twice_changes_nothing_the_second_time(target, tmp_path):
    target.push()
    set_title(
        target, by_control(target.items())["000103"], "Почт гутусу : һекајәләр вә фелјетонлар"
    )
    run_sync(target, tmp_path / "first")
    target.sandbox.reset_stats()
    pulled, pushed = run_sync(target, tmp_path / "second")
    assert target.writes() == 0
    assert not list((tmp_path / "second").glob("*.mrc"))
    assert pushed.counts["unchanged"] == RECORDS + 1
    assert pulled.counts.get("records_pulled", 0) == 0


def test_non_latin_text_survives_the_round_trip_exactly(target, tmp_path):
    target.push()
    items = by_control(target.items())
    titles = {
        "000103": "Почт гутусу : һекајәләр",  # Azerbaijani Cyrillic with ә, һ, ј
        "000102": "Xəmsə : beş poema",  # Azerbaijani Latin ə
        "000104": "Oʻtkan kunlar : roman (2-nashr)",  # Uzbek oʻ with U+02BB
    }
    for control, title in titles.items():
        set_title(target, items[control], title)
    run_pull(target, tmp_path / "pulled")
    pulled = pulled_records(tmp_path / "pulled")
    # 000102 had no 245 $b, so the whole edited title stays in $a, with its ISBD ending
    assert pulled["000102"].marc["245"].get_subfields("a") == ["Xəmsə : beş poema /"]
    assert pulled["000104"].marc["245"].get_subfields("b") == ["roman (2-nashr) /"]
    assert "000103" not in pulled  # unchanged: that is its own title
    assert "ʻ" in pulled["000104"].marc["245"]["a"]


def test_deleted_record_withdraws_its_item_and_nothing_is_destroyed(target, tmp_path):
    target.push()
    export = target.tmp_path / "exports" / "qazax-marc21.xml"
    text = export.read_text(encoding="utf-8")
    export.write_text(text.replace("<leader>00812nam", "<leader>00812dam"), encoding="utf-8")
    report = target.push()
    assert report.counts["withdraw"] == 1, report.to_dict()
    item = by_control(target.items())["000103"]  # still there, found by the administrator
    if target.kind == "dspace":
        assert item["withdrawn"] is True
    else:
        assert item["o:is_public"] is False
    target.sandbox.reset_stats()
    assert target.push().counts["unchanged"] == RECORDS + 1
    assert target.writes() == 0


def test_a_record_gone_from_a_full_export_is_withdrawn(
    omeka_sandbox, tmp_path, data_dir, monkeypatch
):
    target = OmekaTarget(omeka_sandbox, tmp_path, data_dir, monkeypatch)
    target.config_file.write_text(
        target.config_file.read_text().replace(
            'path = "exports"', 'path = "exports"\nfull_export = true'
        ),
    )
    target.push()
    (target.tmp_path / "exports" / "urait.iso").unlink()
    report = target.push()
    assert report.counts["withdraw"] == 1
    shutil.copy(
        data_dir / "broken-marc21-utf8-truncated-file-xbib-zdb.mrc", target.tmp_path / "exports"
    )
    (target.tmp_path / "exports" / "toshkent-unimarc.mrc").unlink()
    damaged = target.push()
    assert damaged.counts.get("withdraw", 0) == 0
    assert any("not withdrawn" in note for note in damaged.notes)


def test_conflict_listed_and_resolved_with_a_merged_value_from_the_command_line(
    dspace_sandbox, tmp_path, data_dir, monkeypatch
):
    import json
    import subprocess
    import sys

    target = DSpaceTarget(dspace_sandbox, tmp_path, data_dir, monkeypatch)
    target.push()
    set_title(target, by_control(target.items())["000101"], "Kitabi Dədə Qorqud : boylar")
    edit_export(target, "dastanlar /", "oğuznamə /")
    run_sync(target, tmp_path / "pulled")

    def kitab(*args):
        return subprocess.run(
            [sys.executable, "-m", "kitab", *args, "-c", str(target.config_file)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    listed = kitab("conflicts", "--json")
    assert listed.returncode == 0
    (conflict,) = json.loads(listed.stdout)
    assert conflict["record"].startswith("000101") and conflict["field"] == "dc.title"
    assert conflict["repository"] == ["Kitabi Dədə Qorqud : boylar"]
    merged = "Kitabi Dədə Qorqud : boylar və oğuznamə"
    done = kitab("resolve", str(conflict["id"]), "--value", merged, "--by", "Aynur")
    assert done.returncode == 0, done.stderr
    stale = kitab("resolve", str(conflict["id"]), "--keep", "catalogue")
    assert stale.returncode == 1 and "already resolved by Aynur" in stale.stderr
    assert kitab("conflicts").stdout.strip() == "no open conflicts"

    run_sync(target, tmp_path / "pulled-after")
    item = by_control(target.items())["000101"]
    assert target.values(item, "dc.title") == [merged]
    record = pulled_records(tmp_path / "pulled-after")["000101"]
    assert record.marc["245"].get_subfields("b") == ["boylar və oğuznamə /"]
    target.sandbox.reset_stats()
    run_sync(target, tmp_path / "pulled-quiet")
    assert target.writes() == 0
