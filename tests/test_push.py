"""The push guarantees, each proven against a sandbox over real HTTP.

The catalogue is the project's sample (examples/) plus a real RUSMARC record from the shared
test data; every check reads the repository back through its own REST API, not through kitab.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from kitab.config import load_config
from kitab.sync.engine import push
from kitab.sync.relink import relink
from kitab.sync.setup import register_missing
from kitab.sync.state import StateStore
from kitab.sync.targets import open_repository

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RECORDS = 11  # 8 MARC 21 + 3 UNIMARC in examples/catalogue, plus the RUSMARC record below
SCANNED = {"000101": 4, "000104": 1, "000108": 1, "UZ-TSH-2001": 1}


def make_catalogue(tmp_path: Path, data_dir: Path) -> Path:
    catalogue = tmp_path / "exports"
    shutil.copytree(EXAMPLES / "catalogue", catalogue)
    shutil.copy(data_dir / "unimarc-rusmarc-utf8-856-urait.iso", catalogue / "urait.iso")
    return catalogue


class Target:
    """A sandbox and the kitab.toml that points at it; reads items back through raw REST."""

    kind: str

    def __init__(self, sandbox, tmp_path: Path, data_dir: Path, monkeypatch) -> None:
        self.sandbox = sandbox
        self.tmp_path = tmp_path
        make_catalogue(tmp_path, data_dir)
        self.config_file = tmp_path / "kitab.toml"
        self.config_file.write_text(
            f"""
[catalogue]
path = "exports"
[scans]
path = "{EXAMPLES / "scans"}"
match = ["control-number", "856"]
[sync]
concurrency = 4
{self.target_toml()}
[[rights]]
when = {{ field = "506$a", matches = "(?i)restricted" }}
files = "private"
""",
            encoding="utf-8",
        )
        self.set_secrets(monkeypatch)
        self.prepare()

    def prepare(self) -> None:
        """What an administrator does once: `kitab setup --apply`."""
        config = self.config
        repository = open_repository(config.targets["t"])
        try:
            register_missing(config, self.kind, repository)
        finally:
            repository.close()

    @property
    def config(self):
        return load_config(self.config_file)

    def push(self, **kwargs):
        config = self.config
        with StateStore(config.state_path) as store:
            return push(config, config.targets["t"], store, **kwargs)

    def writes(self) -> int:
        return self.sandbox.stats().get("writes", 0)


class DSpaceTarget(Target):
    kind = "dspace"

    def target_toml(self) -> str:
        return f"""[targets.t]
kind = "dspace"
url = "{self.sandbox.url}"
collection = "{self.sandbox.collection_handle}"
user = "admin@example.org"
password_env = "KITAB_TEST_DSPACE_PASSWORD"
"""

    def set_secrets(self, monkeypatch) -> None:
        monkeypatch.setenv("KITAB_TEST_DSPACE_PASSWORD", "kitab")
        self.session = requests.Session()
        api = f"{self.sandbox.url}/api"
        response = self.session.get(f"{api}/security/csrf")
        token = response.headers["DSPACE-XSRF-TOKEN"]
        response = self.session.post(
            f"{api}/authn/login",
            data={"user": "admin@example.org", "password": "kitab"},
            headers={"X-XSRF-TOKEN": token},
        )
        assert response.status_code == 200
        self.session.headers["Authorization"] = response.headers["Authorization"]
        self.csrf = response.headers.get("DSPACE-XSRF-TOKEN", token)

    def items(self) -> dict[str, dict]:
        """Every item by its kitab identity, with its files' names."""
        api = f"{self.sandbox.url}/api"
        found: dict[str, dict] = {}
        page = 0
        while True:
            data = self.session.get(
                f"{api}/discover/search/objects",
                params={
                    "dsoType": "ITEM",
                    "configuration": "administrativeView",
                    "page": page,
                    "size": 100,
                },
            ).json()
            result = data["_embedded"]["searchResult"]
            for hit in result["_embedded"]["objects"]:
                item = hit["_embedded"]["indexableObject"]
                for value in item["metadata"].get("dc.identifier.other", []):
                    if value["value"].startswith("kitab:"):
                        item["files"] = self.files(item["uuid"])
                        found.setdefault(value["value"][6:], []).append(item)
            if page + 1 >= result["page"]["totalPages"]:
                break
            page += 1
        return found

    def files(self, uuid: str) -> list[str]:
        api = f"{self.sandbox.url}/api"
        bundles = self.session.get(f"{api}/core/items/{uuid}/bundles").json()
        names = []
        for bundle in bundles["_embedded"]["bundles"]:
            if bundle["name"] == "ORIGINAL":
                listing = self.session.get(f"{api}/core/bundles/{bundle['uuid']}/bitstreams")
                names += [b["name"] for b in listing.json()["_embedded"]["bitstreams"]]
        return names

    def values(self, item: dict, field: str) -> list[str]:
        return [v["value"] for v in item["metadata"].get(field, [])]

    def title_field(self) -> str:
        return "dc.title"

    def add_value_in_ui(self, item: dict, field: str, value: str) -> None:
        response = self.session.patch(
            f"{self.sandbox.url}/api/core/items/{item['uuid']}",
            json=[{"op": "add", "path": f"/metadata/{field}/-", "value": {"value": value}}],
            headers={"X-XSRF-TOKEN": self.csrf},
        )
        assert response.status_code == 200, response.text


class OmekaTarget(Target):
    kind = "omeka"

    def target_toml(self) -> str:
        return f"""[targets.t]
kind = "omeka"
url = "{self.sandbox.url}"
key_identity_env = "KITAB_TEST_OMEKA_ID"
key_credential_env = "KITAB_TEST_OMEKA_CREDENTIAL"
item_set = {self.sandbox.item_set_id}
"""

    def set_secrets(self, monkeypatch) -> None:
        monkeypatch.setenv("KITAB_TEST_OMEKA_ID", "kitab")
        monkeypatch.setenv("KITAB_TEST_OMEKA_CREDENTIAL", "kitab")
        self.keys = {"key_identity": "kitab", "key_credential": "kitab"}

    def items(self) -> dict[str, dict]:
        found: dict[str, dict] = {}
        page = 1
        while True:
            batch = requests.get(
                f"{self.sandbox.url}/api/items",
                params={**self.keys, "per_page": 100, "page": page},
            ).json()
            if not batch:
                return found
            for item in batch:
                for value in item.get("dcterms:identifier", []):
                    if str(value.get("@value", "")).startswith("kitab:"):
                        item["files"] = self.files(item["o:id"])
                        found.setdefault(value["@value"][6:], []).append(item)
            page += 1

    def files(self, item_id: int) -> list[str]:
        media = requests.get(
            f"{self.sandbox.url}/api/media", params={**self.keys, "item_id": item_id}
        ).json()
        return [m["o:source"] for m in media]

    def values(self, item: dict, field: str) -> list[str]:
        return [v.get("@value") for v in item.get(field, [])]

    def title_field(self) -> str:
        return "dcterms:title"

    def add_value_in_ui(self, item: dict, field: str, value: str) -> None:
        url = f"{self.sandbox.url}/api/items/{item['o:id']}"
        current = requests.get(url, params=self.keys).json()
        current.setdefault(field, []).append(
            {"type": "literal", "property_id": "auto", "@value": value}
        )
        response = requests.put(url, params=self.keys, json=current)
        assert response.status_code == 200, response.text


@pytest.fixture(params=["dspace", "omeka"])
def target(request, tmp_path, data_dir, monkeypatch):
    sandbox = request.getfixturevalue(f"{request.param}_sandbox")
    kind = DSpaceTarget if request.param == "dspace" else OmekaTarget
    return kind(sandbox, tmp_path, data_dir, monkeypatch)


def by_control(items: dict[str, list[dict]]) -> dict[str, dict]:
    """Items keyed by control number (the key is ``003:001`` where 003 exists)."""
    out = {}
    for key, found in items.items():
        assert len(found) == 1, f"{key} has {len(found)} items"
        out[key.rsplit(":", 1)[-1]] = found[0]
    return out


def test_first_push_creates_every_record_with_its_scans(target):
    report = target.push()
    assert report.outcome == "ok", report.to_dict()
    assert report.counts["create"] == RECORDS + 1
    assert report.unclaimed_scans == [str(EXAMPLES / "scans" / "unsorted-017.png")]
    items = by_control(target.items())
    assert len(items) == RECORDS + 1
    for control, count in SCANNED.items():
        assert len(items[control]["files"]) == count, control
    assert items["000101"]["files"] == ["page1.png", "page2.png", "page3.png", "page10.png"]
    title = target.title_field()
    assert target.values(items["000104"], title) == ["Oʻtkan kunlar : roman"]
    assert target.values(items["UZ-TSH-2002"], title)[0].startswith("Кеча ва кундуз")
    assert target.values(items["000103"], title) == ["Почт гутусу : һекајәләр"]


def test_a_field_missing_from_the_dspace_registry_stops_the_push_once(
    dspace_sandbox, tmp_path, data_dir, monkeypatch
):
    target = DSpaceTarget.__new__(DSpaceTarget)
    target.prepare = lambda: None  # a fresh DSpace, nobody ran `kitab setup`
    DSpaceTarget.__init__(target, dspace_sandbox, tmp_path, data_dir, monkeypatch)
    result = subprocess.run(
        [sys.executable, "-m", "kitab", "push", "-c", str(target.config_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "the repository has no field" in result.stderr
    assert "dc.subject.udc" in result.stderr
    assert "kitab setup --target t --apply" in result.stderr
    assert dspace_sandbox.stats().get("writes", 0) == 0
    setup = subprocess.run(
        [sys.executable, "-m", "kitab", "setup", "-c", str(target.config_file), "--apply"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert setup.returncode == 0 and "dc.subject.udc" in setup.stdout
    assert target.push().outcome == "ok"


def test_unchanged_catalogue_sends_no_write_request(target):
    target.push()
    target.sandbox.reset_stats()
    report = target.push()
    assert report.outcome == "ok"
    assert report.counts["unchanged"] == RECORDS + 1
    assert target.writes() == 0
    assert target.sandbox.stats().get("total", 0) <= 3  # a login or key check at most


def test_one_changed_field_sends_one_minimal_update(target):
    target.push()
    export = target.tmp_path / "exports" / "qazax-marc21.xml"
    text = export.read_text(encoding="utf-8")
    export.write_text(text.replace("Xəmsə /", "Xəmsə (beş poema) /"), encoding="utf-8")
    target.sandbox.reset_stats()
    report = target.push()
    assert report.counts["update"] == 1 and report.counts["unchanged"] == RECORDS
    assert target.writes() == 1
    item = by_control(target.items())["000102"]
    assert target.values(item, target.title_field()) == ["Xəmsə (beş poema)"]


def test_values_and_files_only_in_the_repository_survive_a_push(target):
    target.push()
    items = by_control(target.items())
    subject = "dc.subject" if target.kind == "dspace" else "dcterms:subject"
    target.add_value_in_ui(items["000104"], subject, "Jadidlar adabiyoti")
    target.add_value_in_ui(items["000104"], target.title_field(), "Minувшие дни (rus.)")
    export = target.tmp_path / "exports" / "qazax-marc21.xml"
    text = export.read_text(encoding="utf-8")
    export.write_text(
        text.replace("Oʻzbek romani", "Oʻzbek romanlari"), encoding="utf-8"
    )  # the catalogue changes the subject kitab wrote
    report = target.push()
    assert report.outcome == "ok", report.to_dict()
    item = by_control(target.items())["000104"]
    subjects = target.values(item, subject)
    assert "Oʻzbek romanlari" in subjects and "Oʻzbek romani" not in subjects
    assert subjects[-1] == "Jadidlar adabiyoti"  # the cataloguer's value, kept after kitab's
    assert "Minувшие дни (rus.)" in target.values(item, target.title_field())
    assert item["files"] == ["000104.pdf"]


def test_outage_mid_push_retries_or_reports_and_the_next_run_finishes(target):
    target.sandbox.injector.plan.update({"fail_next": 2, "retry_after": 0})
    report = target.push()
    assert report.outcome == "ok", report.to_dict()
    assert len(by_control(target.items())) == RECORDS + 1

    export = target.tmp_path / "exports" / "qazax-marc21.xml"
    export.write_text(export.read_text(encoding="utf-8").replace("dastanlar", "boylar"))
    target.sandbox.injector.plan.update({"drop_rate": 1.0, "writes_only": True, "seed": 1})
    failed = target.push()
    assert failed.outcome == "failed"
    assert [f["record"].split()[0] for f in failed.failures] == ["000101"]
    assert "000101" in failed.failures[0]["record"]

    target.sandbox.injector.plan.update({"drop_rate": 0.0})
    again = target.push()
    assert again.outcome == "ok" and again.counts["update"] == 1
    item = by_control(target.items())["000101"]
    assert target.values(item, target.title_field()) == ["Kitabi Dədə Qorqud : boylar"]


def test_killed_push_resumes_without_duplicates(target):
    target.sandbox.injector.plan.update({"latency_ms": 60})
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "kitab", "push", "-c", str(target.config_file), "-j", "2"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while target.writes() < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < len(target.items()) < RECORDS + 1 or target.writes() >= 6
    target.sandbox.injector.plan.update({"latency_ms": 0})
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    items = by_control(target.items())  # asserts one item per record
    assert len(items) == RECORDS + 1
    for control, count in SCANNED.items():
        assert len(items[control]["files"]) == count, control


def test_relink_rebuilds_lost_state_and_the_next_push_writes_nothing(target):
    target.push()
    config = target.config
    config.state_path.unlink()
    with StateStore(config.state_path) as store:
        report = relink(config, config.targets["t"], store)
    assert report.counts["linked"] == RECORDS + 1
    target.sandbox.reset_stats()
    again = target.push()
    assert again.counts["unchanged"] == RECORDS + 1, again.to_dict()
    assert target.writes() == 0
