"""The Omeka S sandbox over real HTTP, checked against the contract in omeka-s.md.

Plain ``requests`` on purpose: these tests pin the sandbox to the notes, independently of the
connector that is tested against it.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from pathlib import Path

import pytest
import requests
from lxml import etree

from kitab.sandbox.omeka import start

KEY = {"key_identity": "kitab", "key_credential": "kitab"}
MARC = {"m": "http://www.loc.gov/MARC21/slim"}
TIMEOUT = 10


def api(sb, path: str) -> str:
    return f"{sb.url}/api/{path}"


def literal(pid, text: str, **extra) -> dict:
    return {"type": "literal", "property_id": pid, "@value": text, **extra}


def png(width: int = 2, height: int = 2) -> bytes:
    """A valid PNG (what a scanner's preview would be), built without image libraries."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def create(sb, body: dict, files: dict | None = None) -> requests.Response:
    if files is None:
        return requests.post(api(sb, "items"), params=KEY, json=body, timeout=TIMEOUT)
    parts = {"data": (None, json.dumps(body), "application/json"), **files}
    return requests.post(api(sb, "items"), params=KEY, files=parts, timeout=TIMEOUT)


def with_pages(sb, count: int) -> dict:
    """An item with ``count`` uploaded pages, created in one multipart POST."""
    body = {
        "dcterms:title": [literal(1, "Scanned book")],
        "o:media": [
            {"o:ingester": "upload", "file_index": i, "dcterms:title": [literal(1, f"Page {i}")]}
            for i in range(count)
        ],
    }
    files = {f"file[{i}]": (f"page{i}.png", png(i + 1, 1), "image/png") for i in range(count)}
    answer = create(sb, body, files)
    assert answer.status_code == 200, answer.text
    return answer.json()


def media_ids(item: dict) -> list[int]:
    return [m["o:id"] for m in item["o:media"]]


def get(sb, path: str, **params) -> requests.Response:
    return requests.get(api(sb, path), params={**KEY, **params}, timeout=TIMEOUT)


@pytest.fixture
def marc_records(data_dir: Path) -> list[tuple[str, str, str]]:
    """(001, 003, 245$a) of the MARCXML records that have a title."""
    tree = etree.parse(str(data_dir / "marcxml-marc21-collection-9recs-marc4j-sample1a.xml"))
    rows = []
    for record in tree.iterfind(".//m:record", MARC):
        title = record.findtext('m:datafield[@tag="245"]/m:subfield[@code="a"]', namespaces=MARC)
        if title:
            control = record.findtext('m:controlfield[@tag="001"]', namespaces=MARC)
            agency = record.findtext('m:controlfield[@tag="003"]', namespaces=MARC)
            rows.append((control, agency, title))
    return rows


# --- vocabulary of a fresh install -----------------------------------------------------------


def test_fresh_install_vocabularies_have_the_real_ids(omeka_sandbox):
    sb = omeka_sandbox
    vocabularies = requests.get(api(sb, "vocabularies"), timeout=TIMEOUT).json()
    assert [(v["o:id"], v["o:prefix"]) for v in vocabularies] == [
        (1, "dcterms"),
        (2, "dctype"),
        (3, "bibo"),
        (4, "foaf"),
    ]
    title = requests.get(api(sb, "properties"), params={"term": "dcterms:title"}, timeout=5)
    assert title.json()[0]["o:id"] == 1
    assert title.json()[0]["o:comment"] == "A name given to the resource."
    dcterms = get(sb, "properties", vocabulary_prefix="dcterms", per_page=100).json()
    ids = {p["o:term"]: p["o:id"] for p in dcterms}
    assert len(dcterms) == 55 and sorted(ids.values()) == list(range(1, 56))
    assert ids["dcterms:identifier"] == 10 and ids["dcterms:alternative"] == 17
    assert ids["dcterms:isPartOf"] == 33 and ids["dcterms:license"] == 49
    assert get(sb, "properties").headers["Omeka-S-Total-Results"] == "184"
    classes = {
        term: get(sb, "resource_classes", term=term).json()[0]["o:id"]
        for term in ("dctype:Image", "dctype:Text", "bibo:Book")
    }
    assert classes == {"dctype:Image": 26, "dctype:Text": 31, "bibo:Book": 40}
    templates = get(sb, "resource_templates").json()
    assert [t["o:label"] for t in templates] == ["Base Resource"]
    assert templates[0]["o:resource_template_property"][0]["o:property"]["o:id"] == 1
    assert requests.get(api(sb, "sites"), timeout=TIMEOUT).json() == []
    item_set = requests.get(api(sb, f"item_sets/{sb.item_set_id}"), timeout=TIMEOUT).json()
    assert sb.item_set_id == 1 and item_set["o:title"] == "kitab sandbox"
    assert item_set["o:items"]["@id"].endswith("/api/items?item_set_id=1")


# --- keys and anonymous access ---------------------------------------------------------------


def test_anonymous_reads_public_only_and_cannot_write(omeka_sandbox):
    sb = omeka_sandbox
    public = create(
        sb,
        {
            "dcterms:title": [literal(1, "Open")],
            "dcterms:creator": [literal(2, "Anonymous", is_public=False)],
        },
    ).json()
    private = create(sb, {"o:is_public": False, "dcterms:title": [literal(1, "Closed")]}).json()

    listing = requests.get(api(sb, "items"), timeout=TIMEOUT)
    assert listing.status_code == 200
    assert [i["o:id"] for i in listing.json()] == [public["o:id"]]
    assert "dcterms:creator" not in listing.json()[0]
    assert "dcterms:creator" in get(sb, f"items/{public['o:id']}").json()
    assert requests.get(api(sb, f"items/{private['o:id']}"), timeout=5).status_code == 404
    assert get(sb, f"items/{private['o:id']}").json()["o:is_public"] is False

    half_key = {"key_identity": "kitab"}
    for params in ({}, half_key, {"key_identity": "kitab", "key_credential": "wrong"}):
        answer = requests.post(api(sb, "items"), params=params, json={}, timeout=TIMEOUT)
        assert answer.status_code == 403
        assert answer.json() == {
            "errors": {
                "error": "Permission denied for the current user to create the "
                "Omeka\\Api\\Adapter\\ItemAdapter resource."
            }
        }
    deleted = requests.delete(api(sb, f"items/{public['o:id']}"), params=half_key, timeout=5)
    assert deleted.status_code == 403
    assert "to delete the Omeka\\Api\\Adapter\\ItemAdapter" in deleted.json()["errors"]["error"]
    assert requests.get(api(sb, "users"), params={"per_page": 1}, timeout=5).status_code == 403
    users = get(sb, "users", per_page=1)
    assert users.status_code == 200 and users.json()[0]["o:role"] == "global_admin"


# --- create, ids, values ---------------------------------------------------------------------


def test_create_answers_200_and_ids_are_shared(omeka_sandbox, marc_records):
    sb = omeka_sandbox
    control, agency, title = marc_records[0]
    item = with_pages(sb, 1)
    assert (item["o:id"], media_ids(item)) == (2, [3])  # after item set 1
    assert get(sb, "items/3").status_code == 404
    assert get(sb, "items/3").json() == {
        "errors": {"error": 'Omeka\\Entity\\Item entity with criteria {"id":"3"} not found'}
    }
    answer = create(
        sb,
        {
            "o:resource_class": {"o:id": 26},
            "o:resource_template": {"o:id": 1},
            "o:item_set": [1],
            "dcterms:title": [literal(1, title, **{"@language": "en"})],
            "dcterms:identifier": [literal("auto", f"{agency}:{control}")],
            "dcterms:source": [{"type": "uri", "property_id": 11, "@id": "https://example.org/r"}],
            "dcterms:subject": [{"type": "literal", "property_id": 3}],  # no @value: dropped
            "dcterms:format": [{"type": "nonsense", "property_id": 9, "@value": "x"}],
        },
    )
    assert answer.status_code == 200 and "Location" not in answer.headers
    body = answer.json()
    assert body["o:id"] == 4 and body["o:title"] == title
    assert body["@type"] == ["o:Item", "dctype:Image"]
    assert body["dcterms:identifier"][0]["property_id"] == 10
    assert body["dcterms:identifier"][0]["@value"] == "NBYdb:370589"
    assert body["dcterms:title"][0]["@language"] == "en"
    assert body["o:item_set"] == [{"@id": f"{sb.url}/api/item_sets/1", "o:id": 1}]
    assert "dcterms:subject" not in body and "dcterms:format" not in body
    assert body["o:created"]["@value"].endswith("+00:00")
    # template order first: title (1), then identifier (10), then source outside the template
    assert list(body)[-3:] == ["dcterms:title", "dcterms:identifier", "dcterms:source"]


def test_bad_references_and_properties(omeka_sandbox):
    sb = omeka_sandbox
    unknown_class = create(sb, {"o:resource_class": {"o:id": 99999}})
    assert unknown_class.status_code == 404
    assert unknown_class.json()["errors"]["error"] == (
        'Omeka\\Entity\\ResourceClass entity with criteria {"id":99999} not found'
    )
    assert create(sb, {"o:item_set": [{"o:id": 99999}]}).status_code == 404
    unknown_property = create(sb, {"dcterms:title": [literal(99999, "x")]})
    assert unknown_property.status_code == 500
    assert unknown_property.json()["errors"]["error"].startswith("SQLSTATE[23000]")
    assert get(sb, "items").json() == []  # nothing half-created


# --- PATCH, PUT and media order --------------------------------------------------------------


def test_patch_replaces_all_values_and_keeps_the_rest(omeka_sandbox):
    sb = omeka_sandbox
    item = with_pages(sb, 1)
    item_id = item["o:id"]
    patch = requests.patch(
        api(sb, f"items/{item_id}"),
        params=KEY,
        json={"o:item_set": [1], "dcterms:identifier": [literal(10, "MS-0001")]},
        timeout=TIMEOUT,
    )
    assert patch.status_code == 200
    patched = patch.json()
    assert patched["dcterms:identifier"][0]["@value"] == "MS-0001"
    assert "dcterms:title" not in patched and patched["o:title"] is None
    assert media_ids(patched) == media_ids(item)

    flag = requests.patch(
        api(sb, f"items/{item_id}"), params=KEY, json={"o:is_public": False}, timeout=TIMEOUT
    ).json()
    assert flag["o:is_public"] is False
    assert flag["dcterms:identifier"] == patched["dcterms:identifier"]
    assert flag["o:item_set"] == patched["o:item_set"] and media_ids(flag) == media_ids(item)


def test_patch_media_list_deletes_the_others(omeka_sandbox, tmp_path):
    sb = omeka_sandbox
    item = with_pages(sb, 2)
    first, second = media_ids(item)
    doomed = get(sb, f"media/{first}").json()["o:filename"]
    stored = tmp_path / "omeka" / "files" / "original"
    assert (stored / doomed).is_file()
    answer = requests.patch(
        api(sb, f"items/{item['o:id']}"),
        params=KEY,
        json={"o:media": [{"o:id": second}]},
        timeout=TIMEOUT,
    )
    assert media_ids(answer.json()) == [second]
    assert get(sb, f"media/{first}").status_code == 404
    assert not (stored / doomed).exists()


def test_put_without_media_deletes_every_file(omeka_sandbox, tmp_path):
    sb = omeka_sandbox
    item = with_pages(sb, 2)
    requests.patch(
        api(sb, f"items/{item['o:id']}"),
        params=KEY,
        json={"o:is_public": False, "o:resource_class": {"o:id": 31}, "o:item_set": [1]},
        timeout=TIMEOUT,
    )
    put = requests.put(
        api(sb, f"items/{item['o:id']}"),
        params=KEY,
        json={"dcterms:title": [literal(1, "Only a title")]},
        timeout=TIMEOUT,
    ).json()
    assert put["o:media"] == [] and put["o:primary_media"] is None
    assert put["o:is_public"] is True and put["o:resource_class"] is None
    assert put["o:item_set"] == [] and put["o:title"] == "Only a title"
    assert list((tmp_path / "omeka" / "files" / "original").iterdir()) == []


def test_late_media_sort_first_until_reordered(omeka_sandbox):
    sb = omeka_sandbox
    item = with_pages(sb, 2)
    late = requests.post(
        api(sb, "media"),
        params=KEY,
        files={
            "data": (
                None,
                json.dumps(
                    {"o:ingester": "upload", "file_index": 0, "o:item": {"o:id": item["o:id"]}}
                ),
            ),
            "file[0]": ("late.png", png(3, 3), "image/png"),
        },
        timeout=TIMEOUT,
    )
    assert late.status_code == 200 and late.json()["o:source"] == "late.png"
    late_id = late.json()["o:id"]
    now = get(sb, f"items/{item['o:id']}").json()
    assert media_ids(now) == [late_id, *media_ids(item)]
    assert now["o:primary_media"]["o:id"] == late_id
    order = [*media_ids(item), late_id]
    patched = requests.patch(
        api(sb, f"items/{item['o:id']}"),
        params=KEY,
        json={"o:media": [{"o:id": i} for i in order]},
        timeout=TIMEOUT,
    ).json()
    assert media_ids(patched) == order and patched["o:primary_media"]["o:id"] == order[0]


# --- files -----------------------------------------------------------------------------------


def test_upload_records_sha256_and_size(omeka_sandbox, data_dir):
    sb = omeka_sandbox
    record = data_dir / "unimarc-utf8-pymarc-testunimarc.dat"
    sums = dict(
        reversed(line.split("  ", 1)) for line in (data_dir / "SHA256SUMS").read_text().splitlines()
    )
    item = create(
        sb,
        {"o:media": [{"o:ingester": "upload", "file_index": 0}]},
        {"file[0]": ("testunimarc.txt", record.read_bytes(), "text/plain")},
    ).json()
    media = get(sb, f"media/{item['o:media'][0]['o:id']}").json()
    assert media["o:sha256"] == sums[record.name]
    assert media["o:size"] == record.stat().st_size
    assert media["o:media_type"] == "text/plain" and media["o:source"] == "testunimarc.txt"
    assert media["o:filename"].endswith(".txt") and len(media["o:filename"]) == 44
    assert media["o:thumbnail_urls"] == []
    original = requests.get(media["o:original_url"], timeout=TIMEOUT)
    assert hashlib.sha256(original.content).hexdigest() == sums[record.name]
    image = get(sb, f"media/{with_pages(sb, 1)['o:media'][0]['o:id']}").json()
    storage = image["o:filename"].rsplit(".", 1)[0]
    assert image["o:thumbnail_urls"]["square"] == f"{sb.url}/files/square/{storage}.jpg"
    assert image["o:sha256"] == hashlib.sha256(png(1, 1)).hexdigest()


def test_whitelist_rejects_marcxml_and_fake_jpeg(omeka_sandbox, data_dir, tmp_path):
    sb = omeka_sandbox
    marcxml = (data_dir / "marcxml-marc21-single-856-pymarc-utf8.xml").read_bytes()
    host = with_pages(sb, 1)["o:id"]
    sidecar = requests.post(
        api(sb, "media"),
        params=KEY,
        files={
            "data": (
                None,
                json.dumps({"o:ingester": "upload", "file_index": 0, "o:item": {"o:id": host}}),
            ),
            "file[0]": ("t.xml", marcxml, "text/xml"),
        },
        timeout=TIMEOUT,
    )
    assert sidecar.status_code == 422
    assert sidecar.json() == {
        "errors": {
            "file": [
                'Error validating "t.xml". Cannot store files with the media type "text/xml".',
                'Error validating "t.xml". Cannot store files with the resolved extension "xml".',
            ]
        }
    }
    before = get(sb, "items").headers["Omeka-S-Total-Results"]
    nested = create(
        sb,
        {
            "dcterms:title": [literal(1, "Rolled back")],
            "o:media": [
                {"o:ingester": "upload", "file_index": 0},
                {"o:ingester": "upload", "file_index": 1},
            ],
        },
        {
            "file[0]": ("good.png", png(), "image/png"),
            "file[1]": ("scan.jpg", bytes(range(256)) * 4, "image/jpeg"),
        },
    )
    assert nested.status_code == 422
    assert nested.json() == {
        "errors": {
            "o:media": [
                {
                    "file": [
                        'Error validating "scan.jpg". Cannot store files with the media type '
                        '"application/octet-stream".'
                    ]
                }
            ]
        }
    }
    assert get(sb, "items").headers["Omeka-S-Total-Results"] == before
    stored = list((tmp_path / "omeka" / "files" / "original").iterdir())
    assert len(stored) == 1  # only the page of the first item; good.png was removed again


def test_media_create_validation(omeka_sandbox):
    sb = omeka_sandbox
    orphan = requests.post(api(sb, "media"), params=KEY, json={"o:ingester": "x"}, timeout=5)
    assert orphan.status_code == 422
    assert orphan.json()["errors"] == {
        "o:item": ["Media must belong to an item."],
        "o:ingester": ["Media must set a valid ingester."],
    }
    host = create(sb, {}).json()["o:id"]
    no_file = requests.post(
        api(sb, "media"),
        params=KEY,
        json={"o:ingester": "upload", "file_index": 0, "o:item": {"o:id": host}},
        timeout=TIMEOUT,
    )
    assert no_file.status_code == 422
    assert no_file.json() == {"errors": {"error": ["No files were uploaded"]}}
    html = requests.post(
        api(sb, "media"),
        params=KEY,
        json={"o:ingester": "html", "html": "<p>note</p>", "o:item": {"o:id": host}},
        timeout=TIMEOUT,
    ).json()
    assert html["o:renderer"] == "html" and html["o:sha256"] is None
    assert html["data"] == {"html": "<p>note</p>"}
    missing = requests.post(
        api(sb, "media"),
        params=KEY,
        json={
            "o:ingester": "url",
            "ingest_url": f"{sb.url}/files/original/missing.jpg",
            "o:item": {"o:id": host},
        },
        timeout=TIMEOUT,
    )
    assert missing.status_code == 422
    assert missing.json()["errors"]["download"][0].startswith(
        f"Error downloading {sb.url}/files/original/missing.jpg: 404"
    )


# --- search ----------------------------------------------------------------------------------


def test_property_search_types(omeka_sandbox, marc_records):
    sb = omeka_sandbox
    ids = {}
    for control, agency, title in marc_records:
        body = {
            "dcterms:title": [literal(1, title)],
            "dcterms:identifier": [literal(10, f"{agency}:{control}")],
        }
        ids[control] = create(sb, body).json()["o:id"]
    bare = create(sb, {"dcterms:title": [literal(1, "No identifier")]}).json()["o:id"]

    def found(**rows) -> list[int]:
        params = {**KEY, "per_page": 100}
        for i, (name, value) in enumerate(rows.items()):
            kind, _, joiner = name.partition("_")
            params[f"property[{i}][property]"] = "dcterms:identifier" if kind != "search" else ""
            params[f"property[{i}][type]"] = kind if kind != "search" else "in"
            params[f"property[{i}][text]"] = value
            if joiner:
                params[f"property[{i}][joiner]"] = joiner
        return [i["o:id"] for i in requests.get(api(sb, "items"), params=params, timeout=5).json()]

    assert found(eq="nbydb:370589") == [ids["370589"]]  # case-insensitive
    assert found(sw="NBYdb:3706") == [ids["370607"], ids["370627"], ids["370636"]]
    assert found(ew="0636") == [ids["370636"]]
    assert found(eq="NBYdb:370589", eq_or="NBYdb:370636") == [ids["370589"], ids["370636"]]
    assert found(nex="") == [bare]
    assert len(found(ex="")) == len(marc_records)
    assert found(search="Mahler") == [ids["370607"]]
    assert found(neq="NBYdb:370589") == [*(v for k, v in ids.items() if k != "370589"), bare]
    search = get(sb, "items", search="liturgie").json()
    assert [i["o:id"] for i in search] == [ids["370636"]]


def test_date_filters_and_the_plus_sign(omeka_sandbox):
    sb = omeka_sandbox
    item_id = create(sb, {"dcterms:title": [literal(1, "dated")]}).json()["o:id"]
    base = f"{api(sb, 'items')}?key_identity=kitab&key_credential=kitab"
    encoded = requests.get(f"{base}&modified_after=2000-01-01T00:00:00%2B00:00", timeout=5)
    assert [i["o:id"] for i in encoded.json()] == [item_id]
    raw_plus = requests.get(f"{base}&modified_after=2000-01-01T00:00:00+00:00", timeout=5)
    assert raw_plus.status_code == 200 and raw_plus.json() == []
    assert raw_plus.headers["Omeka-S-Total-Results"] == "0"
    for accepted in ("2000-01-01T00:00:00Z", "2000-01-01T10:30", "2000-01", "2000"):
        assert len(get(sb, "items", modified_after=accepted).json()) == 1, accepted
    assert get(sb, "items", created_before="2000").json() == []
    assert get(sb, "items", modified_after="garbage").json() == []
    assert get(sb, "items", modified_after="2999-01-01").json() == []


def test_pagination_headers_repeat_the_key(omeka_sandbox):
    sb = omeka_sandbox
    for n in range(5):
        create(sb, {"dcterms:title": [literal(1, f"n{n}")]})
    page = get(sb, "items", per_page=2, page=2)
    assert page.headers["Omeka-S-Total-Results"] == "5"
    assert page.headers["Omeka-S-Version"] == "4.0.4"
    assert page.headers["Content-Type"] == "application/json; charset=utf-8"
    links = requests.utils.parse_header_links(page.headers["Link"])
    assert [link["rel"] for link in links] == ["first", "prev", "next", "last"]
    assert all("key_credential=kitab" in link["url"] for link in links)
    assert links[-1]["url"].endswith("per_page=2&page=3&sort_by=id&sort_order=asc")
    first = requests.utils.parse_header_links(get(sb, "items", per_page=2).headers["Link"])
    assert [link["rel"] for link in first] == ["first", "next", "last"]
    past = get(sb, "items", per_page=2, page=9)
    assert past.json() == [] and "page=8" in past.headers["Link"]
    empty = get(sb, "media")
    assert empty.json() == [] and empty.headers["Omeka-S-Total-Results"] == "0"
    assert [link["rel"] for link in requests.utils.parse_header_links(empty.headers["Link"])] == [
        "first"
    ]
    titles = [i["o:title"] for i in get(sb, "items", sort_by="title", sort_order="desc").json()]
    assert titles == ["n4", "n3", "n2", "n1", "n0"]


# --- errors and versions ---------------------------------------------------------------------


def test_error_bodies_and_content_types(omeka_sandbox):
    sb = omeka_sandbox
    url = api(sb, "items")

    def post(data: bytes, content_type: str | None) -> requests.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        return requests.post(url, params=KEY, data=data, headers=headers, timeout=TIMEOUT)

    assert post(b"{", "application/json").json() == {"errors": {"error": "JSON: Syntax error"}}
    scalar = post(b'"x"', "application/json")
    assert scalar.status_code == 400
    assert scalar.json()["errors"]["error"] == "JSON: Content must be an object or array."
    text = post(b"{}", "text/plain")
    assert text.status_code == 415
    assert text.json()["errors"]["error"] == (
        'Invalid Content-Type header. Expecting "application/json", got "text/plain".'
    )
    assert 'got "none"' in post(b"{}", None).json()["errors"]["error"]
    assert post(b"{}", "application/ld+json; charset=utf-8").status_code == 200
    unknown = get(sb, "foo")
    assert unknown.status_code == 500
    assert unknown.json()["errors"]["error"] == 'The API does not support the "foo" resource.'
    root = requests.get(f"{sb.url}/api/", timeout=TIMEOUT)
    assert root.status_code == 404 and root.headers["Content-Type"].startswith("text/html")
    listing_patch = requests.patch(url, params=KEY, json={}, timeout=TIMEOUT)
    assert listing_patch.status_code == 405 and "html" in listing_patch.headers["Content-Type"]


def test_delete_answers_html_500_on_404_and_200_on_420(tmp_path):
    for version, status in (("4.0.4", 500), ("4.2.0", 200)):
        sb = start(tmp_path / version, version=version)
        try:
            item = with_pages(sb, 1)
            answer = requests.delete(api(sb, f"items/{item['o:id']}"), params=KEY, timeout=5)
            assert answer.status_code == status
            assert answer.headers["Omeka-S-Version"] == version
            if status == 500:
                assert answer.headers["Content-Type"].startswith("text/html")
            else:
                assert answer.json()["o:id"] is None
                assert answer.json()["@id"] == f"{sb.url}/api/items"
                assert answer.headers["Content-Type"].startswith("application/ld+json")
            assert get(sb, f"items/{item['o:id']}").status_code == 404
            assert get(sb, f"media/{item['o:media'][0]['o:id']}").status_code == 404
            assert list((tmp_path / version / "files" / "original").iterdir()) == []
        finally:
            sb.stop()


# --- persistence and faults ------------------------------------------------------------------


def test_data_survives_a_restart(tmp_path):
    sb = start(tmp_path / "data")
    item = with_pages(sb, 1)
    sb.stop()
    again = start(tmp_path / "data")
    try:
        assert again.item_set_id == 1
        kept = get(again, f"items/{item['o:id']}").json()
        assert kept["o:title"] == "Scanned book" and media_ids(kept) == media_ids(item)
        media = get(again, f"media/{media_ids(item)[0]}").json()
        assert requests.get(media["o:original_url"], timeout=5).content == png(1, 1)
        assert create(again, {}).json()["o:id"] == max(media_ids(item)) + 1
        assert len(get(again, "item_sets").json()) == 1
    finally:
        again.stop()


def test_fault_injection(omeka_sandbox):
    sb = omeka_sandbox
    plan = {"fail_next": 1, "status": 503, "retry_after": 2}
    requests.put(f"{sb.url}/_sandbox/faults", json=plan, timeout=TIMEOUT)
    failed = get(sb, "items")
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
    assert get(sb, "items").status_code == 200
    requests.put(f"{sb.url}/_sandbox/faults", json={"drop_next": 1}, timeout=TIMEOUT)
    with pytest.raises(requests.ConnectionError):
        get(sb, "items")
    assert get(sb, "items").status_code == 200
    assert sb.stats()["GET"] == 4 and sb.stats()["writes"] == 0
    create(sb, {})
    assert sb.stats()["writes"] == 1
    sb.reset_stats()
    assert sb.stats()["total"] == 0
