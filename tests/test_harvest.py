"""kitab's harvester against an OAI-PMH server that is not ours (the ``oaipmh`` 4.0.0 package's
BatchingServer, whose last page has no empty token and whose tokens carry no cursor), and against
hand-written faulty pages. Everything over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from oaipmh import common, metadata, server
from werkzeug.wrappers import Request, Response

from kitab.catalogue import open_catalogue
from kitab.harvest.client import HarvestError
from kitab.harvest.harvester import Source, harvest, watermark_scope
from kitab.harvest.stores import RecordStore
from kitab.sandbox.server import start_in_thread
from kitab.sync.state import StateStore

SAMPLE = "marcxml-marc21-collection-9recs-marc4j-sample1a.xml"
MANY856 = "marc21-utf8-many856-pymarc-regression45.dat"
OAI = "http://www.openarchives.org/OAI/2.0/"


def _subfields(record, tag: str, code: str) -> list[str]:
    return [v for f in record.marc.get_fields(tag) for v in f.get_subfields(code)]


class CatalogueOai:
    """A foreign repository (IBatchingOAI) over real records: identifier = record key, oai_dc
    title = 245$a, creator = 100$a, as the record itself says."""

    def __init__(self, records: list) -> None:
        stamp = datetime(2024, 3, 1, 12, 0, 0)
        self.entries: dict[str, dict] = {}
        for record in records:
            self.entries[record.key] = {
                "stamp": stamp,
                "deleted": False,
                "map": {
                    "title": _subfields(record, "245", "a"),
                    "creator": _subfields(record, "100", "a"),
                    "identifier": [record.key],
                },
            }

    def identify(self):
        return common.Identify(
            "Foreign test repository",
            "http://127.0.0.1/oai",
            "2.0",
            ["admin@example.org"],
            datetime(2024, 1, 1),
            "persistent",
            "YYYY-MM-DDThh:mm:ssZ",
            ["identity"],
            toolkit_description=False,
        )

    def _matching(self, from_=None, until=None):
        ordered = sorted(self.entries.items(), key=lambda kv: (kv[1]["stamp"], kv[0]))
        for key, entry in ordered:
            if from_ is not None and entry["stamp"] < from_:
                continue
            if until is not None and entry["stamp"] > until:
                continue
            header = common.Header(None, key, entry["stamp"], [], entry["deleted"])
            meta = None if entry["deleted"] else common.Metadata(None, entry["map"])
            yield header, meta, None

    def listRecords(
        self, metadataPrefix, set=None, from_=None, until=None, cursor=0, batch_size=10
    ):
        return list(self._matching(from_, until))[cursor : cursor + batch_size]

    def listIdentifiers(
        self, metadataPrefix, set=None, from_=None, until=None, cursor=0, batch_size=10
    ):
        return [
            h for h, _, _ in self.listRecords(metadataPrefix, set, from_, until, cursor, batch_size)
        ]

    def listMetadataFormats(self, identifier=None):
        return [("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI + "oai_dc/")]

    def listSets(self, cursor=0, batch_size=10):
        raise NotImplementedError

    def getRecord(self, metadataPrefix, identifier):
        raise NotImplementedError


@pytest.fixture
def records(data_dir: Path) -> list:
    found = list(open_catalogue(data_dir / SAMPLE)) + list(open_catalogue(data_dir / MANY856))
    assert len(found) == 21
    return found


@pytest.fixture
def foreign(records):
    """The oaipmh package's BatchingServer in a 10-line WSGI app, 10 records a page."""
    repository = CatalogueOai(records)
    registry = metadata.MetadataRegistry()
    registry.registerWriter("oai_dc", server.oai_dc_writer)
    oai = server.BatchingServer(repository, registry, resumption_batch_size=10)

    def app(environ, start_response):
        request = Request(environ)
        body = oai.handleRequest(request.values.to_dict())
        return Response(body, content_type="text/xml; charset=utf-8")(environ, start_response)

    running = start_in_thread(app)
    yield repository, running
    running.stop()


def _jsonl(path: Path) -> dict[str, dict]:
    return {
        line["identifier"]: line
        for line in map(json.loads, path.read_text(encoding="utf-8").splitlines())
    }


def test_incremental_harvest_of_a_foreign_server_with_deletions(foreign, records, tmp_path):
    repository, running = foreign
    state = StateStore(tmp_path / "state.sqlite")
    store = RecordStore(state, "union")
    source = Source("union", running.root + "/oai", "oai_dc")
    out = tmp_path / "union.jsonl"

    first = harvest(source, state, store)
    store.export(out)
    assert first.complete and first.pages == 3  # 10 + 10 + 1, and no empty last token
    assert first.counts == {"new": 21}
    assert first.watermark == state.get_watermark(watermark_scope(source))
    held = _jsonl(out)
    assert set(held) == {r.key for r in records}
    for record in records:  # field by field, against what the record itself says
        line = held[record.key]
        assert line["dc"].get("title", []) == _subfields(record, "245", "a")
        assert line["dc"].get("creator", []) == _subfields(record, "100", "a")
        assert line["deleted"] is False and line["datestamp"] == "2024-03-01T12:00:00Z"

    # the source changes after the first harvest: one title corrected, two records withdrawn
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=2)
    changed, gone = records[0].key, [records[3].key, records[12].key]
    repository.entries[changed]["map"]["title"] = ["Corrected title"]
    repository.entries[changed]["stamp"] = later
    for key in gone:
        repository.entries[key].update(stamp=later, deleted=True)

    second = harvest(source, state, store)
    store.export(out)
    assert second.asked_from == first.watermark  # only what changed was asked for
    assert second.pages == 1 and second.counts == {"updated": 1, "deleted": 2}
    held = _jsonl(out)
    assert len(held) == 21  # deletions are recorded, not dropped
    assert held[changed]["dc"]["title"] == ["Corrected title"]
    for key in gone:
        assert held[key]["deleted"] is True and "dc" not in held[key]

    third = harvest(source, state, store)  # nothing changed since: noRecordsMatch is success
    # from= is inclusive: the three changes stamped at or after the watermark come again
    assert third.complete and third.counts == {"unchanged": 3} and third.pages == 1


def test_marcxml_store_keeps_deletions_as_leader_d(foreign, records, tmp_path, data_dir):
    """oai_dc goes to JSONL only; MARC formats go to MARCXML (checked in test_oai_provider)."""
    _, running = foreign
    state = StateStore(tmp_path / "state.sqlite")
    store = RecordStore(state, "x")
    harvest(Source("x", running.root + "/oai", "oai_dc"), state, store)
    assert store.export(tmp_path / "out.xml") == 0  # no MARC records among oai_dc ones
    with pytest.raises(ValueError, match=r"\.jsonl or \.xml"):
        store.export(tmp_path / "out.csv")


def test_503_with_retry_after_is_honoured_and_dropped_connections_retried(foreign, tmp_path):
    _, running = foreign
    waits: list[float] = []
    state = StateStore(tmp_path / "state.sqlite")
    running.injector.plan.update({"fail_next": 2, "status": 503, "retry_after": 7})
    report = harvest(
        Source("u", running.root + "/oai", "oai_dc"),
        state,
        RecordStore(state, "u"),
        sleep=waits.append,
    )
    assert report.complete and report.counts == {"new": 21}
    assert waits == [7, 7] and report.retries == 2
    running.injector.plan.update({"drop_next": 2})
    waits.clear()
    report = harvest(
        Source("u", running.root + "/oai", "oai_dc"),
        state,
        RecordStore(state, "u"),
        full=True,
        sleep=waits.append,
    )
    assert report.complete and waits == [1.0, 2.0]  # exponential backoff without Retry-After


def test_gives_up_after_max_retries_and_keeps_the_watermark(foreign, tmp_path):
    _, running = foreign
    state = StateStore(tmp_path / "state.sqlite")
    source = Source("u", running.root + "/oai", "oai_dc", max_retries=2)
    running.injector.plan.update({"fail_next": 3, "status": 503, "retry_after": 1})
    with pytest.raises(HarvestError, match=r"HTTP 503, gave up after 3 tries"):
        harvest(source, state, RecordStore(state, "u"), sleep=lambda s: None)
    assert state.get_watermark(watermark_scope(source)) is None


# -- hand-written faulty pages ----------------------------------------------------------------

IDENTIFY = f"""<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="{OAI}">
<responseDate>2025-02-01T10:00:00Z</responseDate><request verb="Identify">x</request>
<Identify><repositoryName>stub</repositoryName><baseURL>x</baseURL>
<protocolVersion>2.0</protocolVersion><adminEmail>a@example.org</adminEmail>
<earliestDatestamp>2020-01-01</earliestDatestamp><deletedRecord>persistent</deletedRecord>
<granularity>YYYY-MM-DD</granularity></Identify></OAI-PMH>"""


def _page(records: str, token: str | None, date: str = "2025-02-01T10:00:01Z") -> str:
    tail = f"<resumptionToken>{token}</resumptionToken>" if token is not None else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="{OAI}">'
        f"<responseDate>{date}</responseDate><request>x</request>"
        f"<ListRecords>{records}{tail}</ListRecords></OAI-PMH>"
    )


def _dc(identifier: str, title: str, stamp: str = "2025-01-15") -> str:
    return (
        f"<record><header><identifier>{identifier}</identifier><datestamp>{stamp}</datestamp>"
        f'</header><metadata><oai_dc:dc xmlns:oai_dc="{OAI}oai_dc/" '
        f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title>'
        "</oai_dc:dc></metadata></record>"
    )


class Stub:
    """Pages by resumption token; ``pages[None]`` is the first. Records every request."""

    def __init__(self, pages: dict[str | None, tuple[str, str]]) -> None:
        self.pages = pages
        self.requests: list[dict[str, str]] = []

    def __call__(self, environ, start_response):
        request = Request(environ)
        args = request.values.to_dict()
        self.requests.append(args)
        if args.get("verb") == "Identify":
            body, kind = IDENTIFY, "text/xml"
        else:
            body, kind = self.pages[args.get("resumptionToken")]
        return Response(body, content_type=kind)(environ, start_response)


@pytest.fixture
def stub():
    running = None

    def serve(pages):
        nonlocal running
        app = Stub(pages)
        running = start_in_thread(app)
        return app, running.root + "/oai"

    yield serve
    if running is not None:
        running.stop()


def test_html_with_200_is_not_an_empty_list(stub, tmp_path):
    html = "<html><body><h1>Please log in</h1></body></html>"
    _, url = stub({None: (html, "text/html")})
    state = StateStore(tmp_path / "s.sqlite")
    with pytest.raises(HarvestError, match=r"verb=ListRecords.*not an OAI-PMH answer.*log in"):
        harvest(Source("s", url, "oai_dc"), state, RecordStore(state, "s"))
    assert state.get_watermark("harvest:s:oai_dc:") is None


def test_expired_token_restarts_the_list_and_bad_records_are_reported(stub, tmp_path):
    expired = (
        f'<?xml version="1.0"?><OAI-PMH xmlns="{OAI}"><responseDate>2025-02-01T10:00:02Z'
        '</responseDate><request>x</request><error code="badResumptionToken">expired</error>'
        "</OAI-PMH>"
    )
    broken = "<record><header><datestamp>2025-01-15</datestamp></header></record>"
    app, url = stub(
        {
            None: (_page(_dc("oai:s:1", "One") + broken, "t1"), "text/xml"),
            "t1": (expired, "text/xml"),
        }
    )
    state = StateStore(tmp_path / "s.sqlite")
    store = RecordStore(state, "s")
    with pytest.raises(HarvestError, match="keep failing"):
        harvest(Source("s", url, "oai_dc"), state, store)
    lists = [r for r in app.requests if r.get("verb") == "ListRecords"]
    assert [r.get("resumptionToken") for r in lists] == [None, "t1"] * 4  # 3 restarts, then stop

    app.pages["t1"] = (_page(_dc("oai:s:2", "Two &amp; more"), ""), "text/xml")  # empty last token
    report = harvest(Source("s", url, "oai_dc"), state, store)
    assert report.complete and report.resumed  # took up the list at the token it had reached
    assert report.counts == {"new": 1}
    assert report.watermark == "2025-02-01T10:00:01Z"
    out = tmp_path / "s.jsonl"
    store.export(out)
    assert _jsonl(out)["oai:s:2"]["dc"]["title"] == ["Two & more"]
    assert set(_jsonl(out)) == {"oai:s:1", "oai:s:2"}

    again = harvest(Source("s", url, "oai_dc"), state, store)  # day granularity: from=the day
    assert app.requests[-2]["from"] == "2025-02-01"
    assert again.counts == {"unchanged": 2, "skipped": 1}
    assert "record 2: no identifier or datestamp" in again.problems[0]
    assert "verb=ListRecords" in again.problems[0]


def test_malformed_page_is_read_in_recovery_mode_and_said_so(stub, tmp_path):
    bad = _page(_dc("oai:s:1", "Control\x0bcharacter") + _dc("oai:s:2", "Fine"), None)
    _, url = stub({None: (bad, "text/xml")})
    state = StateStore(tmp_path / "s.sqlite")
    store = RecordStore(state, "s")
    report = harvest(Source("s", url, "oai_dc"), state, store)
    assert report.complete and report.counts.get("new", 0) >= 1
    assert any("not well-formed XML" in w and "recovery mode" in w for w in report.warnings)


def test_older_copy_never_overwrites_a_newer_one(stub, tmp_path):
    _, url = stub({None: (_page(_dc("oai:s:1", "Old", "2025-01-01"), None), "text/xml")})
    state = StateStore(tmp_path / "s.sqlite")
    store = RecordStore(state, "s")
    from kitab.harvest.stores import Harvested

    newer = etree.fromstring(
        f'<oai_dc:dc xmlns:oai_dc="{OAI}oai_dc/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<dc:title>New</dc:title></oai_dc:dc>"
    )
    assert store.upsert(Harvested("oai:s:1", "2025-01-20", False, [], newer)) == "new"
    report = harvest(Source("s", url, "oai_dc"), state, store)
    assert report.counts == {"stale": 1}
    store.export(tmp_path / "s.jsonl")
    assert _jsonl(tmp_path / "s.jsonl")["oai:s:1"]["dc"]["title"] == ["New"]


# -- the command, with a named source and the route into a target repository -----------------


def test_kitab_harvest_named_source_into_a_file_and_a_target(tmp_path, data_dir, records):
    from click.testing import CliRunner

    from kitab.cli import main
    from kitab.config import load_config
    from kitab.harvest.server import start

    library = tmp_path / "library"
    (library / "catalogue").mkdir(parents=True)
    for name in (SAMPLE, MANY856):
        (library / "catalogue" / name).symlink_to(data_dir / name)
    (library / "kitab.toml").write_text('[catalogue]\npath = "catalogue"\n', encoding="utf-8")
    provider_config = load_config(library / "kitab.toml")
    provider_state = StateStore(provider_config.state_path)
    provider = start(provider_config, provider_state, port=0)
    try:
        union = tmp_path / "union"
        union.mkdir()
        (union / "kitab.toml").write_text(
            f'[catalogue]\npath = "{library / "catalogue"}"\n'
            '[targets.offline]\nkind = "saf"\npath = "saf"\n'
            f'[sources.district]\nurl = "{provider.url}"\nprefix = "marc21"\n'
            'out = "district.xml"\ntarget = "offline"\n',
            encoding="utf-8",
        )
        runner = CliRunner()
        first = runner.invoke(main, ["harvest", "district", "-c", str(union / "kitab.toml")])
        assert first.exit_code == 0, first.output
        assert "21 new in 1 pages" in first.output
        held = etree.parse(str(union / "district.xml")).getroot()
        controls = held.findall("{http://www.loc.gov/MARC21/slim}record")
        assert len(controls) == 21
        saf_items = [p for p in (union / "saf").iterdir() if p.is_dir()]
        assert len(saf_items) == 21  # pushed through the sync engine into the SAF target
        titles = {r.key: _subfields(r, "245", "a") for r in records}
        dublin = (saf_items[0] / "dublin_core.xml").read_text(encoding="utf-8")
        assert any(t and t[0].rstrip(" /:") in dublin for t in titles.values())

        again = runner.invoke(
            main, ["harvest", "district", "-c", str(union / "kitab.toml"), "--json"]
        )
        assert again.exit_code == 0, again.output
        (result,) = json.loads(again.output)
        watermark = first.output.split("next run asks from ")[1].split()[0]
        assert result["from"] == watermark
        # from= is inclusive: records stamped in the watermark's own second come again
        assert result["counts"] in ({"unchanged": 21}, {})
        assert result["push"]["counts"].get("create", 0) == 0
    finally:
        provider.stop()
