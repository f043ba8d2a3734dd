"""The state store on a real SQLite file: links, journal, runs, watermarks, upgrades."""

import sqlite3

import pytest

from kitab.model import Value
from kitab.sync.state import MIGRATIONS, Link, StateStore, SyncedFile


@pytest.fixture
def store(tmp_path):
    with StateStore(tmp_path / "state" / "kitab.sqlite") as s:
        yield s


def test_link_round_trip_keeps_values_languages_and_files(store):
    base = {"dc.title": [Value("Kitabi Dədə Qorqud", "az")], "dc.subject": [Value("Dastan")]}
    store.save_link(
        Link("district", "AZ:1", "uuid-1", "h1", base, [SyncedFile("p1.tif", "b-1", "abc", 10)])
    )
    link = store.get_link("district", "AZ:1")
    assert link.base == base
    assert link.files == [SyncedFile("p1.tif", "b-1", "abc", 10)]
    assert store.link_by_item("district", "uuid-1").key == "AZ:1"
    assert store.get_link("gallery", "AZ:1") is None
    assert store.count_links("district") == 1


def test_iter_links_pages_through_everything_in_key_order(store):
    for n in range(2500):
        store.save_link(Link("t", f"k{n:05d}", f"i{n}", "h", {}))
    keys = [link.key for link in store.iter_links("t")]
    assert keys == sorted(keys) and len(keys) == 2500


def test_open_intents_are_those_never_confirmed(store):
    run = store.start_run("push", "t")
    done = store.journal_intent("t", "k1", "create", {}, run)
    store.journal_close(done, "done", {"item_id": "i1"})
    pending = store.journal_intent("t", "k2", "create", {"files": 2}, run)
    assert [(e.id, e.key, e.detail) for e in store.open_intents("t")] == [
        (pending, "k2", {"files": 2})
    ]
    store.finish_run(run, "ok", {"created": 1}, None)
    assert store.runs(target="t")[0].counts == {"created": 1}


def test_store_survives_reopen_and_upgrades_an_old_schema(tmp_path):
    path = tmp_path / "kitab.sqlite"
    with StateStore(path) as s:
        s.set_watermark("district:remote", "2026-11-01T00:00:00Z")
    MIGRATIONS["test-extra"] = [["CREATE TABLE extra (x INTEGER)"]]
    try:
        with StateStore(path) as s:
            assert s.get_watermark("district:remote") == "2026-11-01T00:00:00Z"
            assert s.schema_version("test-extra") == 1
            assert s.query("SELECT COUNT(*) FROM extra") == [(0,)]
    finally:
        del MIGRATIONS["test-extra"]
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_versions SET version = 99 WHERE component = 'sync'")
    db.commit()
    db.close()
    with pytest.raises(RuntimeError, match="newer kitab"):
        StateStore(path)


def test_checksum_cache_is_invalidated_by_a_changed_file(store, tmp_path):
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"one")
    store.remember_checksums(scan, "m", "s")
    assert store.file_checksums(scan) == ("m", "s")
    scan.write_bytes(b"three")
    assert store.file_checksums(scan) is None


def test_a_claim_is_exclusive_until_released_or_expired(store):
    assert store.claim("job:nightly", "worker-a", ttl=60)
    assert not store.claim("job:nightly", "worker-b", ttl=60)
    assert store.claim("job:nightly", "worker-a", ttl=60)  # ours already: renewed
    assert store.renew("job:nightly", "worker-a", ttl=60)
    assert not store.renew("job:nightly", "worker-b", ttl=60)
    store.release("job:nightly", "worker-a")
    assert store.claim("job:nightly", "worker-b", ttl=0.05)
    import time

    time.sleep(0.1)  # worker-b died without releasing: its lease runs out
    assert [name for name, _, _ in store.claims()] == []
    assert store.claim("job:nightly", "worker-a", ttl=60)
