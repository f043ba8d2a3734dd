"""Targets for the sync tests: a sandbox, the kitab.toml that points at it, and raw REST
reads of what the repository holds (never through kitab's own connectors)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import requests

from kitab.config import load_config
from kitab.sync.engine import push
from kitab.sync.setup import register_missing
from kitab.sync.state import StateStore
from kitab.sync.targets import open_repository

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RECORDS = 11  # 8 MARC 21 + 3 UNIMARC in examples/catalogue, plus the RUSMARC record below
SCANNED = {"000101": 4, "000104": 1, "000108": 1, "UZ-TSH-2001": 1}


def scanned(kind: str) -> dict[str, int]:
    """Files each record's item gets: on DSpace the restricted map's scan (000108, 506 $a
    "Restricted") is held back, since kitab does not set DSpace access policies."""
    return {**SCANNED, "000108": 0} if kind == "dspace" else SCANNED


def make_catalogue(tmp_path: Path, data_dir: Path) -> Path:
    catalogue = tmp_path / "exports"
    shutil.copytree(EXAMPLES / "catalogue", catalogue)
    shutil.copy(data_dir / "unimarc-rusmarc-utf8-856-urait.iso", catalogue / "urait.iso")
    return catalogue


def dspace_login(url: str, password: str = "kitab") -> tuple[requests.Session, str]:
    """An administrator's session on a DSpace (sandbox) and its CSRF token, by raw REST."""
    session = requests.Session()
    api = f"{url}/api"
    token = session.get(f"{api}/security/csrf").headers["DSPACE-XSRF-TOKEN"]
    response = session.post(
        f"{api}/authn/login",
        data={"user": "admin@example.org", "password": password},
        headers={"X-XSRF-TOKEN": token},
    )
    assert response.status_code == 200, response.text
    session.headers["Authorization"] = response.headers["Authorization"]
    return session, response.headers.get("DSPACE-XSRF-TOKEN", token)


def kitab_key(values: list[dict], text: str) -> str | None:
    """The kitab identity among an item's identifier values (``text`` is the value's key)."""
    for value in values:
        if str(value.get(text, "")).startswith("kitab:"):
            return value[text][6:]
    return None


def dspace_items(session: requests.Session, url: str) -> Iterator[tuple[str, dict]]:
    """(kitab key, item) for every item kitab made, withdrawn and private ones included."""
    page = 0
    while True:
        result = session.get(
            f"{url}/api/discover/search/objects",
            params={
                "dsoType": "ITEM",
                "configuration": "administrativeView",
                "page": page,
                "size": 100,
            },
        ).json()["_embedded"]["searchResult"]
        for hit in result["_embedded"]["objects"]:
            item = hit["_embedded"]["indexableObject"]
            key = kitab_key(item["metadata"].get("dc.identifier.other", []), "value")
            if key is not None:
                yield key, item
        page += 1
        if page >= result["page"]["totalPages"]:
            return


def omeka_items(url: str, keys: dict[str, str]) -> Iterator[tuple[str, dict]]:
    """(kitab key, item) for every item kitab made, read with the API key."""
    page = 1
    while batch := requests.get(
        f"{url}/api/items", params={**keys, "per_page": 100, "page": page}
    ).json():
        for item in batch:
            key = kitab_key(item.get("dcterms:identifier", []), "@value")
            if key is not None:
                yield key, item
        page += 1


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
        self.session, self.csrf = dspace_login(self.sandbox.url)

    def items(self) -> dict[str, list[dict]]:
        """Every item by its kitab identity, with its files' names."""
        found: dict[str, list[dict]] = {}
        for key, item in dspace_items(self.session, self.sandbox.url):
            item["files"] = self.files(item["uuid"])
            found.setdefault(key, []).append(item)
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

    def add_file_in_ui(self, item: dict, path: Path) -> None:
        """Upload a file into the item's ORIGINAL bundle, as DSpace's edit-item page does."""
        api = f"{self.sandbox.url}/api"
        bundles = self.session.get(f"{api}/core/items/{item['uuid']}/bundles").json()
        (bundle,) = [b for b in bundles["_embedded"]["bundles"] if b["name"] == "ORIGINAL"]
        with path.open("rb") as stream:
            response = self.session.post(
                f"{api}/core/bundles/{bundle['uuid']}/bitstreams",
                files={"file": (path.name, stream, "image/png")},
                headers={"X-XSRF-TOKEN": self.csrf},
            )
        assert response.status_code == 201, response.text


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

    def items(self) -> dict[str, list[dict]]:
        """Every item by its kitab identity, with its files' names."""
        found: dict[str, list[dict]] = {}
        for key, item in omeka_items(self.sandbox.url, self.keys):
            item["files"] = self.files(item["o:id"])
            found.setdefault(key, []).append(item)
        return found

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

    def add_file_in_ui(self, item: dict, path: Path) -> None:
        """Add a medium to the item, as Omeka's item edit page does."""
        data = {"o:ingester": "upload", "file_index": 0, "o:item": {"o:id": item["o:id"]}}
        with path.open("rb") as stream:
            response = requests.post(
                f"{self.sandbox.url}/api/media",
                params=self.keys,
                data={"data": json.dumps(data)},
                files={"file[0]": (path.name, stream, "image/png")},
            )
        assert response.status_code == 200, response.text


def by_control(items: dict[str, list[dict]]) -> dict[str, dict]:
    """Items keyed by control number (the key is ``003:001`` where 003 exists)."""
    out = {}
    for key, found in items.items():
        assert len(found) == 1, f"{key} has {len(found)} items"
        out[key.rsplit(":", 1)[-1]] = found[0]
    return out
