"""Jobs against the sandboxes over HTTP: `kitab run`, claims between processes, the daemon,
`kitab status`, and the log an administrator reads.

The secrets here are unusual strings on purpose, so that finding one in a log file means a leak
and not a coincidence with a word like "kitab".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from lxml import etree
from targets import EXAMPLES, RECORDS, dspace_login, make_catalogue
from targets import dspace_items as raw_dspace_items
from targets import omeka_items as raw_omeka_items

from kitab.cli import main
from kitab.config import load_config
from kitab.service.history import History
from kitab.sync.state import StateStore

SECRETS = {
    "KITAB_SVC_DSPACE_PASSWORD": "dsp-Pw-7Q2v9xL",
    "KITAB_SVC_OMEKA_ID": "omk-Id-K4c8rT",
    "KITAB_SVC_OMEKA_CREDENTIAL": "omk-Cred-Z3x6wB",
}
BROKEN = "broken-marc21-invalid-utf8-ruby.marc"  # one record, 000039829, bad UTF-8 in 245
ITEMS = RECORDS + 1  # the items the sample catalogue makes (see tests/targets.py)
MARC = "{http://www.loc.gov/MARC21/slim}"


@pytest.fixture
def omeka(tmp_path):
    from kitab.sandbox.omeka import start

    sandbox = start(
        tmp_path / "omeka",
        key_identity=SECRETS["KITAB_SVC_OMEKA_ID"],
        key_credential=SECRETS["KITAB_SVC_OMEKA_CREDENTIAL"],
    )
    yield sandbox
    sandbox.stop()


@pytest.fixture
def dspace(tmp_path):
    from kitab.sandbox.dspace import start

    sandbox = start(tmp_path / "dspace", admin_password=SECRETS["KITAB_SVC_DSPACE_PASSWORD"])
    yield sandbox
    sandbox.stop()


def omeka_target(sandbox) -> str:
    return f"""[targets.district]
kind = "omeka"
url = "{sandbox.url}"
key_identity_env = "KITAB_SVC_OMEKA_ID"
key_credential_env = "KITAB_SVC_OMEKA_CREDENTIAL"
item_set = {sandbox.item_set_id}
"""


def dspace_target(sandbox) -> str:
    return f"""[targets.district]
kind = "dspace"
url = "{sandbox.url}"
collection = "{sandbox.collection_handle}"
user = "admin@example.org"
password_env = "KITAB_SVC_DSPACE_PASSWORD"
"""


def project(tmp_path: Path, data_dir: Path, target: str, jobs: str, *, broken=False) -> Path:
    """A kitab.toml over a copy of the sample catalogue, set up as an administrator would."""
    catalogue = make_catalogue(tmp_path, data_dir)
    if broken:
        (catalogue / BROKEN).write_bytes((data_dir / BROKEN).read_bytes())
    file = tmp_path / "kitab.toml"
    file.write_text(
        f"""[catalogue]
path = "exports"
[scans]
path = "{EXAMPLES / "scans"}"
match = ["control-number", "856"]
{target}
{jobs}""",
        encoding="utf-8",
    )
    result = kitab("setup", "-c", file, "--apply")
    assert result.exit_code == 0, result.output
    return file


def kitab(*args, env=None):
    """The CLI in this process (standard output and error apart)."""
    return CliRunner().invoke(main, [str(a) for a in args], env={**SECRETS, **(env or {})})


def spawn(*args) -> subprocess.Popen:
    env = {**os.environ, **SECRETS, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "kitab", *(str(a) for a in args)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def store_of(file: Path) -> StateStore:
    return StateStore(load_config(file).state_path)


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def by_control_number(pairs) -> dict[str, dict]:
    """Items by control number (the key after its ``003:``), one item per record."""
    found: dict[str, dict] = {}
    for key, item in pairs:
        control = key.rsplit(":", 1)[-1]
        assert control not in found, f"two items for {control}"
        found[control] = item
    return found


def omeka_items(sandbox) -> dict[str, dict]:
    keys = {
        "key_identity": SECRETS["KITAB_SVC_OMEKA_ID"],
        "key_credential": SECRETS["KITAB_SVC_OMEKA_CREDENTIAL"],
    }
    return by_control_number(raw_omeka_items(sandbox.url, keys))


def test_run_push_sync_and_status_on_omeka(tmp_path, data_dir, omeka):
    file = project(
        tmp_path,
        data_dir,
        omeka_target(omeka),
        """[jobs.nightly]
kind = "push"
target = "district"
[jobs.twoway]
kind = "sync"
target = "district"
out = "pulled"
""",
        broken=True,
    )
    result = kitab("run", "nightly", "-c", file, "--json")
    assert result.exit_code == 1, result.output  # the unreadable record is a failure...
    run = json.loads(result.stdout)
    assert (run["job"], run["kind"], run["target"], run["trigger"]) == (
        "nightly",
        "push",
        "district",
        "manual",
    )
    assert run["outcome"] == "failed"
    assert run["counts"]["push"]["create"] == ITEMS  # ...and everything else went through
    (failure,) = run["failures"]
    assert failure["record"].startswith("000039829 (")
    assert failure["record"].endswith(f"{BROKEN}, record 1, byte 0)")
    assert "undecodable bytes in field 245" in failure["error"]
    items = omeka_items(omeka)
    assert len(items) == ITEMS
    assert items["000104"]["dcterms:title"][0]["@value"].startswith("Oʻtkan kunlar")

    writes = omeka.stats()["writes"]
    again = json.loads(kitab("run", "nightly", "-c", file, "--json").stdout)
    assert again["counts"]["push"]["unchanged"] == ITEMS
    assert omeka.stats()["writes"] == writes

    # A cataloguer retitles 000101 in Omeka S while the library system retitles it too.
    item = items["000101"]
    url = f"{omeka.url}/api/items/{item['o:id']}"
    keys = {
        "key_identity": SECRETS["KITAB_SVC_OMEKA_ID"],
        "key_credential": SECRETS["KITAB_SVC_OMEKA_CREDENTIAL"],
    }
    current = requests.get(url, params=keys).json()
    current["dcterms:title"][0]["@value"] = "Dədə Qorqud kitabı"
    assert requests.put(url, params=keys, json=current).status_code == 200
    export = tmp_path / "exports" / "qazax-marc21.xml"
    text = export.read_text(encoding="utf-8")
    export.write_text(text.replace("Kitabi Dədə Qorqud :", "Kitabi Dədə Qorqud (yeni nəşr) :"))
    synced = json.loads(kitab("run", "twoway", "-c", file, "--json").stdout)
    assert set(synced["counts"]) == {"pull", "push"}

    result = kitab("status", "-c", file, "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)["targets"]["district"]
    assert status["kind"] == "omeka"
    assert status["items_linked"] == ITEMS
    assert status["pending"]["bad_records"] == 1
    (conflict,) = status["conflicts"]["open"]
    assert status["conflicts"]["count"] == 1
    assert conflict["record"].startswith("000101 (qazax-marc21.xml")
    assert conflict["field"] == "dcterms:title"
    assert conflict["repository"] == ["Dədə Qorqud kitabı"]
    assert any("yeni nəşr" in value for value in conflict["catalogue"])
    failed = {(f["run"], f["record"].split(" ")[0]) for f in status["failures"]}
    assert ("push", "000039829") in failed
    jobs = {job["name"]: job for job in status["jobs"]}
    assert jobs["nightly"]["last_run"]["counts"]["push"]["unchanged"] == ITEMS
    assert jobs["nightly"]["schedule"] is None and jobs["nightly"]["next_run"] is None
    assert jobs["twoway"]["last_run"]["id"] == synced["id"]
    assert set(status["last_runs"]) == {"push", "pull"}
    assert status["claims"] == []
    text = kitab("status", "-c", file).stdout
    assert "== district (omeka)\n  items linked: 12\n  changes pending: " in text
    assert "  unreadable records in the catalogue: 1\n  unresolved conflicts: 1\n" in text
    assert f"    #{conflict['id']} {conflict['record']} dcterms:title\n" in text
    assert "  job twoway (sync, by hand): last " in text
    assert "    failed 000039829 (" in text

    with store_of(file) as store:
        history = History(store).runs()
    assert [(r.job, r.outcome) for r in history] == [
        ("twoway", synced["outcome"]),
        ("nightly", "failed"),
        ("nightly", "failed"),
    ]


def test_a_job_that_cannot_reach_its_target_is_an_error_in_history(tmp_path, data_dir, omeka):
    file = project(
        tmp_path,
        data_dir,
        omeka_target(omeka),
        '[jobs.nightly]\nkind = "push"\ntarget = "district"\n',
    )
    result = kitab("run", "nightly", "-c", file, env={"KITAB_SVC_OMEKA_CREDENTIAL": ""})
    assert result.exit_code == 3
    assert "nightly (push → district): error" in result.stdout
    assert "$KITAB_SVC_OMEKA_CREDENTIAL" in result.stdout
    assert "Traceback" not in result.output
    with store_of(file) as store:
        (run,) = History(store).runs(job="nightly")
        assert run.outcome == "error" and "KITAB_SVC_OMEKA_CREDENTIAL" in run.message
        assert store.claims() == []  # released though the job failed

    unknown = kitab("run", "weekly", "-c", file)
    assert unknown.exit_code == 2 and "no job named 'weekly' (jobs: nightly)" in unknown.output


def dspace_items(sandbox) -> dict[str, dict]:
    session, _ = dspace_login(sandbox.url, SECRETS["KITAB_SVC_DSPACE_PASSWORD"])
    return by_control_number(raw_dspace_items(session, sandbox.url))


def test_runs_never_overlap_and_a_killed_holder_lets_go(tmp_path, data_dir, dspace):
    file = project(
        tmp_path,
        data_dir,
        dspace_target(dspace),
        """[sync]
concurrency = 1
[jobs.nightly]
kind = "push"
target = "district"
lease_seconds = 3
[jobs.backfill]
kind = "pull"
target = "district"
lease_seconds = 3
""",
    )
    dspace.injector.plan.update({"latency_ms": 300})  # a slow repository: the run takes a while
    first = spawn("run", "nightly", "-c", file)
    store = store_of(file)
    claimed = wait_for(
        lambda: [owner for name, owner, _ in store.claims() if name == "job:nightly"],
        30,
        "the first run's claim",
    )
    owner = claimed[0]
    assert f":{first.pid}:" in owner
    time.sleep(3.5)  # longer than the lease: only the heartbeat can have kept the claim
    assert first.poll() is None, "the first run ended too soon to test anything"
    live = {name: holder for name, holder, _ in store.claims()}
    assert live == {"job:nightly": owner, "target:district": owner}

    second = kitab("run", "nightly", "-c", file, "--json")
    assert second.exit_code == 0, second.output  # skipped is not an error
    skipped = json.loads(second.stdout)
    assert skipped["outcome"] == "skipped"
    started = History(store).started_by(owner).started_at
    assert skipped["message"] == f"already running (job:nightly held by {owner} since {started})"
    other = json.loads(kitab("run", "backfill", "-c", file, "--json").stdout)
    assert other["outcome"] == "skipped"  # another job, but the same repository
    assert f"target:district held by {owner}" in other["message"]

    first.send_signal(signal.SIGKILL)
    first.wait()
    assert owner in {holder for _, holder, _ in store.claims()}  # a dead holder's claim...
    wait_for(lambda: not store.claims(), 8, "the killed run's claims to expire")  # ...expires
    dspace.injector.plan.update({"latency_ms": 0})
    third = kitab("run", "nightly", "-c", file, "--json")
    assert third.exit_code == 0, third.output
    assert json.loads(third.stdout)["outcome"] == "ok"
    assert len(dspace_items(dspace)) == ITEMS  # resumed, no duplicates

    runs = History(store).runs(job="nightly")
    assert [(r.outcome, r.trigger) for r in runs] == [
        ("ok", "manual"),
        ("skipped", "manual"),
        ("interrupted", "manual"),
    ]
    assert runs[2].owner == owner and runs[2].finished_at is None
    assert store.claims() == []
    store.close()


def test_daemon_runs_the_schedule_and_stops_cleanly(tmp_path, data_dir, omeka):
    file = project(
        tmp_path,
        data_dir,
        omeka_target(omeka),
        """[jobs.nightly]
kind = "push"
target = "district"
every = "1s"
lease_seconds = 30
[jobs.national]
kind = "export"
out = "national/catalogue.xml"
every = "1s"
[jobs.weekly]
kind = "sync"
target = "district"
schedule = "30 2 * * 1"
timezone = "Asia/Tashkent"
""",
    )
    log_file = tmp_path / "logs" / "kitab.log"
    daemon = spawn("--log-level", "DEBUG", "--log-file", log_file, "daemon", "-c", file)
    store = store_of(file)
    try:
        wait_for(
            lambda: len([r for r in History(store).runs(job="nightly") if r.finished_at]) >= 3,
            60,
            "three scheduled runs",
        )
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err.decode()
    assert store.claims() == []  # released by each run, not left to expire (lease 30 s)

    history = History(store)
    runs = sorted(history.runs(job="nightly"), key=lambda r: r.started_at)
    assert {(r.outcome, r.trigger) for r in runs} == {("ok", "schedule")}
    assert runs[0].counts["push"]["create"] == ITEMS
    assert all(r.counts["push"]["unchanged"] == ITEMS for r in runs[1:])
    for before, after in pairwise(runs):
        assert before.finished_at <= after.started_at  # one at a time
    exports = history.runs(job="national")
    assert exports and {r.outcome for r in exports} == {"ok"}
    assert exports[0].counts["export"] == {"written": ITEMS, "skipped": 0}
    assert history.runs(job="weekly") == []

    national = etree.parse(str(tmp_path / "national" / "catalogue.xml")).getroot()
    records = national.findall(f"{MARC}record")
    assert len(records) == ITEMS
    by_control = {r.findtext(f"{MARC}controlfield[@tag='001']"): r for r in records}
    title = by_control["000104"].find(f"{MARC}datafield[@tag='245']")
    assert [(s.get("code"), s.text) for s in title] == [
        ("a", "Oʻtkan kunlar :"),
        ("b", "roman /"),
        ("c", "Abdulla Qodiriy."),
    ]

    status = json.loads(kitab("status", "-c", file, "--json").stdout)
    district = status["targets"]["district"]
    assert district["items_linked"] == ITEMS
    assert district["pending"] == {"changes": 0, "by_action": {}, "bad_records": 0, "error": None}
    assert district["conflicts"] == {"count": 0, "open": []}
    assert district["failures"] == [] and district["claims"] == [] and status["claims"] == []
    jobs = {job["name"]: job for job in district["jobs"]}
    assert jobs["nightly"]["schedule"] == "every 1s"
    assert jobs["nightly"]["last_run"]["outcome"] == "ok"
    assert jobs["nightly"]["last_run"]["id"] == runs[-1].id
    weekly = jobs["weekly"]
    assert weekly["last_run"] is None
    assert weekly["schedule"] == "30 2 * * 1 (Asia/Tashkent)"
    assert datetime.fromisoformat(weekly["next_run"]).strftime("%a %H:%M %z") == "Mon 02:30 +0500"
    (national_job,) = status["other_jobs"]
    assert national_job["name"] == "national"
    assert national_job["last_run"]["counts"]["export"]["written"] == ITEMS

    text = log_file.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert all(line.startswith("time=") and " level=" in line for line in lines)
    for secret in SECRETS.values():
        assert secret not in text
    assert "key_identity=***" in text  # the request URLs were logged, without their keys
    for control, item in omeka_items(omeka).items():
        created = [
            line
            for line in lines
            if f'record="{control} (' in line and f"item={item['o:id']} action=create" in line
        ]
        assert len(created) == 1, control
        assert len([line for line in lines if f'record="{control} (' in line]) == len(runs)
    assert "event=daemon-stopped clean=True" in text


def test_a_second_signal_stops_the_daemon_at_once_and_frees_the_claims(tmp_path, data_dir, omeka):
    file = project(
        tmp_path,
        data_dir,
        omeka_target(omeka),
        """[sync]
concurrency = 1
[jobs.nightly]
kind = "push"
target = "district"
every = "1s"
lease_seconds = 30
""",
    )
    omeka.injector.plan.update({"latency_ms": 300})  # the first push takes several seconds
    log_file = tmp_path / "kitab.log"
    daemon = spawn("--log-file", log_file, "daemon", "-c", file)
    store = store_of(file)
    try:
        # both claims taken (job and target: they are taken one after the other)
        wait_for(lambda: len(store.claims()) == 2, 30, "the first scheduled run")
        daemon.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert daemon.poll() is None  # the first signal waits for the running push
        assert {name for name, _, _ in store.claims()} == {"job:nightly", "target:district"}
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=10)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0
    assert store.claims() == []  # released on the way out, not left to their 30 s lease
    (run,) = History(store).runs(job="nightly")
    assert (run.outcome, run.trigger) == ("interrupted", "schedule")
    assert run.message == "the daemon was told to stop at once while this run was going"
    text = log_file.read_text(encoding="utf-8")
    assert "event=daemon-stopping waiting_for=nightly" in text
    assert f"event=job-abandoned job=nightly run={run.id}" in text
    assert "event=daemon-stopped clean=False" in text

    omeka.injector.plan.update({"latency_ms": 0})
    resumed = json.loads(kitab("run", "nightly", "-c", file, "--json").stdout)
    assert resumed["outcome"] == "ok"
    assert len(omeka_items(omeka)) == ITEMS  # the journal resumed it: no duplicates
    store.close()


def test_a_harvest_job_claims_its_source_and_pushes_into_its_target(tmp_path, data_dir, omeka):
    from kitab.harvest.server import start

    catalogue = make_catalogue(tmp_path / "library", data_dir)
    library = tmp_path / "library" / "kitab.toml"
    library.write_text(f'[catalogue]\npath = "{catalogue}"\n', encoding="utf-8")
    provider_config = load_config(library)
    with StateStore(provider_config.state_path) as provider_state:
        provider = start(provider_config, provider_state, port=0)
        try:
            file = project(
                tmp_path / "union",
                data_dir,
                omeka_target(omeka)
                + f'[sources.district]\nurl = "{provider.url}"\nprefix = "marc21"\n'
                'out = "harvested/district.xml"\ntarget = "district"\n',
                '[jobs.gather]\nkind = "harvest"\nsource = "district"\n',
            )
            with store_of(file) as store:
                assert store.claim("source:district", "elsewhere:77:0badf00d", 30)
                blocked = json.loads(kitab("run", "gather", "-c", file, "--json").stdout)
                assert blocked["outcome"] == "skipped"
                assert blocked["message"] == (
                    "already running (source:district held by elsewhere:77:0badf00d since unknown)"
                )
                store.release("source:district", "elsewhere:77:0badf00d")

            result = kitab("run", "gather", "-c", file, "--json")
        finally:
            provider.stop()
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert (run["kind"], run["target"], run["outcome"]) == ("harvest", "district", "ok")
    # marc21 is offered for the eight MARC 21 records; UNIMARC ones only in their own format
    assert run["counts"]["harvest"] == {"new": 8, "written": 8}
    assert run["counts"]["push"]["create"] == 8
    held = etree.parse(str(tmp_path / "union" / "harvested" / "district.xml")).getroot()
    by_control = {
        r.findtext(f"{MARC}controlfield[@tag='001']"): r for r in held.findall(f"{MARC}record")
    }
    assert sorted(by_control) == [f"00010{n}" for n in range(1, 9)]
    title = by_control["000101"].find(f"{MARC}datafield[@tag='245']/{MARC}subfield[@code='a']")
    assert title.text == "Kitabi Dədə Qorqud :"
    items = omeka_items(omeka)
    assert sorted(items) == sorted(by_control)
    assert items["000101"]["dcterms:title"][0]["@value"].startswith("Kitabi Dədə Qorqud")


def test_a_claim_held_by_a_dead_process_of_this_machine_is_freed_at_once(tmp_path):
    import socket

    from kitab.service.claims import claimed

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with StateStore(tmp_path / "state.sqlite") as store:
        store.claim("target:t", f"{socket.gethostname()}:{dead.pid}:0000", ttl=600)
        store.claim("target:u", f"elsewhere:{os.getpid()}:0000", ttl=600)
        with claimed(store, ["target:t"]) as holder:
            assert holder is None  # the dead holder no longer blocks
        with claimed(store, ["target:u"]) as holder:
            assert holder is not None and holder.owner.startswith("elsewhere:")
