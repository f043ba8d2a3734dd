"""The state store on a real PostgreSQL server (started by tests/pg.py, one per session):
the whole StateStore API, claims raced by several processes, a worker killed or hung while it
holds a claim, the OAI-PMH provider and a real push against the Omeka S sandbox with the state
on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
import requests
from lxml import etree
from pg import PASSWORD_ROLE, PgServer, Unavailable, start_server
from sickle import Sickle
from targets import RECORDS, OmekaTarget, by_control

from kitab.catalogue import open_catalogue
from kitab.config import ConfigError, load_config
from kitab.harvest.server import start as start_provider
from kitab.harvest.stores import Harvested, RecordStore
from kitab.model import Value
from kitab.sync.conflicts import ConflictError, ConflictStore
from kitab.sync.db import StateDatabaseError
from kitab.sync.engine import push
from kitab.sync.merge import Conflict
from kitab.sync.state import MIGRATIONS, Link, StateStore, SyncedFile

HOLDER = """
import sys
from kitab.sync.state import StateStore
url, name, owner, ttl = sys.argv[1:]
store = StateStore(url)
print(store.claim(name, owner, float(ttl)), flush=True)
for line in sys.stdin:
    print(store.renew(name, owner, float(ttl)), flush=True)
"""


@pytest.fixture(scope="session")
def pg_server():
    try:
        server = start_server()
    except Unavailable as reason:
        pytest.skip(f"no PostgreSQL server for these tests: {reason}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    return pg_server.new_database()


@pytest.fixture
def store(pg_url):
    with StateStore(pg_url) as s:
        yield s


def test_links_round_trip_with_every_script(store):
    assert store.postgres and store.path is None
    base = {
        "dcterms:title": [Value("Oʻtkan kunlar : roman", "uz")],
        "dcterms:alternative": [Value("Кеча ва кундуз")],
        "dcterms:subject": [Value("Kitabi Dədə Qorqud", "az"), Value("Почт гутусу : һекајәләр")],
    }
    files = [SyncedFile("sahifa-1.tif", "m-1", "ab" * 32, 3_221_225_472)]  # 3 GB: BIGINT
    store.save_link(Link("district", "UZ:000104", "17", "h1", base, files, "http://r/17"))
    link = store.get_link("district", "UZ:000104")
    assert link.base == base and link.files == files and link.item_url == "http://r/17"
    assert link.public and link.catalogue_base is None and link.updated_at.endswith("Z")
    link.catalogue_base = {"dcterms:title": [Value("Oʻtkan kunlar")]}
    link.public = False
    store.save_link(link)  # replaces the row, as an upsert
    again = store.link_by_item("district", "17")
    assert again.catalogue_base == {"dcterms:title": [Value("Oʻtkan kunlar")]}
    assert not again.public and store.count_links("district") == 1
    assert store.get_link("gallery", "UZ:000104") is None
    store.delete_link("district", "UZ:000104")
    assert store.get_link("district", "UZ:000104") is None


def test_iter_links_pages_in_key_order(store):
    for n in range(1200):
        store.save_link(Link("t", f"k{n:05d}", f"i{n}", "h", {}))
    keys = [link.key for link in store.iter_links("t")]
    assert keys == [f"k{n:05d}" for n in range(1200)]


def test_journal_runs_watermarks_and_checksums(store, tmp_path):
    run = store.start_run("push", "t")
    other = store.start_run("pull", "u")
    assert other == run + 1
    done = store.journal_intent("t", "k1", "create", {}, run)
    store.journal_close(done, "done", {"item_id": "i1"})
    pending = store.journal_intent("t", "k2", "create", {"files": 2, "başlıq": "ə"}, run)
    assert [(e.id, e.key, e.run_id, e.detail) for e in store.open_intents("t")] == [
        (pending, "k2", run, {"files": 2, "başlıq": "ə"})
    ]
    store.finish_run(run, "ok", {"created": 1}, "/reports/1.json")
    (latest,) = store.runs(target="t")
    assert (latest.id, latest.outcome, latest.counts, latest.report) == (
        run,
        "ok",
        {"created": 1},
        "/reports/1.json",
    )
    assert [r.job for r in store.runs()] == ["pull", "push"]
    assert store.runs(job="pull", target="t") == []

    assert store.get_watermark("remote:t") is None
    store.set_watermark("remote:t", "2026-11-01T00:00:00Z")
    store.set_watermark("remote:t", "2026-11-02T00:00:00Z")
    assert store.get_watermark("remote:t") == "2026-11-02T00:00:00Z"

    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"one")
    store.remember_checksums(scan, "m", "s")  # mtime_ns needs 64 bits
    assert store.file_checksums(scan) == ("m", "s")
    scan.write_bytes(b"three")
    assert store.file_checksums(scan) is None


def test_conflicts_open_refresh_and_resolve_once(store):
    base = {"dcterms:title": [Value("Xəmsə")]}
    store.save_link(Link("t", "AZ:1", "5", "h", base))
    conflicts = ConflictStore(store)
    conflict = Conflict(
        "dcterms:title", [Value("Xəmsə")], [Value("Xəmsə (beş poema)")], [Value("Хəмсə")]
    )
    first = conflicts.record("t", "AZ:1", "Xəmsə", conflict)
    assert conflicts.record("t", "AZ:1", "Xəmsə", conflict) == first  # refreshed, not doubled
    (listed,) = conflicts.open("t")
    assert (listed.id, listed.repository, listed.catalogue) == (
        first,
        [Value("Хəмсə")],
        [Value("Xəmsə (beş poema)")],
    )
    resolved = conflicts.resolve(first, "catalogue", by="nigar")
    assert resolved.resolution == "catalogue" and resolved.resolved_by == "nigar"
    assert store.get_link("t", "AZ:1").base == {"dcterms:title": [Value("Хəмсə")]}
    assert conflicts.open() == []
    with pytest.raises(ConflictError, match="already resolved by nigar"):
        conflicts.resolve(first, "repository")
    assert conflicts.record("t", "AZ:1", "Xəmsə", conflict) != first  # a new one may open


def test_harvest_record_store_keeps_bytes_and_order(store, tmp_path):
    records = RecordStore(store, "union")
    dc = etree.fromstring(
        '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Qutadğu bilig</dc:title>'
        "</oai_dc:dc>"
    )
    assert records.upsert(Harvested("oai:x:2", "2026-01-02", False, ["a"], dc)) == "new"
    assert records.upsert(Harvested("oai:x:2", "2026-01-02", False, ["a"], dc)) == "unchanged"
    assert records.upsert(Harvested("oai:x:2", "2026-01-01", True, [], None)) == "stale"
    assert records.upsert(Harvested("oai:x:1", "2026-01-03", True, [], None)) == "deleted"
    assert records.export(tmp_path / "out.jsonl") == 2
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith('{"identifier": "oai:x:1"')
    assert '"dc": {"title": ["Qutadğu bilig"]}' in lines[1]


def test_migrations_upgrade_in_place_and_refuse_a_newer_schema(pg_url):
    with StateStore(pg_url) as s:
        s.set_watermark("remote:t", "w")
        assert s.schema_version("sync") == len(MIGRATIONS["sync"])
    MIGRATIONS["test-extra"] = [["CREATE TABLE extra (x INTEGER, data BLOB, r REAL)"]]
    try:
        with StateStore(pg_url) as s:
            assert s.get_watermark("remote:t") == "w"
            assert s.schema_version("test-extra") == 1
            s.execute("INSERT INTO extra VALUES (?, ?, ?)", (2**40, b"\x00\xff", 0.5))
            assert s.query("SELECT x, data, r FROM extra") == [(2**40, b"\x00\xff", 0.5)]
            s.execute("UPDATE schema_versions SET version = 99 WHERE component = 'sync'")
    finally:
        del MIGRATIONS["test-extra"]
    with pytest.raises(RuntimeError, match="newer kitab"):
        StateStore(pg_url)


def _collect(processes, results) -> list:
    """Every process's result; a process that dies first fails the test at once."""
    collected: list = []
    deadline = time.monotonic() + 120
    while len(collected) < len(processes):
        try:
            collected.append(results.get(timeout=0.2))
        except queue.Empty:
            failed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            assert not failed, f"a worker process failed (exit codes {failed})"
            assert time.monotonic() < deadline, "the worker processes did not finish"
    for process in processes:
        process.join(timeout=30)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return collected


def _open_and_report(url: str, barrier, results) -> None:
    barrier.wait()
    with StateStore(url) as store:
        results.put(store.schema_version("sync"))


def test_workers_starting_together_migrate_once(pg_url):
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [
        context.Process(target=_open_and_report, args=(pg_url, barrier, results)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    versions = _collect(workers, results)
    assert versions == [len(MIGRATIONS["sync"])] * 4


def test_claims_are_exclusive_until_released_or_expired(store):
    assert store.claim("job:nightly", "worker-a", ttl=60)
    assert not store.claim("job:nightly", "worker-b", ttl=60)
    assert store.claim("job:nightly", "worker-a", ttl=60)  # ours already: renewed
    assert store.renew("job:nightly", "worker-a", ttl=60)
    assert not store.renew("job:nightly", "worker-b", ttl=60)
    ((name, owner, left),) = store.claims()
    assert (name, owner) == ("job:nightly", "worker-a") and 59 < left <= 60
    store.release("job:nightly", "worker-a")
    assert store.claims() == []
    assert store.claim("job:nightly", "worker-b", ttl=0.2)
    time.sleep(0.3)  # worker-b stopped renewing: its lease runs out, lock or not
    assert store.claims() == []
    assert store.claim("job:nightly", "worker-a", ttl=60)


def _racer(location: str, owner: str, rounds: int, barrier, results) -> None:
    with StateStore(location) as store:
        won = []
        for n in range(rounds):
            barrier.wait()
            if store.claim(f"target:{n}", owner, 60):
                won.append(n)
        barrier.wait()  # a store closed early would free its claims to the others: wait
        results.put((owner, won))


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_processes_racing_for_a_claim_exactly_one_wins(backend, request, tmp_path):
    location = (
        request.getfixturevalue("pg_url")
        if backend == "postgresql"
        else str(tmp_path / "state.sqlite")
    )
    StateStore(location).close()  # migrated before the race starts
    rounds, context = 200, multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()
    racers = [
        context.Process(target=_racer, args=(location, f"worker-{n}", rounds, barrier, results))
        for n in range(3)
    ]
    for racer in racers:
        racer.start()
    won = dict(_collect(racers, results))
    every = sorted(n for wins in won.values() for n in wins)
    assert every == list(range(rounds))  # each round won once: never twice, never by nobody
    with StateStore(location) as store:
        owners = dict(store.query("SELECT name, owner FROM claims"))  # rows, live or not
    assert all(owners[f"target:{n}"] == owner for owner, wins in won.items() for n in wins)


def _holder(url: str, name: str, owner: str, ttl: float) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, name, owner, str(ttl)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "True"
    return process


def test_a_killed_worker_frees_its_claim_at_once(store, pg_url):
    worker = _holder(pg_url, "job:nightly", "worker-killed", ttl=600)
    try:
        assert not store.claim("job:nightly", "worker-b", ttl=600)
        assert [owner for _, owner, _ in store.claims()] == ["worker-killed"]
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        started = time.monotonic()
        while not store.claim("job:nightly", "worker-b", ttl=600):
            assert time.monotonic() - started < 10, "the dead worker's claim was not freed"
            time.sleep(0.05)
    finally:
        worker.kill()
    ((name, owner, left),) = store.claims()
    assert (name, owner) == ("job:nightly", "worker-b") and left > 590  # long before the lease


def test_a_hung_worker_is_overtaken_when_its_lease_runs_out(store, pg_url, pg_server):
    worker = _holder(pg_url, "job:nightly", "worker-hung", ttl=0.5)
    try:
        assert not store.claim("job:nightly", "worker-b", ttl=600)  # alive, lease running
        time.sleep(0.6)  # it never renews: hung, its connection still open
        assert store.claim("job:nightly", "worker-b", ttl=600)
        worker.stdin.write("renew\n")
        worker.stdin.flush()
        assert worker.stdout.readline().strip() == "False"  # it wakes up and learns it lost
    finally:
        worker.stdin.close()
        worker.wait(timeout=30)
    # worker-b holds a lease only (the hung worker had the lock): nobody may take it early
    with StateStore(pg_url) as third:
        assert not third.claim("job:nightly", "worker-c", ttl=600)
    assert store.renew("job:nightly", "worker-b", ttl=600)  # and now takes the lock too
    assert pg_server.sql("SELECT locked FROM claims", database=pg_url.rsplit("/", 1)[1]) == "1\n"


def test_a_restarted_server_costs_no_error_and_no_claim(store, pg_server):
    store.save_link(Link("t", "AZ:1", "5", "h", {"dcterms:title": [Value("Xəmsə")]}))
    assert store.claim("job:nightly", "worker-a", ttl=600)
    pg_server.restart()  # every connection of the pool and the claims session is cut
    assert store.get_link("t", "AZ:1").base == {"dcterms:title": [Value("Xəmsə")]}
    assert store.renew("job:nightly", "worker-a", ttl=600)  # the lease held; lock taken again
    assert not store.claim("job:nightly", "worker-b", ttl=600)
    assert [owner for _, owner, _ in store.claims()] == ["worker-a"]


def test_password_comes_from_the_environment_never_the_file(pg_server, tmp_path, monkeypatch):
    role, password = PASSWORD_ROLE
    database = pg_server.new_database().rsplit("/", 1)[1]
    pg_server.sql(f"ALTER DATABASE {database} OWNER TO {role}")
    pg_server.sql(f"GRANT ALL ON SCHEMA public TO {role}", database=database)
    config = tmp_path / "kitab.toml"
    url = pg_server.url(database, user=role)
    config.write_text(
        f'[catalogue]\npath = "x"\n[state]\nurl = "{url}"\npassword_env = "KITAB_TEST_PG"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("KITAB_TEST_PG", password)
    with StateStore.open(load_config(config)) as store:
        store.set_watermark("w", "ə")
        assert store.get_watermark("w") == "ə"
    monkeypatch.setenv("KITAB_TEST_PG", "wrong")
    with pytest.raises(StateDatabaseError, match="password authentication failed") as error:
        StateStore.open(load_config(config))
    assert "wrong" not in str(error.value)
    config.write_text(
        f'[catalogue]\npath = "x"\n[state]\nurl = "postgresql://{role}:{password}@127.0.0.1/k"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"secrets do not belong in kitab\.toml"):
        load_config(config)


def test_an_unreachable_state_database_is_a_message_not_a_traceback(tmp_path):
    (tmp_path / "kitab.toml").write_text(
        '[catalogue]\npath = "x"\n[state]\nurl = "postgresql://kitab@127.0.0.1:9/kitab"\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "kitab", "conflicts", "-c", str(tmp_path / "kitab.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "state store: cannot open the state database postgresql://kitab@127.0.0.1:9" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


class PostgresOmekaTarget(OmekaTarget):
    """The sync tests' Omeka S target, with ``[state] url`` in its kitab.toml."""

    state_url = ""

    def target_toml(self) -> str:
        return f'[state]\nurl = "{self.state_url}"\n' + super().target_toml()

    def push(self, **kwargs):
        config = self.config
        with StateStore.open(config) as store:
            return push(config, config.targets["t"], store, **kwargs)


def test_push_to_omeka_with_the_state_on_postgresql(
    pg_url, omeka_sandbox, tmp_path, data_dir, monkeypatch
):
    PostgresOmekaTarget.state_url = pg_url
    target = PostgresOmekaTarget(omeka_sandbox, tmp_path, data_dir, monkeypatch)
    report = target.push()
    assert report.outcome == "ok", report.to_dict()
    assert report.counts["create"] == RECORDS + 1
    items = by_control(target.items())
    assert target.values(items["000104"], "dcterms:title") == ["Oʻtkan kunlar : roman"]
    assert target.values(items["000103"], "dcterms:title") == ["Почт гутусу : һекајәләр"]
    with StateStore(pg_url) as store:
        links = {link.key.rsplit(":", 1)[-1]: link for link in store.iter_links("t")}
        assert store.open_intents("t") == []
        (run,) = store.runs(target="t")
    assert set(links) == set(items)
    for control, item in items.items():
        assert links[control].item_id == str(item["o:id"]), control
    assert [v.value for v in links["000103"].base["dcterms:title"]] == ["Почт гутусу : һекајәләр"]
    assert sorted(f.name for f in links["000101"].files) == sorted(items["000101"]["files"])
    assert run.outcome == "ok" and run.counts["create"] == RECORDS + 1

    target.sandbox.reset_stats()
    again = target.push()
    assert again.outcome == "ok" and again.counts["unchanged"] == RECORDS + 1
    assert target.writes() == 0
    assert not (tmp_path / ".kitab" / "state.sqlite").exists()  # nothing went to SQLite


PROVIDER_FILES = (
    "marcxml-marc21-collection-9recs-marc4j-sample1a.xml",
    "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso",
)


def test_oai_provider_serves_from_postgresql(pg_url, tmp_path: Path, data_dir):
    (tmp_path / "catalogue").mkdir()
    for name in PROVIDER_FILES:
        (tmp_path / "catalogue" / name).symlink_to(data_dir / name)
    (tmp_path / "kitab.toml").write_text(
        f"""[catalogue]\npath = "catalogue"\n[state]\nurl = "{pg_url}"
[oai]\nrepository_identifier = "library.example.org"\npage_size = 10
[[oai.set]]\nspec = "books:russian"\nname = "In Russian"
when = {{ field = "101$a", equals = "rus" }}
""",
        encoding="utf-8",
    )
    config = load_config(tmp_path / "kitab.toml")
    catalogue = {r.key: r for n in PROVIDER_FILES for r in open_catalogue(data_dir / n)}
    russian = {key for key, record in catalogue.items() if "rus" in _subfield(record, "101", "a")}
    with StateStore.open(config) as store:
        running = start_provider(config, store, port=0)
        try:
            sickle = Sickle(running.url)
            headers = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", set="books:russian"))
            identifiers = {_key(h.identifier): h.identifier for h in headers}
            assert set(identifiers) == russian and len(russian) == 80
            for key in sorted(russian)[:5]:
                record = sickle.GetRecord(identifier=identifiers[key], metadataPrefix="oai_dc")
                assert record.metadata["title"] == _subfield(catalogue[key], "200", "a")
            marc = list(sickle.ListRecords(metadataPrefix="marc21"))
            assert len(marc) == 9
            response = requests.get(
                running.url, params={"verb": "ListRecords", "metadataPrefix": "nonsense"}
            )
            assert b'code="cannotDisseminateFormat"' in response.content
        finally:
            running.stop()


def _subfield(record, tag: str, code: str) -> list[str]:
    return [v for f in record.marc.get_fields(tag) for v in f.get_subfields(code)]


def _key(identifier: str) -> str:
    prefix = "oai:library.example.org:"
    assert identifier.startswith(prefix)
    return unquote(identifier[len(prefix) :])
