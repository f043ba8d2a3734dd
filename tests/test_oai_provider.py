"""kitab's OAI-PMH provider, served by waitress on 127.0.0.1 and harvested end to end by two
independent clients (sickle and oaipmh-scythe). Every response any test receives is validated
against the official schemas with ../shared/xsd/validate.py."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
import requests
from lxml import etree
from oaipmh_scythe import Scythe
from sickle import Sickle

from kitab.catalogue import open_catalogue
from kitab.config import load_config
from kitab.harvest.server import start
from kitab.model import identity_value
from kitab.sync.state import Link, StateStore

XSD = Path(__file__).resolve().parents[1].parent / "shared" / "xsd"
FILES = {
    "marcxml-marc21-collection-9recs-marc4j-sample1a.xml": 9,
    "marc21-utf8-many856-pymarc-regression45.dat": 12,
    "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso": 81,
}
OAI = "{http://www.openarchives.org/OAI/2.0/}"
MARC = "{http://www.loc.gov/MARC21/slim}"
UNI = "{http://www.bncf.firenze.sbn.it/unimarc/slim}"
DC = "{http://purl.org/dc/elements/1.1/}"
CONFIG = """
[catalogue]
path = "catalogue"
[oai]
repository_identifier = "library.example.org"
admin_email = "oai@library.example.org"
page_size = 10
[[oai.set]]
spec = "books"
name = "Monographs"
when = { record_type = "am" }
[[oai.set]]
spec = "books:russian"
name = "Monographs in Russian"
when = { field = "101$a", equals = "rus" }
"""


@pytest.fixture(scope="module")
def schema():
    spec = importlib.util.spec_from_file_location("oai_validate", XSD / "validate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module, module.load_schema()


class Recorder:
    """Keeps every response body the provider sends, for validation after the test."""

    def __init__(self, app) -> None:
        self.app = app
        self.bodies: list[tuple[str, bytes]] = []

    def __call__(self, environ, start_response):
        chunks = b"".join(self.app(environ, start_response))
        if environ["PATH_INFO"] == "/oai":
            self.bodies.append((environ.get("QUERY_STRING", ""), chunks))
        return [chunks]


class Provider:
    def __init__(self, root: Path, config_text: str, files: dict[str, int], data_dir: Path):
        (root / "catalogue").mkdir(parents=True)
        for name in files:  # links, not copies: the shared records stay where they are
            (root / "catalogue" / name).symlink_to(data_dir / name)
        (root / "kitab.toml").write_text(config_text, encoding="utf-8")
        self.root = root
        self.config = load_config(root / "kitab.toml")
        self.store = StateStore(self.config.state_path)
        self.recorders: list[Recorder] = []
        self.running = None
        self.start()

    def start(self):
        self.running = start(self.config, self.store, port=0)
        recorder = Recorder(self.running.server.application)
        self.running.server.application = recorder
        self.recorders.append(recorder)

    def stop(self):
        self.running.stop()

    @property
    def url(self) -> str:
        return self.running.url

    def get(self, **params) -> etree._Element:
        return etree.fromstring(requests.get(self.url, params=params, timeout=10).content)

    def bodies(self):
        return [body for recorder in self.recorders for body in recorder.bodies]


@pytest.fixture
def provider(tmp_path, data_dir, schema):
    served = Provider(tmp_path, CONFIG, FILES, data_dir)
    yield served
    served.stop()
    _validate_all(served, schema, tmp_path)


def _validate_all(served: Provider, schema, tmp_path: Path) -> None:
    module, xsd = schema
    failures = []
    for n, (query, body) in enumerate(served.bodies()):
        path = tmp_path / f"response-{n}.xml"
        path.write_bytes(body)
        errors = module.validate(path, xsd)
        if errors:
            failures.append(f"{query}: {errors[:3]}")
    assert served.bodies(), "no response was recorded"
    assert not failures, "\n".join(failures)


def _catalogue(data_dir: Path, names) -> dict[str, object]:
    return {r.key: r for name in names for r in open_catalogue(data_dir / name)}


def _subfield(record, tag: str, code: str) -> list[str]:
    return [v for f in record.marc.get_fields(tag) for v in f.get_subfields(code)]


def _key(identifier: str) -> str:
    from urllib.parse import unquote

    prefix = "oai:library.example.org:"
    assert identifier.startswith(prefix)
    return unquote(identifier[len(prefix) :])


def test_sickle_harvests_every_format_and_records_match_the_catalogue(provider, data_dir):
    catalogue = _catalogue(data_dir, FILES)
    sickle = Sickle(provider.url, max_retries=2)
    marc = {_key(r.header.identifier): r for r in sickle.ListRecords(metadataPrefix="marc21")}
    uni = {_key(r.header.identifier): r for r in sickle.ListRecords(metadataPrefix="unimarc")}
    dc = {_key(r.header.identifier): r for r in sickle.ListRecords(metadataPrefix="oai_dc")}
    assert len(marc) == 21 and len(uni) == 81 and set(dc) == set(catalogue)
    for key, harvested in marc.items():
        record = catalogue[key]
        fields = harvested.xml.find(f".//{MARC}record")
        control = fields.findtext(f"{MARC}controlfield[@tag='001']")
        assert control == record.control_number
        path = f"{MARC}datafield[@tag='245']/{MARC}subfield[@code='a']"
        assert [s.text for s in fields.iterfind(path)] == _subfield(record, "245", "a")
        links = [
            s.text
            for s in fields.iterfind(f"{MARC}datafield[@tag='856']/{MARC}subfield[@code='u']")
        ]
        assert links == _subfield(record, "856", "u")
    for key, harvested in uni.items():
        record = catalogue[key]
        rec = harvested.xml.find(f".//{UNI}rec")
        assert rec.findtext(f"{UNI}cf[@t='001']") == record.control_number
        titles = [s.text for s in rec.iterfind(f"{UNI}df[@t='200']/{UNI}sf[@c='a']")]
        assert titles == _subfield(record, "200", "a")
    for key, harvested in dc.items():
        identifiers = harvested.metadata.get("identifier", [])
        assert identity_value(key) in identifiers


def test_scythe_harvests_with_sets_from_and_until(provider, data_dir):
    catalogue = _catalogue(data_dir, FILES)
    russian = {k for k, r in catalogue.items() if "rus" in _subfield(r, "101", "a")}
    monographs = {k for k, r in catalogue.items() if str(r.marc.leader)[6:8] == "am"}
    with Scythe(provider.url) as scythe:
        in_set = {
            _key(h.identifier)
            for h in scythe.list_identifiers(metadata_prefix="oai_dc", set_="books:russian")
        }
        assert in_set == russian and len(russian) == 80
        # a record in books:russian also belongs to books
        books = {
            _key(h.identifier)
            for h in scythe.list_identifiers(metadata_prefix="oai_dc", set_="books")
        }
        assert books == monographs | russian

        # the catalogue loses a file: its 9 records become deleted records, stamped later
        time.sleep(1.1)
        first = next(iter(scythe.list_identifiers(metadata_prefix="oai_dc"))).datestamp
        (
            provider.root / "catalogue" / "marcxml-marc21-collection-9recs-marc4j-sample1a.xml"
        ).unlink()
        report = provider.running.app.refresh(force=True)
        assert report.deleted == 9 and report.unchanged == 93
        gone = _catalogue(data_dir, ["marcxml-marc21-collection-9recs-marc4j-sample1a.xml"])
        changed = list(scythe.list_records(metadata_prefix="oai_dc", from_=_after(first)))
        assert {_key(r.header.identifier) for r in changed} == set(gone)
        assert all(r.deleted for r in changed)
        before = list(scythe.list_identifiers(metadata_prefix="marc21", until=first))
        assert len(before) == 12  # the MARC 21 records still there, none deleted
        assert not any(h.deleted for h in before)
        everything = list(scythe.list_identifiers(metadata_prefix="marc21"))
        assert len(everything) == 21 and sum(h.deleted for h in everything) == 9


def _after(stamp: str) -> str:
    from datetime import datetime, timedelta

    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ") + timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_tokens_carry_cursor_and_size_survive_a_restart_and_refuse_tampering(provider):
    page = provider.get(verb="ListIdentifiers", metadataPrefix="marc21")
    token = page.find(f"{OAI}ListIdentifiers/{OAI}resumptionToken")
    assert token.get("completeListSize") == "21" and token.get("cursor") == "0"
    provider.stop()
    provider.start()  # another server process on the same state store
    second = provider.get(verb="ListIdentifiers", resumptionToken=token.text)
    assert second.find(f"{OAI}ListIdentifiers/{OAI}resumptionToken").get("cursor") == "10"
    again = provider.get(verb="ListIdentifiers", resumptionToken=token.text)  # idempotent
    assert etree.tostring(again.find(f"{OAI}ListIdentifiers")) == etree.tostring(
        second.find(f"{OAI}ListIdentifiers")
    )
    last = provider.get(
        verb="ListIdentifiers",
        resumptionToken=second.findtext(f"{OAI}ListIdentifiers/{OAI}resumptionToken"),
    )
    end = last.find(f"{OAI}ListIdentifiers/{OAI}resumptionToken")
    assert end.text is None and end.get("cursor") == "20" and end.get("completeListSize") == "21"
    assert len(last.findall(f"{OAI}ListIdentifiers/{OAI}header")) == 1
    tampered = token.text[:-3] + ("AAA" if not token.text.endswith("AAA") else "BBB")
    bad = provider.get(verb="ListIdentifiers", resumptionToken=tampered)
    assert bad.find(f"{OAI}error").get("code") == "badResumptionToken"
    other_verb = provider.get(verb="ListRecords", resumptionToken=token.text)
    assert other_verb.find(f"{OAI}error").get("code") == "badResumptionToken"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "badVerb"),
        ({"verb": "Harvest"}, "badVerb"),
        ({"verb": "Identify", "metadataPrefix": "oai_dc"}, "badArgument"),
        ({"verb": "ListRecords"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": ""}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-13-45"}, "badArgument"),
        (
            {
                "verb": "ListRecords",
                "metadataPrefix": "oai_dc",
                "from": "2024-01-01",
                "until": "2030-01-01T00:00:00Z",
            },
            "badArgument",
        ),
        (
            {"verb": "ListRecords", "resumptionToken": "x", "metadataPrefix": "oai_dc"},
            "badArgument",
        ),
        ({"verb": "ListRecords", "metadataPrefix": "mods"}, "cannotDisseminateFormat"),
        (
            {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2999-01-01"},
            "noRecordsMatch",
        ),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "maps"}, "noRecordsMatch"),
        (
            {"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "oai:other.org:1"},
            "idDoesNotExist",
        ),
        (
            {
                "verb": "GetRecord",
                "metadataPrefix": "marc21",
                "identifier": "oai:library.example.org:RU%5CNLR%5Cbibl%5C3415",
            },
            "cannotDisseminateFormat",
        ),
        (
            {"verb": "ListMetadataFormats", "identifier": "oai:library.example.org:nope"},
            "idDoesNotExist",
        ),
        ({"verb": "ListSets", "resumptionToken": "abc"}, "badResumptionToken"),
    ],
)
def test_every_protocol_error(provider, params, code):
    answer = provider.get(**params)
    assert answer.find(f"{OAI}error").get("code") == code
    request = answer.find(f"{OAI}request")
    if code in ("badVerb", "badArgument"):
        assert request.attrib == {}
    else:
        assert request.attrib == params


def test_repeated_argument_and_post(provider):
    repeated = requests.get(
        provider.url + "?verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=marc21", timeout=10
    )
    assert etree.fromstring(repeated.content).find(f"{OAI}error").get("code") == "badArgument"
    posted = requests.post(provider.url, data={"verb": "ListSets"}, timeout=10)
    sets = etree.fromstring(posted.content).findall(f"{OAI}ListSets/{OAI}set")
    assert [s.findtext(f"{OAI}setSpec") for s in sets] == ["books", "books:russian"]
    assert posted.headers["Content-Type"] == "text/xml; charset=utf-8"


def test_identify_and_get_record(provider, data_dir):
    identify = provider.get(verb="Identify").find(f"{OAI}Identify")
    assert identify.findtext(f"{OAI}granularity") == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.findtext(f"{OAI}deletedRecord") == "persistent"
    assert identify.findtext(f"{OAI}baseURL") == provider.url
    assert identify.findtext(f"{OAI}adminEmail") == "oai@library.example.org"
    earliest = identify.findtext(f"{OAI}earliestDatestamp")
    sample = identify.findtext(
        ".//{http://www.openarchives.org/OAI/2.0/oai-identifier}sampleIdentifier"
    )
    record = provider.get(verb="GetRecord", metadataPrefix="marc21", identifier=sample)
    header = record.find(f"{OAI}GetRecord/{OAI}record/{OAI}header")
    assert header.findtext(f"{OAI}datestamp") == earliest
    formats = provider.get(verb="ListMetadataFormats", identifier=sample)
    prefixes = [p.text for p in formats.iter(f"{OAI}metadataPrefix")]
    assert prefixes == ["oai_dc", "marc21"]


def test_links_to_repository_copies_and_scans(tmp_path, data_dir, schema):
    catalogue = _catalogue(data_dir, ["marc21-utf8-many856-pymarc-regression45.dat"])
    key, record = next(iter(catalogue.items()))
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / f"{record.control_number}.pdf").write_bytes(b"%PDF-1.4 scan of the book\n")
    (scans / "unclaimed.pdf").write_bytes(b"%PDF-1.4 nobody's\n")
    config = (
        CONFIG.replace("[oai]", '[scans]\npath = "scans"\n[oai]')
        + '[targets.repo]\nkind = "saf"\npath = "saf"\n'
    )
    served = Provider(
        tmp_path, config, {"marc21-utf8-many856-pymarc-regression45.dat": 12}, data_dir
    )
    try:
        item_url = "https://repository.example.org/items/0b3d"
        served.store.save_link(Link("repo", key, "0b3d", "h", {}, item_url=item_url))
        served.running.app.refresh(force=True)  # a push added a link: the record changes
        identifier = "oai:library.example.org:" + key
        marc = served.get(verb="GetRecord", metadataPrefix="marc21", identifier=identifier)
        urls = [u.text for u in marc.iterfind(f".//{MARC}datafield[@tag='856']/*[@code='u']")]
        scan_url = f"{served.running.app.index.public_url}/scans/{record.control_number}.pdf"
        assert urls == [*_subfield(record, "856", "u"), item_url, scan_url]
        dc = served.get(verb="GetRecord", metadataPrefix="oai_dc", identifier=identifier)
        assert item_url in [e.text for e in dc.iter(f"{DC}identifier")]
        assert [e.text for e in dc.iter(f"{DC}relation")][-1] == scan_url
        assert requests.get(scan_url, timeout=10).content == b"%PDF-1.4 scan of the book\n"
        unclaimed = scan_url.replace(f"{record.control_number}.pdf", "unclaimed.pdf")
        assert requests.get(unclaimed, timeout=10).status_code == 404
        assert requests.get(scan_url.replace("scans/", "scans/../"), timeout=10).status_code == 404
    finally:
        served.stop()
    _validate_all(served, schema, tmp_path)


def test_no_sets_configured(tmp_path, data_dir, schema):
    config = CONFIG.split("[[oai.set]]")[0]
    served = Provider(tmp_path, config, {"unimarc-utf8-pymarc-testunimarc.dat": 1}, data_dir)
    try:
        for params in (
            {"verb": "ListSets"},
            {"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "a"},
        ):
            assert served.get(**params).find(f"{OAI}error").get("code") == "noSetHierarchy"
        formats = served.get(verb="ListMetadataFormats")
        assert [p.text for p in formats.iter(f"{OAI}metadataPrefix")] == ["oai_dc", "unimarc"]
    finally:
        served.stop()
    _validate_all(served, schema, tmp_path)
