"""The Omeka S connector against the Omeka S sandbox, over real HTTP on 127.0.0.1.

Items are built from real records (the project's sample catalogue and the shared MARC files) and
the project's sample scans; every check reads the item back with plain ``requests`` calls, as a
person looking at the Omeka S API would, rather than trusting the connector's own answers.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pymarc
import pytest
import requests

from kitab.connectors.base import AuthError, NotFound, Repository, Unavailable
from kitab.connectors.http import HttpClient, RetryPolicy
from kitab.connectors.omeka import OmekaConnector, OmekaSettings
from kitab.connectors.secrets import SecretSource
from kitab.model import FileRef, Item, Value
from kitab.sandbox.omeka import start

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCANS = EXAMPLES / "scans"
PAGES = SCANS / "000101"
KEY = "kitab"  # the sandbox's key identity and credential
FAST = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.05, jitter=0.0, read_timeout=10)
LANGUAGES = {"aze": "az", "uzb": "uz", "rus": "ru"}


# --- records and items ----------------------------------------------------------------------


def _sample_records() -> dict[str, pymarc.Record]:
    records = pymarc.parse_xml_to_array(str(EXAMPLES / "catalogue" / "qazax-marc21.xml"))
    return {r["001"].data: r for r in records}


RECORDS = _sample_records()


def _clean(text: str) -> str:
    return text.rstrip(" :/;,.")


def item_for(control_number: str, *files: Path, private_files: int = 0) -> Item:
    """What the mapping room would hand over for a sample record: Omeka terms, language tags
    from 008/35-37, the rights rule from 506 (a restriction makes the item private)."""
    record = RECORDS[control_number]
    language = LANGUAGES.get(record["008"].data[35:38])
    metadata = {"dcterms:title": [Value(_clean(record["245"]["a"]), language)]}
    for tag, term in (("100", "dcterms:creator"), ("020", "dcterms:identifier")):
        metadata[term] = [Value(_clean(f["a"])) for f in record.get_fields(tag)]
    refs = [FileRef(path, public=i >= private_files) for i, path in enumerate(files)]
    key = f"{record['003'].data}-{control_number}"
    return Item(key=key, metadata=metadata, files=refs, public=not record.get_fields("506"))


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def sb(omeka_sandbox):
    return omeka_sandbox


def connector(sb, *, http: HttpClient | None = None, **changes) -> OmekaConnector:
    """A connector reading its keys from the environment, as kitab.toml would set it up."""
    settings = OmekaSettings(
        **{
            "url": sb.url,
            "key_identity": SecretSource("Omeka S key_identity", env="KITAB_TEST_OMEKA_IDENTITY"),
            "key_credential": SecretSource(
                "Omeka S key_credential", env="KITAB_TEST_OMEKA_CREDENTIAL"
            ),
            "item_set": sb.item_set_id,
            **changes,
        }
    )
    return OmekaConnector(settings, FAST, http=http)


@pytest.fixture
def omeka(sb, monkeypatch):
    monkeypatch.setenv("KITAB_TEST_OMEKA_IDENTITY", KEY)
    monkeypatch.setenv("KITAB_TEST_OMEKA_CREDENTIAL", KEY)
    repo = connector(sb)
    yield repo
    repo.close()


def api(sb, method: str, path: str, *, anonymous: bool = False, **kwargs) -> requests.Response:
    """A plain request to the sandbox, as a person (or the admin UI) would make it."""
    params = dict(kwargs.pop("params", {}))
    if not anonymous:
        params.update(key_identity=KEY, key_credential=KEY)
    return requests.request(method, f"{sb.url}/api/{path}", params=params, timeout=10, **kwargs)


def read(sb, path: str, **kwargs) -> dict:
    response = api(sb, "GET", path, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def values(rep: dict, term: str) -> list[tuple]:
    return [(v.get("@value") or v.get("@id"), v.get("@language")) for v in rep.get(term, [])]


def media_of(sb, item_id: str) -> list[dict]:
    """The item's media in the item's own display order."""
    return [read(sb, f"media/{ref['o:id']}") for ref in read(sb, f"items/{item_id}")["o:media"]]


def sha256_of(path: Path) -> str:
    return FileRef(path).sha256


# --- tests ----------------------------------------------------------------------------------


def test_connector_is_a_repository(omeka):
    assert isinstance(omeka, Repository)
    assert omeka.identity_field == "dcterms:identifier"
    assert omeka.checksum_algorithm == "SHA-256"


def test_create_sends_values_languages_and_files_in_one_request(sb, omeka):
    omeka.create(item_for("000102"))  # the per-run look-ups (key, terms, class) happen here
    sb.reset_stats()

    item = item_for("000101", PAGES / "page1.png", PAGES / "page2.png")
    created = omeka.create(item)

    stats = sb.stats()
    assert stats.get("POST") == 1 and stats["total"] == 1  # one multipart request, nothing else
    rep = read(sb, f"items/{created.id}")
    assert values(rep, "dcterms:title") == [("Kitabi Dədə Qorqud", "az")]
    assert values(rep, "dcterms:identifier") == [
        ("5-8240-0234-X", None),
        ("kitab:AZ-QzxMKS-000101", None),
    ]
    assert [s["o:id"] for s in rep["o:item_set"]] == [sb.item_set_id]
    assert rep["o:is_public"] is True
    media = media_of(sb, created.id)
    assert [m["o:source"] for m in media] == ["page1.png", "page2.png"]
    assert [m["o:sha256"] for m in media] == [
        sha256_of(PAGES / "page1.png"),
        sha256_of(PAGES / "page2.png"),
    ]
    assert [(f.id, f.checksum) for f in created.files] == [
        (str(m["o:id"]), m["o:sha256"]) for m in media
    ]
    assert created.key == "AZ-QzxMKS-000101"
    assert created.url == f"{sb.url}/admin/item/{created.id}"
    # the connector's own reading agrees with the server's
    again = omeka.get(created.id)
    assert again.metadata["dcterms:title"] == [Value("Kitabi Dədə Qorqud", "az")]
    assert [(f.name, f.size) for f in again.files] == [
        ("page1.png", (PAGES / "page1.png").stat().st_size),
        ("page2.png", (PAGES / "page2.png").stat().st_size),
    ]


def test_find_is_exact_and_case_sensitive(omeka):
    created = omeka.create(item_for("000104"))
    found = omeka.find("AZ-QzxMKS-000104")
    assert found is not None and found.id == created.id
    assert found.metadata["dcterms:title"] == [Value("Oʻtkan kunlar", "uz")]
    assert found.metadata["dcterms:creator"] == [Value("Qodiriy, Abdulla")]
    assert omeka.find("az-qzxmks-000104") is None  # Omeka's eq ignores case; kitab does not
    assert omeka.find("AZ-QzxMKS-000104-2") is None


def test_a_value_added_in_the_ui_survives_an_update(sb, omeka):
    created = omeka.create(item_for("000103", PAGES / "page1.png", PAGES / "page2.png"))
    # A cataloguer adds a private note and a link in the UI: Omeka's form saves every value.
    rep = read(sb, f"items/{created.id}")
    description_id = read(sb, "properties?term=dcterms:description")[0]["o:id"]
    source_id = read(sb, "properties?term=dcterms:source")[0]["o:id"]
    ui_values = {k: v for k, v in rep.items() if ":" in k and not k.startswith(("o:", "@"))}
    ui_values["dcterms:description"] = [
        {
            "type": "literal",
            "property_id": description_id,
            "@value": "Qeyd: nüsxə zədəlidir",
            "@language": "az",
            "is_public": False,
        }
    ]
    ui_values["dcterms:source"] = [
        {"type": "uri", "property_id": source_id, "@id": "https://www.anl.az/", "o:label": "ANL"}
    ]
    answer = api(sb, "PATCH", f"items/{created.id}", json={**ui_values, "o:media": rep["o:media"]})
    assert answer.status_code == 200, answer.text
    media_before = [m["o:id"] for m in read(sb, f"items/{created.id}")["o:media"]]

    updated = omeka.update_metadata(created.id, {"dcterms:title": [Value("Почт гутусу", "az")]})

    after = read(sb, f"items/{created.id}")
    assert values(after, "dcterms:title") == [("Почт гутусу", "az")]
    assert values(after, "dcterms:creator") == [("Мәммәдгулузадә, Ҹәлил", None)]
    note = after["dcterms:description"][0]
    assert (note["@value"], note["@language"], note["is_public"]) == (
        "Qeyd: nüsxə zədəlidir",
        "az",
        False,
    )
    assert (after["dcterms:source"][0]["@id"], after["dcterms:source"][0]["o:label"]) == (
        "https://www.anl.az/",
        "ANL",
    )
    assert [m["o:id"] for m in after["o:media"]] == media_before  # no media lost or moved
    assert [s["o:id"] for s in after["o:item_set"]] == [sb.item_set_id]
    assert updated.metadata["dcterms:description"] == [Value("Qeyd: nüsxə zədəlidir", "az")]
    assert [f.id for f in updated.files] == [str(i) for i in media_before]


def test_removing_a_term_keeps_the_identity_and_the_rest(sb, omeka):
    created = omeka.create(item_for("000102", PAGES / "page3.png"))
    omeka.update_metadata(
        created.id, {"dcterms:creator": [], "dcterms:identifier": [Value("9789952340019")]}
    )
    after = read(sb, f"items/{created.id}")
    assert "dcterms:creator" not in after
    assert values(after, "dcterms:identifier") == [
        ("9789952340019", None),
        ("kitab:AZ-QzxMKS-000102", None),  # kitab's identity is never dropped
    ]
    assert values(after, "dcterms:title") == [("Xəmsə", "az")]
    assert len(after["o:media"]) == 1


def test_late_files_go_last_and_the_same_bytes_are_not_stored_twice(sb, omeka):
    created = omeka.create(item_for("000101", PAGES / "page1.png", PAGES / "page2.png"))
    title_before = values(read(sb, f"items/{created.id}"), "dcterms:title")

    added = omeka.add_file(created.id, FileRef(PAGES / "page3.png"))

    media = media_of(sb, created.id)
    assert [m["o:source"] for m in media] == ["page1.png", "page2.png", "page3.png"]
    assert added.id == str(media[2]["o:id"]) and added.position == 2
    assert added.checksum == sha256_of(PAGES / "page3.png")
    after = read(sb, f"items/{created.id}")
    assert after["o:primary_media"]["o:id"] == media[0]["o:id"]
    assert values(after, "dcterms:title") == title_before  # the re-ordering kept the values

    sb.reset_stats()
    again = omeka.add_file(created.id, FileRef(PAGES / "page3.png"))
    assert again.id == added.id
    assert sb.stats().get("writes", 0) == 0
    assert len(media_of(sb, created.id)) == 3
    assert [f.name for f in omeka.list_files(created.id)] == ["page1.png", "page2.png", "page3.png"]


def test_replace_keeps_the_place_and_remove_takes_one(sb, omeka):
    created = omeka.create(
        item_for("000101", PAGES / "page1.png", PAGES / "page2.png", PAGES / "page3.png")
    )
    old = omeka.list_files(created.id)[1]

    new = omeka.replace_file(created.id, old, FileRef(PAGES / "page10.png"))

    assert [m["o:source"] for m in media_of(sb, created.id)] == [
        "page1.png",
        "page10.png",
        "page3.png",
    ]
    assert new.position == 1 and new.checksum == sha256_of(PAGES / "page10.png")
    assert api(sb, "GET", f"media/{old.id}").status_code == 404

    first = omeka.list_files(created.id)[0]
    omeka.remove_file(created.id, first.id)
    assert [m["o:source"] for m in media_of(sb, created.id)] == ["page10.png", "page3.png"]
    omeka.remove_file(created.id, first.id)  # already gone: not an error
    assert values(read(sb, f"items/{created.id}"), "dcterms:title") == [
        ("Kitabi Dədə Qorqud", "az")
    ]


def test_a_file_of_another_item_is_not_removed(sb, omeka):
    one = omeka.create(item_for("000101", PAGES / "page1.png"))
    other = omeka.create(item_for("000102"))
    with pytest.raises(NotFound, match="not a file of item"):
        omeka.remove_file(other.id, one.files[0].id)
    assert len(media_of(sb, one.id)) == 1


def test_rights_rules_make_items_and_files_private(sb, omeka):
    restricted = item_for("000108", SCANS / "maps" / "qazax-1935.tif")  # 506: reading room only
    assert restricted.public is False
    created = omeka.create(restricted)
    assert api(sb, "GET", f"items/{created.id}", anonymous=True).status_code == 404
    assert read(sb, f"items/{created.id}")["o:is_public"] is False

    partly = omeka.create(
        item_for("000101", PAGES / "page1.png", PAGES / "page2.png", private_files=1)
    )
    media = media_of(sb, partly.id)
    assert [m["o:is_public"] for m in media] == [False, True]
    anonymous = api(sb, "GET", "media", anonymous=True, params={"item_id": partly.id}).json()
    assert [m["o:source"] for m in anonymous] == ["page2.png"]

    omeka.withdraw(partly.id)
    assert api(sb, "GET", f"items/{partly.id}", anonymous=True).status_code == 404
    kept = read(sb, f"items/{partly.id}")
    assert len(kept["o:media"]) == 2 and values(kept, "dcterms:title")
    assert omeka.get(partly.id).public is False
    omeka.set_public(partly.id, True)
    assert api(sb, "GET", f"items/{partly.id}", anonymous=True).status_code == 200


def test_changed_since_reads_a_timestamp_with_an_offset(sb, omeka):
    created = omeka.create(item_for("000106"))
    modified = omeka.get(created.id).modified
    assert modified is not None and modified.isoformat().endswith("+00:00")

    assert [i.id for i in omeka.changed_since(modified)] == [created.id]
    assert [i.id for i in omeka.changed_since(modified + timedelta(seconds=1))] == []
    items = list(omeka.changed_since(modified - timedelta(days=1)))
    assert [i.key for i in items] == ["AZ-QzxMKS-000106"]


def test_every_page_is_read(sb, omeka, data_dir):
    paged = connector(sb, per_page=4)
    with (data_dir / "marc21-utf8-indic-880-yaz-marccol5.marc").open("rb") as stream:
        records = list(pymarc.MARCReader(stream, to_unicode=True))
    for record in records:
        title = _clean(record["245"]["a"])
        paged.create(
            Item(key=record["001"].data.strip(), metadata={"dcterms:title": [Value(title)]})
        )
    sb.reset_stats()

    items = list(paged.iter_items())

    assert len(items) == 11
    assert items[2].metadata["dcterms:title"] == [Value("Thirukkural")]
    assert items[10].key == "14879015"
    assert sb.stats()["GET"] == 3  # three pages of four, no media to read
    paged.close()


def test_names_are_resolved_through_the_api_once_per_run(sb, omeka):
    named = connector(
        sb,
        item_set="kitab sandbox",
        resource_template="Base Resource",
        resource_class="dctype:Text",
    )
    items = [item_for(n) for n in ("000101", "000102", "000103", "000104", "000105", "000106")]
    with ThreadPoolExecutor(max_workers=4) as pool:
        created = list(pool.map(named.create, items))
    # key check 1; item set 2 (dcterms:title, then the set); template 1; class 1;
    # dcterms:identifier and dcterms:creator 1 each. Never once per thread or per item.
    assert sb.stats()["GET"] == 7 and sb.stats()["POST"] == 6
    template = read(sb, "resource_templates", params={"label": "Base Resource"})[0]["o:id"]
    text = read(sb, "resource_classes", params={"term": "dctype:Text"})[0]["o:id"]
    for remote in created:
        rep = read(sb, f"items/{remote.id}")
        assert [s["o:id"] for s in rep["o:item_set"]] == [sb.item_set_id]
        assert rep["o:resource_template"]["o:id"] == template
        assert rep["o:resource_class"]["o:id"] == text
    assert sorted(r.key for r in created) == sorted(i.key for i in items)

    sb.reset_stats()
    with pytest.raises(NotFound, match="no property 'dcterms:nonsense'"):
        named.create(Item("X-1", {"dcterms:nonsense": [Value("x")]}))
    assert sb.stats().get("writes", 0) == 0
    named.close()


def test_a_wrong_key_is_refused_before_any_write(sb, monkeypatch):
    secret = "Zq8wrongCredential0000000000000x"
    monkeypatch.setenv("KITAB_TEST_OMEKA_IDENTITY", KEY)
    monkeypatch.setenv("KITAB_TEST_OMEKA_CREDENTIAL", secret)
    repo = connector(sb)
    sb.reset_stats()
    with pytest.raises(AuthError) as caught:
        repo.create(item_for("000101", PAGES / "page1.png"))
    message = str(caught.value)
    assert "not accept the API key" in message and "$KITAB_TEST_OMEKA_IDENTITY" in message
    assert secret not in message
    assert sb.stats().get("writes", 0) == 0
    repo.close()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_keys_never_reach_logs_or_errors(tmp_path, monkeypatch, caplog):
    identity, credential = "IdQ3tX9kLm2Vb7Np4Rs8Tw1Yz5Ac6De0", "CrW7pL2nHq9Jk4Mx8Bv3Gf6Ts1Zr5Yu0"
    wrong = "WrongB8cX2vN5mQ7kJ3hG9fD4sA6pL1o"
    sb = start(tmp_path / "keys", key_identity=identity, key_credential=credential)
    monkeypatch.setenv("KITAB_TEST_OMEKA_IDENTITY", identity)
    monkeypatch.setenv("KITAB_TEST_OMEKA_CREDENTIAL", credential)
    collect = _Collect()
    names = ("urllib3", "urllib3.connectionpool", "requests", "kitab", "kitab.connectors.omeka")
    for name in names:
        logging.getLogger(name).addHandler(collect)
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    try:
        repo = connector(sb, per_page=1)
        created = repo.create(item_for("000107", PAGES / "page1.png"))
        repo.create(item_for("000105"))
        assert len(list(repo.iter_items())) == 2  # one per page: the Link header repeats the keys
        repo.update_metadata(created.id, {"dcterms:title": [Value("Jurnal", "az")]})
        repo.remove_file(created.id, created.files[0].id)  # the HTML 500 of Omeka 4.0
        with pytest.raises(NotFound) as caught:
            repo.get("999999")
        errors.append(str(caught.value))
        sb.injector.plan.fail_next = 10
        with pytest.raises(Unavailable) as caught:
            repo.get(created.id)
        errors.append(str(caught.value))
        sb.injector.plan.fail_next = 0
        repo.close()

        monkeypatch.setenv("KITAB_TEST_OMEKA_CREDENTIAL", wrong)
        refused = connector(sb)
        with pytest.raises(AuthError) as caught:
            refused.find("AZ-QzxMKS-000107")
        errors.append(str(caught.value))
        refused.close()
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(collect)
        sb.stop()

    logged = collect.lines + [r.getMessage() for r in caplog.records]
    assert any("key_credential=***" in line for line in logged)  # URLs were logged, scrubbed
    leaks = re.compile(rf"key_(identity|credential)=(?!\*\*\*)|{identity}|{credential}|{wrong}")
    assert [line for line in logged + errors if leaks.search(line)] == []
    assert "GET /api/items/999999" in errors[0]


def test_delete_answering_html_500_is_read_again(sb, omeka, tmp_path):
    created = omeka.create(item_for("000101", PAGES / "page1.png", PAGES / "page2.png"))
    first = created.files[0]
    raw = api(sb, "DELETE", f"media/{created.files[1].id}")  # what Omeka 4.0.4 answers
    assert raw.status_code == 500 and raw.headers["Content-Type"].startswith("text/html")
    sb.reset_stats()

    omeka.remove_file(created.id, first.id)

    assert read(sb, f"items/{created.id}")["o:media"] == []
    assert sb.stats().get("DELETE") == 1  # not repeated: the re-read showed it was done

    modern = start(tmp_path / "omeka-4.2", version="4.2.0")  # DELETE answers 200 since 4.2
    try:
        repo = connector(modern)
        again = repo.create(item_for("000101", PAGES / "page1.png"))
        modern.reset_stats()
        repo.remove_file(again.id, again.files[0].id)
        assert modern.stats().get("DELETE") == 1 and modern.stats()["GET"] == 1
        assert read(modern, f"items/{again.id}")["o:media"] == []
        repo.close()
    finally:
        modern.stop()


def test_retry_after_is_honoured_then_failure_is_reported(sb, monkeypatch):
    monkeypatch.setenv("KITAB_TEST_OMEKA_IDENTITY", KEY)
    monkeypatch.setenv("KITAB_TEST_OMEKA_CREDENTIAL", KEY)
    slept: list[float] = []
    repo = connector(sb, http=HttpClient(policy=FAST, sleep=slept.append))
    created = repo.create(item_for("000104", SCANS / "000104.pdf"))

    sb.injector.plan.retry_after = 2
    sb.injector.plan.fail_next = 2  # two 503s with Retry-After: 2, then the real answer
    assert repo.get(created.id).key == "AZ-QzxMKS-000104"
    assert slept == [2, 2]

    sb.injector.plan.retry_after = None
    sb.injector.plan.fail_next = 100
    with pytest.raises(Unavailable, match="kept failing") as caught:
        repo.update_metadata(created.id, {"dcterms:title": [Value("Oʻtkan kunlar", "uz")]})
    assert caught.value.path == f"/api/items/{created.id}" and caught.value.status == 503
    sb.injector.plan.fail_next = 0

    sb.injector.plan.drop_next = 1  # a dropped connection on a read is retried
    assert len(repo.list_files(created.id)) == 1
    repo.close()
