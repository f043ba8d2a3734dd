"""The DSpace connector against the DSpace sandbox over real HTTP on 127.0.0.1.

Items are built from real catalogue records (read here with pymarc, field by field) and checked
against what the record says after a round trip through the server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymarc
import pytest

from kitab.connectors.base import (
    AuthError,
    NotFound,
    Rejected,
    Repository,
    Unavailable,
)
from kitab.connectors.dspace import DSpaceConnector, DSpaceSettings
from kitab.connectors.http import RetryPolicy
from kitab.connectors.secrets import SecretSource
from kitab.model import FileRef, Item, Value, identity_value

FAST = RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.05, jitter=0.01, read_timeout=30)
ARABIC = "marc21-utf8-arabic-catmandu-oschrift.mrc"
RUSSIAN = "marc21-utf8-many856-pymarc-regression45.dat"


def records(path: Path) -> list[pymarc.Record]:
    with path.open("rb") as stream:
        return [r for r in pymarc.MARCReader(stream, to_unicode=True, force_utf8=True) if r]


def item_from(record: pymarc.Record, files: list[FileRef] | None = None) -> Item:
    """What a MARC 21 → DC crosswalk would send, taken straight from the record."""
    key = record["001"].data.strip()
    title = record["245"]
    subjects = [f["a"].rstrip(".") for f in record.get_fields("650") if f["a"]]
    metadata = {
        "dc.title": [Value(title["a"].rstrip(" /:"))],
        "dc.identifier.other": [Value(identity_value(key))],
    }
    if subjects:
        metadata["dc.subject"] = [Value(s) for s in subjects]
    return Item(key=key, metadata=metadata, files=files or [])


@pytest.fixture
def sandbox(tmp_path: Path, dspace_sandbox):
    return dspace_sandbox


def connect(sandbox, **overrides) -> DSpaceConnector:
    settings = {
        "url": sandbox.url,
        "collection": sandbox.collection_uuid,
        "user": sandbox.user,
        "password": sandbox.password,
        **overrides,
    }
    return DSpaceConnector(DSpaceSettings(**settings), policy=overrides.pop("policy", FAST))


@pytest.fixture
def scan(tmp_path: Path) -> FileRef:
    path = tmp_path / "p001.tif"
    path.write_bytes(b"II*\x00" + bytes(range(256)) * 64)
    return FileRef(path, description="page 1")


def test_create_and_find_round_trip(sandbox, data_dir: Path, scan: FileRef):
    record = records(data_dir / ARABIC)[0]
    connector = connect(sandbox)
    assert isinstance(connector, Repository)
    item = item_from(record, [scan])
    assert connector.find(item.key) is None

    created = connector.create(item)
    found = connector.find(item.key)
    assert found is not None and found.id == created.id
    assert found.key == "9789264310032-ar"
    title = found.metadata["dc.title"]
    assert title == [Value("منطقة الشرق الأوسط وشمال أفريقيا المتوسطية 2018")]
    assert [v.value for v in found.metadata["dc.subject"]] == [
        f["a"] for f in record.get_fields("650")
    ]
    assert found.metadata["dc.identifier.other"] == [Value("kitab:9789264310032-ar")]
    # Installation adds a handle URI; that is where people see the item.
    assert found.url == found.metadata["dc.identifier.uri"][0].value
    assert [(f.name, f.size, f.checksum, f.algorithm) for f in found.files] == [
        ("p001.tif", scan.size, scan.md5, "MD5")
    ]
    assert created.files[0].checksum == scan.md5
    assert found.public and not found.withdrawn
    assert connector.get(created.id).metadata == found.metadata


def test_new_item_with_one_file_costs_three_requests(sandbox, data_dir: Path, scan: FileRef):
    first, second = records(data_dir / RUSSIAN)[:2]
    connector = connect(sandbox)
    connector.create(item_from(first, [scan]))  # login, registry, collection: once per run
    sandbox.reset_stats()
    connector.create(item_from(second, [scan]))
    stats = sandbox.stats()
    assert stats["total"] == 3, stats  # item + ORIGINAL bundle + upload
    assert stats.get("GET", 0) == 0


def test_collection_by_handle(sandbox, data_dir: Path):
    connector = connect(sandbox, collection=sandbox.collection_handle)
    record = records(data_dir / RUSSIAN)[3]
    created = connector.create(item_from(record))
    assert connector.collection_uuid() == sandbox.collection_uuid
    assert created.id in {i.id for i in connector.iter_items()}


def test_update_sends_only_the_changed_fields(sandbox, data_dir: Path):
    record = records(data_dir / RUSSIAN)[0]
    connector = connect(sandbox)
    item = item_from(record)
    created = connector.create(item)
    # A cataloguer adds a note in the DSpace UI; kitab does not own that field.
    connector.update_metadata(created.id, {"dc.description": [Value("added in the UI", "en")]})

    sandbox.reset_stats()
    subjects = [Value("Одна"), Value("Две", "ru"), Value("Три")]
    updated = connector.update_metadata(
        created.id, {"dc.title": [Value("Corrected title", "en")], "dc.subject": subjects}
    )
    assert sandbox.stats()["PATCH"] == 1
    assert sandbox.stats()["total"] == 1
    assert updated.metadata["dc.title"] == [Value("Corrected title", "en")]
    assert updated.metadata["dc.subject"] == subjects  # all three, in order
    assert updated.metadata["dc.description"] == [Value("added in the UI", "en")]
    assert updated.metadata["dc.identifier.other"] == item.metadata["dc.identifier.other"]
    assert "dc.date.accessioned" in updated.metadata  # server-made values survive

    cleared = connector.update_metadata(created.id, {"dc.subject": []})
    assert "dc.subject" not in cleared.metadata
    assert cleared.metadata["dc.title"] == [Value("Corrected title", "en")]


def test_unknown_field_is_refused_before_any_write(sandbox, data_dir: Path):
    connector = connect(sandbox)
    created = connector.create(item_from(records(data_dir / RUSSIAN)[1]))
    sandbox.reset_stats()
    with pytest.raises(Rejected, match=r"dc\.not\.a_field"):
        connector.update_metadata(created.id, {"dc.not.a_field": [Value("x")]})
    with pytest.raises(Rejected, match=r"local\.nope"):
        connector.create(Item("k-unknown", {"local.nope": [Value("x")]}))
    assert sandbox.stats().get("writes", 0) == 0


def test_files_add_replace_keep_position_remove(sandbox, data_dir: Path, tmp_path: Path):
    pages = []
    for n in range(1, 4):
        path = tmp_path / f"p00{n}.tif"
        path.write_bytes(f"page {n} ".encode() * (1000 * n))
        pages.append(FileRef(path))
    connector = connect(sandbox)
    created = connector.create(item_from(records(data_dir / RUSSIAN)[2], pages[:2]))

    added = connector.add_file(created.id, pages[2])
    assert added.position == 2
    files = connector.list_files(created.id)
    assert [(f.name, f.checksum) for f in files] == [(p.name, p.md5) for p in pages]

    rescanned = tmp_path / "p003-rescan.tif"
    rescanned.write_bytes(b"a better scan of page 3" * 300)
    new = connector.replace_file(created.id, files[2], FileRef(rescanned))
    assert new.position == 2
    after = connector.list_files(created.id)
    assert [f.name for f in after] == ["p001.tif", "p002.tif", "p003-rescan.tif"]
    assert after[2].checksum == FileRef(rescanned).md5

    connector.remove_file(created.id, after[1].id)
    connector.remove_file(created.id, after[1].id)  # already gone: not an error
    assert [f.name for f in connector.list_files(created.id)] == ["p001.tif", "p003-rescan.tif"]


def test_replacing_a_middle_file_keeps_its_place(sandbox, data_dir: Path, tmp_path: Path):
    pages = []
    for n in range(1, 4):
        path = tmp_path / f"p00{n}.tif"
        path.write_bytes(f"page {n} ".encode() * (1000 * n))
        pages.append(FileRef(path))
    connector = connect(sandbox)
    created = connector.create(item_from(records(data_dir / RUSSIAN)[3], pages))
    files = connector.list_files(created.id)
    rescanned = tmp_path / "p001-rescan.tif"
    rescanned.write_bytes(b"a better scan of page 1" * 300)
    sandbox.reset_stats()
    new = connector.replace_file(created.id, files[0], FileRef(rescanned))
    assert sandbox.stats()["PATCH"] == 1  # upload, move, delete
    assert new.position == 0
    after = connector.list_files(created.id)
    assert [f.name for f in after] == ["p001-rescan.tif", "p002.tif", "p003.tif"]


def test_withdraw_and_visibility_still_found(sandbox, data_dir: Path):
    connector = connect(sandbox)
    created = connector.create(item_from(records(data_dir / RUSSIAN)[4]))
    connector.set_public(created.id, False)
    connector.withdraw(created.id)
    connector.withdraw(created.id)  # harmless when repeated
    found = connector.find(created.key)
    assert found is not None and found.withdrawn and not found.public


def test_changed_since_and_iter_items_follow_every_page(sandbox, data_dir: Path):
    connector = connect(sandbox, page_size=2)
    before = datetime.now(UTC) - timedelta(seconds=2)
    ids = {connector.create(item_from(r)).id for r in records(data_dir / RUSSIAN)[5:10]}
    assert ids <= {i.id for i in connector.iter_items()}
    changed = list(connector.changed_since(before))
    assert ids <= {i.id for i in changed}
    assert len(changed) == len({i.id for i in changed})  # no duplicates across pages
    assert all(i.modified is not None and i.modified >= before for i in changed)
    assert list(connector.changed_since(datetime.now(UTC) + timedelta(days=1))) == []


def test_bad_password_is_a_clear_error_without_the_secret(sandbox, monkeypatch):
    monkeypatch.setenv("KITAB_TEST_DSPACE_PASSWORD", "wrong-Secret-42")
    source = SecretSource("DSpace password", env="KITAB_TEST_DSPACE_PASSWORD")
    connector = connect(sandbox, password=source)
    with pytest.raises(AuthError) as caught:
        connector.find("anything")
    assert sandbox.user in str(caught.value)
    assert "wrong e-mail or password" in str(caught.value)
    assert "wrong-Secret-42" not in str(caught.value)


def test_expired_token_is_renewed_transparently(sandbox, data_dir: Path):
    sandbox.app.jwt_ttl = 1.5
    connector = connect(sandbox)
    created = connector.create(item_from(records(data_dir / RUSSIAN)[10]))
    time.sleep(2.0)  # well past exp on both clocks
    connector.update_metadata(created.id, {"dc.description": [Value("after expiry")]})
    assert connector.session.logins == 2


def test_csrf_token_rotates_on_refresh_and_is_adopted(sandbox, data_dir: Path):
    sandbox.app.jwt_ttl = 4
    connector = connect(sandbox)
    created = connector.create(item_from(records(data_dir / RUSSIAN)[9]))
    first_csrf = connector.session._csrf
    time.sleep(3.4)  # inside the refresh margin (20 % of the lifetime), not yet expired
    connector.update_metadata(created.id, {"dc.description": [Value("after refresh")]})
    assert (connector.session.logins, connector.session.refreshes) == (1, 1)
    assert connector.session._csrf != first_csrf  # the refresh rotated it; the write used it


def test_csrf_refusal_is_retried_once_with_the_new_token(sandbox, data_dir: Path):
    connector = connect(sandbox)
    created = connector.create(item_from(records(data_dir / RUSSIAN)[10]))
    connector.session._csrf = None  # a token lost mid-session: the next write is refused
    sandbox.reset_stats()
    updated = connector.update_metadata(created.id, {"dc.description": [Value("retried")]})
    assert updated.metadata["dc.description"] == [Value("retried")]
    assert sandbox.stats()["PATCH"] == 2  # the 403 and its one retry


def test_oversized_upload_is_a_clear_refusal(sandbox, data_dir: Path, tmp_path: Path):
    connector = connect(sandbox)
    created = connector.create(item_from(records(data_dir / RUSSIAN)[11]))
    sandbox.app.max_upload = 64 * 1024
    path = tmp_path / "huge.tif"
    path.write_bytes(b"x" * 200 * 1024)
    with pytest.raises(Rejected, match=r"huge\.tif .*larger than this DSpace accepts"):
        connector.add_file(created.id, FileRef(path))
    assert connector.list_files(created.id) == []


@pytest.mark.parametrize("version", ["7.6.3", "8.1", "9.1", "9.3"])
def test_release_differences(tmp_path: Path, data_dir: Path, scan: FileRef, version: str):
    """CSRF without GET tokens (8.0-8.2, 9.0-9.1), the 400/422 unknown-field answer, date
    formats: the same calls work on every modelled release."""
    from kitab.sandbox.dspace import start

    sandbox = start(tmp_path / version, version=version)
    try:
        connector = connect(sandbox)
        record = records(data_dir / ARABIC)[0]
        created = connector.create(item_from(record, [scan]))
        assert connector.server_version[:2] == tuple(int(p) for p in version.split("."))[:2]
        updated = connector.update_metadata(created.id, {"dc.subject": [Value("Trade")]})
        assert updated.metadata["dc.subject"] == [Value("Trade")]
        with pytest.raises(Rejected, match=r"dc\.nope"):
            connector.update_metadata(created.id, {"dc.nope": [Value("x")]})
        changed = list(connector.changed_since(created.modified - timedelta(seconds=1)))
        assert [i.id for i in changed] == [created.id]
        assert changed[0].modified.tzinfo is not None
        assert changed[0].files[0].checksum == scan.md5
    finally:
        sandbox.stop()


def test_lost_token_triggers_one_relogin(sandbox, data_dir: Path):
    """A token the server no longer honours (revoked, server restarted) answers 401; the
    connector logs in again once, even when several threads hit the 401 together."""
    connector = connect(sandbox)
    created = connector.create(item_from(records(data_dir / RUSSIAN)[11]))
    sandbox.expire_tokens()  # as a logout elsewhere would: the server now ignores our JWT

    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            connector.update_metadata(created.id, {"dc.description": [Value(f"worker {n}")]})
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert connector.session.logins == 2


def test_status_codes_become_typed_errors(sandbox, data_dir: Path):
    connector = connect(sandbox)
    with pytest.raises(NotFound):
        connector.get("00000000-0000-0000-0000-000000000000")
    created = connector.create(item_from(records(data_dir / RUSSIAN)[6]))
    for status, error in ((422, Rejected), (403, AuthError), (400, Rejected)):
        sandbox.injector.plan.update({"fail_next": 1, "status": status})
        with pytest.raises(error) as caught:
            connector.update_metadata(created.id, {"dc.description": [Value("x")]})
        assert caught.value.status == status
        assert caught.value.path == f"/server/api/core/items/{created.id}"


def test_transient_faults_are_retried_to_success(sandbox, data_dir: Path, scan: FileRef):
    connector = connect(sandbox)
    connector.find("warm-up")
    sandbox.injector.plan.update({"fail_next": 2, "status": 503, "retry_after": 0})
    created = connector.create(item_from(records(data_dir / RUSSIAN)[7], [scan]))
    assert created.files[0].checksum == scan.md5
    sandbox.injector.plan.update({"drop_next": 1, "retry_after": None})
    assert connector.get(created.id).id == created.id  # a GET is retried after a reset
    sandbox.injector.plan.update({"fail_next": 1, "status": 429, "retry_after": 1})
    started = time.monotonic()
    assert connector.find(created.key) is not None
    assert time.monotonic() - started >= 0.9  # Retry-After honoured, not just backoff


def test_persistent_failure_and_unsafe_retry_end_clearly(sandbox, data_dir: Path):
    connector = connect(sandbox)
    connector.find("warm-up")
    sandbox.injector.plan.update({"fail_next": 50, "status": 503, "retry_after": 0})
    with pytest.raises(Unavailable):
        connector.find("x")
    sandbox.injector.plan.update({"fail_next": 0})

    # A POST whose connection died may have been processed: it is not repeated blindly.
    item = item_from(records(data_dir / RUSSIAN)[8])
    sandbox.reset_stats()
    sandbox.injector.plan.update({"drop_next": 1, "writes_only": True})
    with pytest.raises(Unavailable):
        connector.create(item)
    assert sandbox.stats()["POST"] == 1


def test_many_threads_share_one_login(sandbox, data_dir: Path):
    connector = connect(sandbox)
    items = [item_from(r) for r in records(data_dir / ARABIC)[:1] + records(data_dir / RUSSIAN)]
    created: list[str] = []
    lock = threading.Lock()

    def push(item: Item) -> None:
        result = connector.create(item)
        with lock:
            created.append(result.id)

    threads = [threading.Thread(target=push, args=(i,)) for i in items[:8]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == 8
    assert connector.session.logins == 1


UPLOAD_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from kitab.connectors.dspace import DSpaceConnector, DSpaceSettings
    from kitab.model import FileRef, Item, Value

    url, collection, user, password, path = sys.argv[1:6]
    connector = DSpaceConnector(DSpaceSettings(url, collection, user, password))
    connector.find("warm-up")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    file = FileRef(path)
    metadata = {"dc.title": [Value("big")], "dc.identifier.other": [Value("kitab:big-1")]}
    item = Item("big-1", metadata, [file])
    created = connector.create(item)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"growth_kb": after - before, "checksum": created.files[0].checksum,
                      "size": created.files[0].size}))
    """
)


@pytest.mark.slow
def test_200_mb_upload_keeps_memory_flat(sandbox, tmp_path: Path):
    size = 200 * 1024 * 1024
    path = tmp_path / "big.tif"
    with path.open("wb") as stream:
        stream.truncate(size)  # sparse: costs no disk
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            UPLOAD_SCRIPT,
            sandbox.url,
            sandbox.collection_uuid,
            *[sandbox.user, sandbox.password, str(path)],
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    path.unlink()
    assert figures["size"] == size
    assert figures["checksum"] == "3566de3a97906edb98d004d6b947ae9b"  # MD5 of 200 MiB of zeros
    assert figures["growth_kb"] < 20 * 1024, figures  # far below the 200 MB file
