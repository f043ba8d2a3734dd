"""The DSpace sandbox over real HTTP, with plain ``requests`` (never kitab's connector).

Expected values come from the reference notes (/work/shared/reference/dspace.md) and, for item
content, from the shared catalogue records themselves (read with pymarc here).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pymarc
import pytest
import requests

from kitab.sandbox.dspace import DSpaceSandbox, start

ADMIN = ("admin@example.org", "kitab")
ARABIC = "marc21-utf8-arabic-catmandu-oschrift.mrc"
RUSSIAN = "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso"


class Client:
    """A browser-like session: keeps the CSRF cookie, echoes the token, carries the JWT."""

    def __init__(self, sandbox: DSpaceSandbox) -> None:
        self.api = sandbox.api
        self.http = requests.Session()
        self.token: str | None = None

    def adopt(self, response: requests.Response) -> requests.Response:
        if "DSPACE-XSRF-TOKEN" in response.headers:
            self.token = response.headers["DSPACE-XSRF-TOKEN"]
        return response

    def get(self, path: str, **kw) -> requests.Response:
        return self.adopt(self.http.get(self.api + path, **kw))

    def send(self, method: str, path: str, **kw) -> requests.Response:
        if self.token is None:
            self.adopt(self.http.get(self.api + "/security/csrf"))
        headers = {"X-XSRF-TOKEN": self.token or "", **kw.pop("headers", {})}
        return self.adopt(self.http.request(method, self.api + path, headers=headers, **kw))

    def login(self, user: str = ADMIN[0], password: str = ADMIN[1]) -> requests.Response:
        response = self.send("POST", "/authn/login", data={"user": user, "password": password})
        if response.status_code == 200:
            self.http.headers["Authorization"] = response.headers["Authorization"]
        return response

    def create_item(self, collection: str, metadata: dict, **flags) -> requests.Response:
        body = {"metadata": metadata, "inArchive": True, "discoverable": True, **flags}
        return self.send("POST", f"/core/items?owningCollection={collection}", json=body)

    def patch(self, path: str, operations: list) -> requests.Response:
        return self.send(
            "PATCH",
            path,
            data=json.dumps(operations),
            headers={"Content-Type": "application/json-patch+json"},
        )


def first_record(path: Path, encoding: str | None = None) -> pymarc.Record:
    with path.open("rb") as handle:
        reader = pymarc.MARCReader(
            handle, to_unicode=True, force_utf8=encoding is None, file_encoding=encoding or "utf-8"
        )
        return next(r for r in reader if r is not None)


def values(item: dict, field: str) -> list[str]:
    return [v["value"] for v in item["metadata"].get(field, [])]


@pytest.fixture
def admin(dspace_sandbox: DSpaceSandbox) -> Client:
    client = Client(dspace_sandbox)
    assert client.login().status_code == 200
    return client


@pytest.fixture
def arabic(data_dir: Path) -> dict:
    """dc metadata drawn from the Arabic MARC 21 record: its 245$a and its 001."""
    record = first_record(data_dir / ARABIC)
    return {
        "title": record["245"]["a"],
        "control": record["001"].data,
        "metadata": {
            "dc.title": [{"value": record["245"]["a"], "language": "ar"}],
            "dc.identifier.other": [{"value": f"kitab:{record['001'].data}"}],
        },
    }


def test_items_bundles_and_upload_round_trip(dspace_sandbox, admin, arabic, data_dir):
    created = admin.create_item(dspace_sandbox.collection_uuid, arabic["metadata"])
    assert created.status_code == 201
    assert "Location" not in created.headers
    item = created.json()
    assert item["name"] == arabic["title"]
    assert values(item, "dc.identifier.other") == [f"kitab:{arabic['control']}"]
    assert item["metadata"]["dc.title"][0]["language"] == "ar"
    assert item["handle"].startswith("123456789/")
    assert values(item, "dc.identifier.uri") == [f"http://localhost:4000/handle/{item['handle']}"]
    assert values(item, "dc.date.accessioned") == values(item, "dc.date.available")
    assert values(item, "dc.description.provenance")[0].startswith("Made available in DSpace on")

    bundle = admin.send("POST", f"/core/items/{item['uuid']}/bundles", json={"name": "ORIGINAL"})
    assert bundle.status_code == 201
    again = admin.send("POST", f"/core/items/{item['uuid']}/bundles", json={"name": "ORIGINAL"})
    assert again.status_code == 400
    assert again.json()["message"] == "The bundle name already exists in the item"

    payload = (data_dir / ARABIC).read_bytes()
    properties = {"name": "record.mrc", "metadata": {"dc.description": [{"value": "page 1"}]}}
    uploaded = admin.send(
        "POST",
        f"/core/bundles/{bundle.json()['uuid']}/bitstreams",
        files={"file": ("upload.mrc", payload, "application/marc")},
        data={"properties": json.dumps(properties)},
    )
    assert uploaded.status_code == 201
    bitstream = uploaded.json()
    assert bitstream["name"] == "record.mrc"
    assert bitstream["sizeBytes"] == len(payload)
    assert bitstream["checkSum"] == {
        "checkSumAlgorithm": "MD5",
        "value": hashlib.md5(payload).hexdigest(),
    }
    assert bitstream["bundleName"] == "ORIGINAL"
    assert values(bitstream, "dc.description") == ["page 1"]

    content = admin.get(f"/core/bitstreams/{bitstream['uuid']}/content")
    assert content.status_code == 200
    assert content.content == payload
    assert content.headers["ETag"] == hashlib.md5(payload).hexdigest()
    assert content.headers["Content-Disposition"] == 'attachment;filename="record.mrc"'
    ranged = admin.get(
        f"/core/bitstreams/{bitstream['uuid']}/content", headers={"Range": "bytes=0-23"}
    )
    assert ranged.status_code == 206
    assert ranged.content == payload[:24]  # the MARC leader
    cached = admin.get(
        f"/core/bitstreams/{bitstream['uuid']}/content",
        headers={"If-None-Match": content.headers["ETag"]},
    )
    assert cached.status_code == 304

    assert admin.send("DELETE", f"/core/bitstreams/{bitstream['uuid']}").status_code == 204
    assert admin.get(f"/core/bitstreams/{bitstream['uuid']}/content").status_code == 404
    assert admin.send("DELETE", f"/core/bitstreams/{bitstream['uuid']}").status_code == 404


def test_state_survives_a_restart(tmp_path, arabic):
    first = start(tmp_path / "dspace")
    try:
        client = Client(first)
        client.login()
        item = client.create_item(first.collection_uuid, arabic["metadata"]).json()
        bundle = client.send(
            "POST", f"/core/items/{item['uuid']}/bundles", json={"name": "ORIGINAL"}
        ).json()
        client.send(
            "POST",
            f"/core/bundles/{bundle['uuid']}/bitstreams",
            files={"file": ("a.txt", b"kept across restarts")},
        )
        collection = first.collection_uuid
    finally:
        first.stop()
    second = start(tmp_path / "dspace")
    try:
        assert second.collection_uuid == collection
        client = Client(second)
        again = client.get(f"/core/items/{item['uuid']}").json()
        assert again["metadata"] == item["metadata"]
        assert again["handle"] == item["handle"]
        files = client.get(f"/core/bundles/{bundle['uuid']}/bitstreams").json()
        (bitstream,) = files["_embedded"]["bitstreams"]
        body = client.get(f"/core/bitstreams/{bitstream['uuid']}/content").content
        assert body == b"kept across restarts"
        client.login()
        fresh = client.create_item(collection, {"dc.title": [{"value": "next"}]}).json()
        assert fresh["handle"] != item["handle"]  # the handle counter survived too
    finally:
        second.stop()


def test_discovery_finds_by_identifier_phrase(dspace_sandbox, admin, arabic):
    admin.create_item(dspace_sandbox.collection_uuid, arabic["metadata"])
    found = admin.get(
        "/discover/search/objects",
        params={"query": f'dc.identifier.other:"kitab:{arabic["control"]}"', "dsoType": "ITEM"},
    )
    assert found.status_code == 200
    result = found.json()["_embedded"]["searchResult"]
    assert result["page"]["totalElements"] == 1
    hit = result["_embedded"]["objects"][0]["_embedded"]["indexableObject"]
    assert hit["name"] == arabic["title"]


def test_fixture_starts_fresh_with_one_collection(dspace_sandbox):
    client = Client(dspace_sandbox)
    top = client.get("/core/communities/search/top").json()
    (community,) = top["_embedded"]["communities"]
    assert community["uuid"] == dspace_sandbox.community_uuid
    inner = client.get(f"/core/communities/{community['uuid']}/collections").json()
    (collection,) = inner["_embedded"]["collections"]
    assert collection["uuid"] == dspace_sandbox.collection_uuid
    assert collection["handle"] == dspace_sandbox.collection_handle
    moved = client.get(f"/pid/find?id={dspace_sandbox.collection_handle}", allow_redirects=False)
    assert moved.status_code == 302
    assert moved.headers["Location"].endswith(f"/core/collections/{collection['uuid']}")
