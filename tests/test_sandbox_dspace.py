"""The DSpace sandbox over real HTTP, with plain ``requests`` (never kitab's connector).

Expected values come from the reference notes (/work/shared/reference/dspace.md) and, for item
content, from the shared catalogue records themselves (read with pymarc here).
"""

from __future__ import annotations

import hashlib
import json
import time
import tracemalloc
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


@pytest.fixture
def russian(data_dir: Path) -> list[tuple[str, str]]:
    """(001, 200$a) of the first three RUSMARC records (CP1251), e.g. RU\\NLR\\bibl\\3415."""
    with (data_dir / RUSSIAN).open("rb") as handle:
        reader = pymarc.MARCReader(handle, to_unicode=True, file_encoding="cp1251")
        records = [next(reader) for _ in range(3)]
    return [(r["001"].data, r["200"]["a"]) for r in records]


def search(client: Client, **params) -> dict:
    response = client.get("/discover/search/objects", params=params)
    assert response.status_code == 200, response.text
    return response.json()["_embedded"]["searchResult"]


def hit_names(result: dict) -> list[str]:
    return [o["_embedded"]["indexableObject"]["name"] for o in result["_embedded"]["objects"]]


def solr_phrase(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- CSRF, login, JWT ---------------------------------------------------------------------------


def test_csrf_token_issued_checked_and_rotated(dspace_sandbox):
    http = requests.Session()
    api = dspace_sandbox.api
    first = http.get(api)
    token = first.headers["DSPACE-XSRF-TOKEN"]
    assert http.cookies["DSPACE-XSRF-COOKIE"] == token
    assert "HttpOnly" in first.headers["Set-Cookie"]
    assert "Path=/server" in first.headers["Set-Cookie"]
    assert "DSPACE-XSRF-TOKEN" not in http.get(api).headers  # only when issued or rotated

    form = {"user": ADMIN[0], "password": ADMIN[1]}
    missing = http.post(api + "/authn/login", data=form)
    assert missing.status_code == 403
    assert missing.json()["message"] == "Access is denied. Invalid CSRF token."
    rotated = missing.headers["DSPACE-XSRF-TOKEN"]
    assert rotated != token
    wrong = http.post(api + "/authn/login", data=form, headers={"X-XSRF-TOKEN": token})
    assert wrong.status_code == 403  # the cookie now holds the rotated token
    rotated = wrong.headers["DSPACE-XSRF-TOKEN"]  # every refusal rotates again
    cookieless = requests.post(api + "/authn/login", data=form, headers={"X-XSRF-TOKEN": rotated})
    assert cookieless.status_code == 403  # the header alone is not enough

    good = http.post(api + "/authn/login", data=form, headers={"X-XSRF-TOKEN": rotated})
    assert good.status_code == 200
    assert good.headers["Authorization"].startswith("Bearer ")
    assert good.headers["DSPACE-XSRF-TOKEN"] not in (token, rotated)  # login rotates


def test_login_and_status(dspace_sandbox):
    client = Client(dspace_sandbox)
    anonymous = client.get("/authn/status").json()
    assert (anonymous["okay"], anonymous["authenticated"]) == (True, False)
    bad = client.login(password="wrong")
    assert bad.status_code == 401
    assert "password" in bad.headers["WWW-Authenticate"]
    assert client.login().status_code == 200
    status = client.get("/authn/status").json()
    assert status["authenticated"] is True
    assert status["_embedded"]["eperson"]["email"] == ADMIN[0]


def test_expired_jwt_is_silently_anonymous(dspace_sandbox, admin, arabic):
    item = admin.create_item(dspace_sandbox.collection_uuid, arabic["metadata"]).json()
    dspace_sandbox.app.jwt_ttl = 1
    assert admin.login().status_code == 200
    time.sleep(1.2)
    assert admin.get(f"/core/items/{item['uuid']}").status_code == 200  # public GET still works
    assert admin.get("/authn/status").json()["authenticated"] is False
    denied = admin.create_item(dspace_sandbox.collection_uuid, arabic["metadata"])
    assert denied.status_code == 401
    assert denied.json()["message"] == "Authentication is required"


def test_refresh_logout_and_revocation(dspace_sandbox, admin):
    refreshed = admin.send("POST", "/authn/login")  # Bearer + CSRF only
    assert refreshed.status_code == 200
    new_jwt = refreshed.headers["Authorization"]
    assert new_jwt != admin.http.headers["Authorization"]
    other = Client(dspace_sandbox)
    other.http.headers["Authorization"] = new_jwt
    assert other.get("/authn/status").json()["authenticated"] is True
    assert admin.send("POST", "/authn/logout").status_code == 204
    assert other.get("/authn/status").json()["authenticated"] is False  # the salt is gone
    admin.login()
    dspace_sandbox.expire_tokens()
    assert admin.get("/authn/status").json()["authenticated"] is False


# --- items ---------------------------------------------------------------------------------------


def test_item_create_rules(dspace_sandbox, admin, arabic):
    collection = dspace_sandbox.collection_uuid
    path = f"/core/items?owningCollection={collection}"
    no_archive = admin.send("POST", path, json={"metadata": arabic["metadata"]})
    assert no_archive.status_code == 400
    assert no_archive.json()["message"] == (
        "InArchive attribute should not be set to false for the create"
    )
    private = admin.send("POST", path, json={"metadata": arabic["metadata"], "inArchive": True})
    assert private.status_code == 201
    assert private.json()["discoverable"] is False
    unknown = admin.create_item(collection, {"dc.nonsense": [{"value": "x"}]})
    assert unknown.status_code == 500
    assert unknown.json()["message"] == "An internal database error occurred"
    bad_owner = admin.create_item("not-a-collection", arabic["metadata"])
    assert bad_owner.status_code == 400
    assert bad_owner.json()["message"].startswith("The given owningCollection parameter")
    form = admin.send(
        "POST", path, data="x=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form.status_code == 415
    garbled = admin.send("POST", path, data="{", headers={"Content-Type": "application/json"})
    assert garbled.status_code == 422
    anonymous = Client(dspace_sandbox).create_item(collection, arabic["metadata"])
    assert anonymous.status_code == 401

    messy = admin.create_item(
        collection,
        {"dc.title": [{"value": "  Title\x01with control  ", "place": 7}, {"value": None}]},
    ).json()
    assert messy["metadata"]["dc.title"] == [
        {
            "value": "Title with control",
            "language": None,
            "authority": None,
            "confidence": -1,
            "place": 0,
        }
    ]
    issued = admin.create_item(collection, {"dc.date.issued": [{"value": "today"}]}).json()
    assert values(issued, "dc.date.issued") == [values(issued, "dc.date.accessioned")[0][:10]]


def test_patch_operations_and_their_quirks(dspace_sandbox, admin, russian):
    (id1, title1), (_, title2), (_, title3) = russian
    item = admin.create_item(
        dspace_sandbox.collection_uuid, {"dc.title": [{"value": title1}]}
    ).json()
    path = f"/core/items/{item['uuid']}"

    def titles(response: requests.Response) -> list[str]:
        assert response.status_code == 200, response.text
        return values(response.json(), "dc.title")

    several = [{"value": title2}, {"value": title3}]
    assert titles(
        admin.patch(path, [{"op": "add", "path": "/metadata/dc.title", "value": several}])
    ) == [title2, title1]
    assert titles(
        admin.patch(
            path, [{"op": "add", "path": "/metadata/dc.title/5", "value": {"value": title3}}]
        )
    ) == [title3, title2, title1]
    assert (
        titles(
            admin.patch(
                path, [{"op": "add", "path": "/metadata/dc.title/-", "value": {"value": id1}}]
            )
        )[-1]
        == id1
    )
    assert titles(
        admin.patch(
            path, [{"op": "move", "from": "/metadata/dc.title/0", "path": "/metadata/dc.title/2"}]
        )
    ) == [title2, title1, title3, id1]
    assert titles(admin.patch(path, [{"op": "remove", "path": "/metadata/dc.title/3"}])) == [
        title2,
        title1,
        title3,
    ]
    assert titles(
        admin.patch(path, [{"op": "replace", "path": "/metadata/dc.title", "value": several}])
    ) == [title2]
    replaced = admin.patch(
        path, [{"op": "replace", "path": "/metadata/dc.title/0", "value": {"value": title1}}]
    ).json()
    assert replaced["metadata"]["dc.title"][0] == {
        "value": title1,
        "language": None,
        "authority": None,
        "confidence": 0,
        "place": 0,
    }
    language = admin.patch(
        path, [{"op": "replace", "path": "/metadata/dc.title/0/language", "value": "ru"}]
    ).json()
    assert language["metadata"]["dc.title"][0]["language"] == "ru"

    out_of_range = admin.patch(
        path, [{"op": "replace", "path": "/metadata/dc.title/4", "value": {"value": "x"}}]
    )
    assert out_of_range.status_code == 422
    assert out_of_range.json()["message"] == "There is no metadata of this type at that index"
    assert admin.patch(path, [{"op": "remove", "path": "/metadata/dc.title/x"}]).status_code == 400
    for unsupported in (
        {"op": "replace", "path": "/inArchive", "value": False},
        {"op": "test", "path": "/metadata/dc.title", "value": []},
        {"op": "add", "path": "/withdrawn", "value": True},
    ):
        refused = admin.patch(path, [unsupported])
        assert refused.status_code == 400
        assert refused.json()["message"] == "This operation is not supported."
    unknown = admin.patch(path, [{"op": "add", "path": "/metadata/dc.nonsense", "value": []}])
    assert (unknown.status_code, unknown.json()["message"]) == (
        422,
        "Metadata field does not exist",
    )

    atomic = admin.patch(
        path,
        [
            {"op": "remove", "path": "/metadata/dc.title"},
            {"op": "remove", "path": "/metadata/dc.title/9"},
        ],
    )
    assert atomic.status_code == 422
    assert values(admin.get(path).json(), "dc.title") == [title1]  # nothing was committed
    empty = admin.patch(path, [{"op": "remove", "path": "/metadata/dc.subject"}])
    assert empty.status_code == 200

    wiped = admin.patch(path, [{"op": "replace", "path": "/metadata", "value": {}}]).json()
    assert wiped["metadata"] == {}
    assert wiped["name"] is None


def test_withdraw_discoverable_put_and_delete(dspace_sandbox, admin, arabic):
    item = admin.create_item(dspace_sandbox.collection_uuid, arabic["metadata"]).json()
    path = f"/core/items/{item['uuid']}"
    hidden = admin.patch(path, [{"op": "replace", "path": "/discoverable", "value": False}])
    assert hidden.json()["discoverable"] is False
    withdrawn = admin.patch(path, [{"op": "replace", "path": "/withdrawn", "value": "true"}])
    body = withdrawn.json()
    assert (body["withdrawn"], body["inArchive"]) == (True, False)
    assert any("withdrawn" in v for v in values(body, "dc.description.provenance"))
    again = admin.patch(path, [{"op": "replace", "path": "/withdrawn", "value": True}])
    assert again.status_code == 200  # repeats are no-ops
    assert Client(dspace_sandbox).get(path).json()["metadata"] == {}  # non-admins see nothing
    reinstated = admin.patch(path, [{"op": "replace", "path": "/withdrawn", "value": False}])
    assert reinstated.json()["inArchive"] is True

    mismatch = admin.send(
        "PUT", path, json={"uuid": dspace_sandbox.collection_uuid, "metadata": {}}
    )
    assert mismatch.status_code == 400
    put = admin.send(
        "PUT", path, json={"uuid": item["uuid"], "metadata": {"dc.title": [{"value": "only"}]}}
    )
    assert put.status_code == 200
    assert put.json()["metadata"].keys() == {"dc.title"}  # accessioned, uri, provenance gone

    assert admin.send("DELETE", path).status_code == 204
    assert admin.get(path).status_code == 404
    assert admin.send("DELETE", path).status_code == 404


# --- discovery -----------------------------------------------------------------------------------


def test_discovery_identifier_is_a_tokenized_phrase(dspace_sandbox, admin, russian):
    collection = dspace_sandbox.collection_uuid
    (control, title), (_, other_title), _ = russian
    admin.create_item(
        collection,
        {"dc.title": [{"value": title}], "dc.identifier.other": [{"value": f"kitab:{control}"}]},
    )
    admin.create_item(
        collection,
        {
            "dc.title": [{"value": other_title}],
            "dc.identifier.other": [{"value": f"kitab:{control}/copy"}],
        },
    )
    query = f"dc.identifier.other:{solr_phrase('kitab:' + control)}"
    assert sorted(hit_names(search(admin, query=query))) == sorted([title, other_title])
    unescaped = f'dc.identifier.other:"kitab:{control}"'  # Solr eats the backslashes
    assert search(admin, query=unescaped)["page"]["totalElements"] == 0
    bad = admin.get("/discover/search/objects", params={"query": "dc.title:(unclosed"})
    assert bad.status_code == 422


def test_discovery_ranges_sorting_and_visibility(dspace_sandbox, admin, russian):
    collection = dspace_sandbox.collection_uuid
    first = admin.create_item(collection, {"dc.title": [{"value": russian[0][1]}]}).json()
    time.sleep(0.02)
    second = admin.create_item(collection, {"dc.title": [{"value": russian[1][1]}]}).json()
    private = admin.create_item(
        collection, {"dc.title": [{"value": russian[2][1]}]}, discoverable=False
    ).json()
    since = second["lastModified"].replace("+00:00", "Z")
    recent = search(admin, query=f"lastModified:[{since} TO *]", dsoType="ITEM")
    assert hit_names(recent) == [second["name"]]
    everything = search(
        admin, query="lastModified:[2000-01-01T00:00:00Z TO *]", dsoType="ITEM", sort="dc.title,asc"
    )
    assert hit_names(everything) == sorted([first["name"], second["name"]], key=str.lower)
    assert search(admin, query=f"search.resourceid:{first['uuid']}")["page"]["totalElements"] == 1
    by_handle = search(admin, query=f'handle:"{second["handle"]}"')
    assert hit_names(by_handle) == [second["name"]]
    admin_view = search(admin, configuration="administrativeView", dsoType="ITEM")
    assert private["name"] in hit_names(admin_view)
    anonymous_view = search(Client(dspace_sandbox), configuration="administrativeView")
    assert private["name"] not in hit_names(anonymous_view)
    scoped = search(admin, scope=dspace_sandbox.community_uuid, dsoType="ITEM")
    assert scoped["page"]["totalElements"] == 2

    paged = search(admin, dsoType="ITEM", size=1, page=1, sort="dc.date.accessioned,asc")
    assert paged["page"] == {"size": 1, "totalElements": 2, "totalPages": 2, "number": 1}
    assert set(paged["_links"]) == {"first", "prev", "self", "last"}

    by_modified = admin.get("/discover/search/objects", params={"sort": "lastModified,desc"})
    assert by_modified.status_code == 422
    assert by_modified.json()["message"] == (
        "The field: lastModified is not configured for the configuration!"
    )
    sideways = admin.get("/discover/search/objects", params={"sort": "dc.title,sideways"})
    assert sideways.status_code == 400
    offset = admin.get(
        "/discover/search/objects",
        params={"query": "lastModified:[2024-01-01T00:00:00+00:00 TO *]"},
    )
    assert offset.status_code == 422  # Solr dates need the Z


def test_metadata_field_registry(dspace_sandbox):
    client = Client(dspace_sandbox)
    listing = client.get("/core/metadatafields", params={"size": 500}).json()
    names = {
        ".".join(p for p in (f["_embedded"]["schema"]["prefix"], f["element"], f["qualifier"]) if p)
        for f in listing["_embedded"]["metadatafields"]
    }
    assert {
        "dc.title",
        "dc.identifier.other",
        "dcterms.title",
        "dc.description.provenance",
    } <= names
    assert "dc.nonsense" not in names
    found = client.get(
        "/core/metadatafields/search/byFieldName",
        params={"schema": "dc", "element": "identifier", "qualifier": "other"},
    )
    (field,) = found.json()["_embedded"]["metadatafields"]
    assert (field["element"], field["qualifier"]) == ("identifier", "other")


# --- uploads -------------------------------------------------------------------------------------


def test_upload_refusals(dspace_sandbox, admin, arabic):
    item = admin.create_item(dspace_sandbox.collection_uuid, arabic["metadata"]).json()
    bundle = admin.send(
        "POST", f"/core/items/{item['uuid']}/bundles", json={"name": "ORIGINAL"}
    ).json()
    target = f"/core/bundles/{bundle['uuid']}/bitstreams"
    no_file = admin.send("POST", target, files={"other": ("a.txt", b"x")})
    assert no_file.status_code == 400
    bad_properties = admin.send(
        "POST", target, files={"file": ("a.txt", b"x")}, data={"properties": "{not json"}
    )
    assert bad_properties.status_code == 422
    dspace_sandbox.app.max_upload = 1000
    too_big = admin.send("POST", target, files={"file": ("big.bin", b"0" * 5000)})
    assert too_big.status_code == 413
    assert too_big.headers["Content-Type"] == "application/problem+json"  # Spring, 8.x+
    missing = admin.send(
        "POST", f"/core/bundles/{item['uuid']}/bitstreams", files={"file": ("a.txt", b"x")}
    )
    assert missing.status_code == 404
    assert admin.get(target).json()["page"]["totalElements"] == 0
    assert list((dspace_sandbox.data_dir / "incoming").iterdir()) == []  # no spool left behind


# --- versions ------------------------------------------------------------------------------------


@pytest.fixture
def versioned(tmp_path):
    """Start sandboxes as other DSpace releases; all are stopped after the test."""
    running: list[DSpaceSandbox] = []

    def make(version: str) -> DSpaceSandbox:
        sandbox = start(tmp_path / version, version=version)
        running.append(sandbox)
        return sandbox

    yield make
    for sandbox in running:
        sandbox.stop()


@pytest.mark.parametrize(
    ("version", "token_on_get", "csrf_endpoint", "suffix"),
    [
        ("7.6", True, False, "+00:00"),
        ("7.6.5", True, True, "+00:00"),
        ("8.1", False, True, "+00:00"),
        ("8.3", True, True, "+00:00"),
        ("9.1", False, True, "Z"),
        ("9.3", True, True, "Z"),
    ],
)
def test_version_differences_in_csrf_and_dates(
    versioned, version, token_on_get, csrf_endpoint, suffix
):
    sandbox = versioned(version)
    root = requests.get(sandbox.api)
    assert root.json()["dspaceVersion"] == f"DSpace {version}"
    assert ("DSPACE-XSRF-TOKEN" in root.headers) is token_on_get
    csrf = requests.get(sandbox.api + "/security/csrf")
    assert csrf.status_code == (204 if csrf_endpoint else 404)
    client = Client(sandbox)
    if not csrf_endpoint:
        client.adopt(client.get(""))
    client.login()
    item = client.create_item(sandbox.collection_uuid, {"dc.title": [{"value": "x"}]}).json()
    assert item["lastModified"].endswith(suffix)
    assert ("submitter" in item["_links"]) is version.startswith("9")


def test_csrf_endpoint_resends_the_current_token(versioned):
    sandbox = versioned("8.1")
    http = requests.Session()
    first = http.get(sandbox.api + "/security/csrf").headers["DSPACE-XSRF-TOKEN"]
    again = http.get(sandbox.api + "/security/csrf").headers["DSPACE-XSRF-TOKEN"]
    assert first == again


@pytest.mark.parametrize("version", ["7.6.3", "8.1", "9.0"])
def test_unknown_patch_field_before_the_fix_is_400_and_replace_wipes(versioned, version):
    client = Client(versioned(version))
    client.login()
    item = client.create_item(client_collection(client), {"dc.title": [{"value": "kept?"}]}).json()
    path = f"/core/items/{item['uuid']}"
    added = client.patch(path, [{"op": "add", "path": "/metadata/dc.nonsense", "value": []}])
    assert added.status_code == 400
    assert added.json()["message"] == "There was no metadataField found in path of operation"
    wiped = client.patch(
        path, [{"op": "replace", "path": "/metadata/dc.nonsense", "value": [{"value": "x"}]}]
    )
    assert wiped.status_code == 200
    assert wiped.json()["metadata"] == {}


@pytest.mark.parametrize(("version", "status"), [("7.6.5", 422), ("8.4", 422), ("9.3", 201)])
def test_unknown_properties_in_item_body(versioned, version, status):
    client = Client(versioned(version))
    client.login()
    body = {"metadata": {"dc.title": [{"value": "x"}]}, "inArchive": True, "_links": {}}
    created = client.send(
        "POST", f"/core/items?owningCollection={client_collection(client)}", json=body
    )
    assert created.status_code == status


def test_413_body_in_7_6_is_dspace_json(versioned):
    sandbox = versioned("7.6.5")
    sandbox.app.max_upload = 10
    client = Client(sandbox)
    client.login()
    item = client.create_item(sandbox.collection_uuid, {"dc.title": [{"value": "x"}]}).json()
    bundle = client.send(
        "POST", f"/core/items/{item['uuid']}/bundles", json={"name": "ORIGINAL"}
    ).json()
    refused = client.send(
        "POST", f"/core/bundles/{bundle['uuid']}/bitstreams", files={"file": ("a.bin", b"0" * 100)}
    )
    assert refused.status_code == 413
    assert refused.json()["message"] == "Request entity is too large"


def client_collection(client: Client) -> str:
    collections = client.get("/core/collections").json()["_embedded"]["collections"]
    return collections[0]["uuid"]


# --- fault injection -----------------------------------------------------------------------------


def test_fault_injection(dspace_sandbox):
    api = dspace_sandbox.api
    dspace_sandbox.injector.plan.fail_next = 1
    dspace_sandbox.injector.plan.retry_after = 3
    failed = requests.get(api)
    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "3"
    assert requests.get(api).status_code == 200

    dspace_sandbox.injector.plan.drop_next = 1
    with pytest.raises(requests.ConnectionError):
        requests.get(api)

    dspace_sandbox.injector.plan.latency_ms = 150
    began = time.monotonic()
    assert requests.get(api).status_code == 200
    assert time.monotonic() - began >= 0.15
    dspace_sandbox.injector.plan.latency_ms = 0

    remote = requests.put(
        dspace_sandbox.running.root + "/_sandbox/faults", json={"fail_next": 1, "status": 500}
    )
    assert remote.status_code == 200
    assert requests.get(api).status_code == 500

    dspace_sandbox.reset_stats()
    client = Client(dspace_sandbox)
    client.login()
    counts = dspace_sandbox.stats()
    # a login is counted apart from writes: "no write request" means no data written
    assert (counts["GET"], counts["login"], counts["writes"], counts["total"]) == (1, 1, 0, 2)


@pytest.mark.slow
def test_200_mb_upload_keeps_server_memory_flat(dspace_sandbox, admin, tmp_path):
    from requests_toolbelt import MultipartEncoder

    size = 200 * 1024 * 1024
    scan = tmp_path / "scan.tif"
    digest = hashlib.md5()
    block = bytes(range(256)) * 4096  # 1 MiB
    with scan.open("wb") as out:
        for _ in range(size // len(block)):
            out.write(block)
            digest.update(block)
    item = admin.create_item(dspace_sandbox.collection_uuid, {"dc.title": [{"value": "big"}]})
    bundle = admin.send(
        "POST", f"/core/items/{item.json()['uuid']}/bundles", json={"name": "ORIGINAL"}
    ).json()
    tracemalloc.start()
    try:
        with scan.open("rb") as handle:
            encoder = MultipartEncoder({"file": ("scan.tif", handle, "image/tiff")})
            uploaded = admin.send(
                "POST",
                f"/core/bundles/{bundle['uuid']}/bitstreams",
                data=encoder,
                headers={"Content-Type": encoder.content_type},
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["sizeBytes"] == size
    assert uploaded.json()["checkSum"]["value"] == digest.hexdigest()
    assert peak < 16 * 1024 * 1024  # client and server together, for a 200 MiB file


def test_bitstreams_reorder_with_bundle_move(dspace_sandbox, admin, russian):
    item = admin.create_item(
        dspace_sandbox.collection_uuid, {"dc.title": [{"value": russian[0][1]}]}
    ).json()
    bundle = admin.send(
        "POST", f"/core/items/{item['uuid']}/bundles", json={"name": "ORIGINAL"}
    ).json()
    listing = f"/core/bundles/{bundle['uuid']}/bitstreams"
    for name in ("p001.tif", "p002.tif", "p003.tif"):
        admin.send("POST", listing, files={"file": (name, name.encode())})

    def names() -> list[str]:
        return [b["name"] for b in admin.get(listing).json()["_embedded"]["bitstreams"]]

    assert names() == ["p001.tif", "p002.tif", "p003.tif"]
    moved = admin.patch(
        f"/core/bundles/{bundle['uuid']}",
        [{"op": "move", "from": "/_links/bitstreams/2/href", "path": "/_links/bitstreams/0/href"}],
    )
    assert moved.status_code == 200
    assert names() == ["p003.tif", "p001.tif", "p002.tif"]
    beyond = admin.patch(
        f"/core/bundles/{bundle['uuid']}",
        [{"op": "move", "from": "/_links/bitstreams/5/href", "path": "/_links/bitstreams/0/href"}],
    )
    assert beyond.status_code == 400
    first = admin.get(listing).json()["_embedded"]["bitstreams"][0]
    assert first["sequenceId"] == 3  # sequence ids keep upload order
    fmt = admin.get(f"/core/bitstreams/{first['uuid']}/format").json()
    assert (fmt["mimetype"], fmt["shortDescription"]) == ("image/tiff", "TIFF")
    found = admin.get(f"/pid/find?id=hdl:{item['handle']}", allow_redirects=False)
    assert found.headers["Location"].endswith(f"/core/items/{item['uuid']}")
    assert admin.get("/pid/find?id=123456789/999", allow_redirects=False).status_code == 404


def test_an_administrator_registers_a_metadata_field(dspace_sandbox):
    """POST /core/metadatafields?schemaId=1, as for dc.subject.udc, with DSpace's 422 checks."""
    session = requests.Session()
    api = dspace_sandbox.api
    token = session.get(f"{api}/security/csrf").headers["DSPACE-XSRF-TOKEN"]
    headers = {"X-XSRF-TOKEN": token}
    body = {"element": "subject", "qualifier": "udc", "scopeNote": "UDC"}
    anonymous = session.post(f"{api}/core/metadatafields?schemaId=1", json=body, headers=headers)
    assert anonymous.status_code == 401
    headers["X-XSRF-TOKEN"] = anonymous.headers.get("DSPACE-XSRF-TOKEN", token)
    login = session.post(
        f"{api}/authn/login",
        data={"user": "admin@example.org", "password": "kitab"},
        headers=headers,
    )
    headers = {
        "Authorization": login.headers["Authorization"],
        "X-XSRF-TOKEN": login.headers["DSPACE-XSRF-TOKEN"],
    }
    created = session.post(f"{api}/core/metadatafields?schemaId=1", json=body, headers=headers)
    assert created.status_code == 201
    assert (created.json()["element"], created.json()["qualifier"]) == ("subject", "udc")
    again = session.post(f"{api}/core/metadatafields?schemaId=1", json=body, headers=headers)
    assert again.status_code == 422
    assert again.json()["message"] == "metadata field dc.subject.udc already exists"
    no_schema = session.post(f"{api}/core/metadatafields", json=body, headers=headers)
    assert no_schema.json()["message"] == "metadata schema ID cannot be blank"
    found = session.get(
        f"{api}/core/metadatafields/search/byFieldName", params={"exactName": "dc.subject.udc"}
    ).json()
    assert found["page"]["totalElements"] == 1
