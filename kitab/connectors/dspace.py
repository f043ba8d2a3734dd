"""The DSpace 7–9 connector: the Repository protocol over DSpace's REST "Server API".

Contract choices, each forced by how DSpace really behaves (reference notes on DSpace):
* Metadata changes are one PATCH with, per changed field, ``remove /metadata/f`` then one
  ``add /metadata/f/-`` per value: ``add`` with an array inserts only its first value and
  ``replace`` wipes the field, so neither can be trusted with several values. Fields kitab does
  not name are never touched. Names are checked against the metadata registry first, because an
  unknown field is a 500 on create and, on older servers, a metadata wipe on patch.
* A new item costs three requests (item, ORIGINAL bundle, one upload per file): the upload's own
  ``checkSum`` verifies it, so nothing is read back.
* Uploads stream from disk through a multipart encoder built afresh for each attempt, hashing as
  they go; the size limit is the server's to enforce (a 413 becomes a clear refusal).
* Lookups go through discovery with ``administrativeView`` (so withdrawn and private items are
  found) and compare values exactly on the client, since Solr matches phrases, not values.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import requests
from requests_toolbelt import MultipartEncoder

from kitab.connectors.base import (
    Conflict,
    IntegrityError,
    NotFound,
    Rejected,
    RemoteFile,
    RemoteItem,
)
from kitab.connectors.dspace_session import DSpaceSession, error_message
from kitab.connectors.http import HttpClient, RetryPolicy, raise_for_status, safe_path
from kitab.connectors.secrets import SecretSource
from kitab.model import FileRef, Item, Metadata, Value, identity_value, key_from_identity

IDENTITY_FIELD = "dc.identifier.other"
CONTENT_BUNDLE = "ORIGINAL"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class DSpaceSettings:
    url: str  # the server webapp, e.g. http://127.0.0.1:8080/server (…/server/api also works)
    collection: str  # default collection: UUID or handle (123456789/2)
    user: str
    password: SecretSource | str
    page_size: int = 100  # objects per page when listing; DSpace clamps large values itself

    @property
    def api(self) -> str:
        base = self.url.rstrip("/")
        return base if base.endswith("/api") else f"{base}/api"


class _HashingReader:
    """A file wrapper that hashes what the encoder reads, so verifying costs no second pass.

    ``fileno``/``tell`` let the multipart encoder size the part without reading it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.md5 = hashlib.md5(usedforsecurity=False)

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self.md5.update(chunk)
        return chunk

    def fileno(self) -> int:
        return self._stream.fileno()

    def tell(self) -> int:
        return self._stream.tell()

    def close(self) -> None:
        self._stream.close()


def _pointer(field: str) -> str:
    """A metadata field as a JSON Pointer segment (RFC 6901)."""
    return field.replace("~", "~0").replace("/", "~1")


def _solr_phrase(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_date(text: str | None) -> datetime | None:
    """``lastModified`` is ``…+00:00`` up to 8.x and ``…Z`` from 9.0: accept both."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _metadata(data: dict[str, Any]) -> Metadata:
    metadata: Metadata = {}
    for name, values in (data.get("metadata") or {}).items():
        ordered = sorted(values, key=lambda v: v.get("place") if v.get("place") is not None else 0)
        metadata[name] = [
            Value(v["value"], v.get("language") or None)
            for v in ordered
            if v.get("value") is not None
        ]
    return metadata


def _metadata_body(metadata: Metadata) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [{"value": v.value, "language": v.language} for v in values]
        for name, values in metadata.items()
        if values
    }


def _remote_file(data: dict[str, Any], position: int) -> RemoteFile:
    checksum = data.get("checkSum") or {}
    return RemoteFile(
        id=data["uuid"] if data.get("uuid") else data["id"],
        name=data.get("name") or "",
        size=int(data.get("sizeBytes") or 0),
        checksum=(checksum.get("value") or "").lower(),
        algorithm=checksum.get("checkSumAlgorithm") or "MD5",
        position=position,
    )


class DSpaceConnector:
    """Repository protocol implementation for DSpace 7.6–9.x. Safe to share between threads."""

    identity_field = IDENTITY_FIELD
    checksum_algorithm = "MD5"

    def __init__(self, settings: DSpaceSettings, policy: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.http = HttpClient(policy=policy)
        self.session = DSpaceSession(self.http, settings.api, settings.user, settings.password)
        self._lock = threading.Lock()  # the first contact with the server
        self._registry_lock = threading.Lock()  # the metadata registry, read once per run
        self._started = False
        self._fields: frozenset[str] | None = None
        self._schema_ids: dict[str, int] = {}
        self._collections: dict[str, str] = {}  # UUID or handle → UUID
        self._bundles: dict[str, str] = {}  # item UUID → ORIGINAL bundle UUID

    # --- plumbing ---------------------------------------------------------------------------

    def _start(self) -> None:
        if not self._started:
            with self._lock:
                if not self._started:
                    self.session.start()
                    self._started = True

    @property
    def server_version(self) -> tuple[int, ...] | None:
        """The DSpace version the server reports (``(9, 3)``), for reports and diagnostics."""
        self._start()
        found = re.search(r"(\d+(?:\.\d+)*)", str(self.session.root.get("dspaceVersion", "")))
        return tuple(int(p) for p in found.group(1).split(".")) if found else None

    def _call(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any):
        """Send and turn any status outside ``ok`` into a typed error in the server's words."""
        self._start()
        response = self.session.request(method, path, **kwargs)
        if response.status_code not in ok:
            self._raise(response)
        return response

    def _raise(self, response: requests.Response) -> None:
        message = self.session.redact(error_message(response))
        if response.status_code == 400 and "bundle name already exists" in message.lower():
            raise Conflict(
                message,
                status=400,
                method=response.request.method or "",
                path=safe_path(response.url),
            )
        raise_for_status(response, message or f"HTTP {response.status_code}")
        raise Rejected(  # a 2xx/3xx we did not expect is a contract breach, not a success
            f"unexpected answer {response.status_code}",
            status=response.status_code,
            method=response.request.method or "",
            path=safe_path(response.url),
        )

    def _pages(
        self, path: str, key: str, params: dict[str, Any] | None = None, *, public: bool = False
    ) -> Iterator[dict]:
        """Every object of a paged HAL list, following the pages to the end.

        ``public`` lists (the metadata registry) are read without logging in, so a push with
        nothing to write sends no request that writes anything, not even a login.
        """
        page = 0
        while True:
            body = self._call(
                "GET",
                path,
                params={**(params or {}), "page": page, "size": self.settings.page_size},
                login=not public,
            ).json()
            yield from (body.get("_embedded") or {}).get(key, [])
            info = body.get("page") or {}
            page += 1
            if page >= int(info.get("totalPages") or 0):
                return

    def _search(self, params: dict[str, Any]) -> Iterator[dict]:
        """Discovery hits (the full object JSON), every page, de-duplicated by UUID."""
        seen: set[str] = set()
        page = 0
        while True:
            body = self._call(
                "GET",
                "/discover/search/objects",
                params={**params, "page": page, "size": self.settings.page_size},
            ).json()
            result = (body.get("_embedded") or {}).get("searchResult") or {}
            for hit in (result.get("_embedded") or {}).get("objects", []):
                found = (hit.get("_embedded") or {}).get("indexableObject")
                if found and found.get("uuid") not in seen:
                    seen.add(found.get("uuid"))
                    yield found
            page += 1
            if page >= int((result.get("page") or {}).get("totalPages") or 0):
                return

    # --- registry and collections -----------------------------------------------------------

    def _known_fields(self) -> frozenset[str]:
        with self._registry_lock:
            if self._fields is None:
                self._fields = self._read_registry()
        return self._fields

    def _read_registry(self) -> frozenset[str]:
        names = set()
        for field in self._pages("/core/metadatafields", "metadatafields", public=True):
            schema = ((field.get("_embedded") or {}).get("schema") or {}) or (
                field["schema"] if isinstance(field.get("schema"), dict) else {}
            )
            prefix = schema.get("prefix")
            if prefix and schema.get("id") is not None:
                self._schema_ids[prefix] = int(schema["id"])
            parts = [prefix, field.get("element"), field.get("qualifier")]
            names.add(".".join(p for p in parts if p))
        return frozenset(names)

    def missing_fields(self, names: list[str]) -> list[str]:
        """The field names this repository's metadata registry does not know."""
        return sorted(set(names) - self._known_fields())

    def check_fields(self, names: list[str]) -> None:
        """Refuse, before any write, field names this repository's registry does not know."""
        unknown = self.missing_fields(names)
        if unknown:
            raise Rejected(
                f"the metadata registry of {self.settings.url} has no field "
                f"{', '.join(unknown)}; register it (kitab setup --apply) or change the crosswalk"
            )

    def register_fields(self, names: list[str]) -> None:
        """Add fields to the registry (administrator only), as DSpace's registry page does."""
        known = self._known_fields()
        for name in names:
            if name in known:
                continue
            prefix, element, *rest = name.split(".")
            schema_id = self._schema_ids.get(prefix)
            if schema_id is None:
                raise Rejected(f"no metadata schema {prefix!r} in {self.settings.url}")
            self._call(
                "POST",
                "/core/metadatafields",
                ok=(201,),
                params={"schemaId": schema_id},
                json={"element": element, "qualifier": rest[0] if rest else None},
            )
        with self._registry_lock:
            self._fields = None

    def collection_uuid(self, container: str | None = None) -> str:
        """The UUID of a collection given by UUID or handle (resolved once per run)."""
        ref = (container or self.settings.collection).strip()
        if ref in self._collections:
            return self._collections[ref]
        if _UUID.match(ref):
            self._call("GET", f"/core/collections/{ref}")
            uuid = ref
        else:
            handle = ref.removeprefix("hdl:").removeprefix("http://hdl.handle.net/")
            hits = self._search(
                {"query": f"handle:{_solr_phrase(handle)}", "dsoType": "COLLECTION"}
            )
            match = next((h for h in hits if h.get("handle") == handle), None)
            if match is None:
                raise NotFound(f"no collection with handle {handle} in {self.settings.url}")
            uuid = match["uuid"]
        self._collections[ref] = uuid
        return uuid

    # --- items ------------------------------------------------------------------------------

    def _remote_item(self, data: dict[str, Any], files: list[RemoteFile]) -> RemoteItem:
        metadata = _metadata(data)
        key = next(
            filter(None, (key_from_identity(v.value) for v in metadata.get(IDENTITY_FIELD, []))),
            None,
        )
        uris = metadata.get("dc.identifier.uri")
        url = uris[0].value if uris else None
        if url is None and data.get("handle"):
            ui = str(self.session.root.get("dspaceUI") or "").rstrip("/")
            url = f"{ui}/handle/{data['handle']}" if ui else None
        return RemoteItem(
            id=data["uuid"],
            key=key,
            metadata=metadata,
            files=files,
            modified=_parse_date(data.get("lastModified")),
            url=url,
            public=bool(data.get("discoverable", True)),
            withdrawn=bool(data.get("withdrawn", False)),
        )

    def get(self, item_id: str) -> RemoteItem:
        data = self._call("GET", f"/core/items/{item_id}").json()
        return self._remote_item(data, self.list_files(item_id))

    def find(self, key: str) -> RemoteItem | None:
        wanted = identity_value(key)
        hits = self._search(
            {
                "query": f"{IDENTITY_FIELD}:{_solr_phrase(wanted)}",
                "dsoType": "ITEM",
                "configuration": "administrativeView",
            }
        )
        exact = [
            h for h in hits if any(v.value == wanted for v in _metadata(h).get(IDENTITY_FIELD, []))
        ]
        if len(exact) > 1:
            ids = ", ".join(h["uuid"] for h in exact)
            raise Conflict(f"record {key} is in {self.settings.url} more than once: items {ids}")
        if not exact:
            return None
        return self._remote_item(exact[0], self.list_files(exact[0]["uuid"]))

    def create(self, item: Item, container: str | None = None) -> RemoteItem:
        self._start()
        self.check_fields([name for name, values in item.metadata.items() if values])
        collection = self.collection_uuid(container)
        for file in item.files:
            if not file.path.is_file():
                raise Rejected(f"record {item.key}: file {file.path} does not exist")
        body = {
            "metadata": _metadata_body(item.metadata),
            "inArchive": True,  # omitted, DSpace answers 400
            "discoverable": item.public,  # omitted, DSpace creates a private item
        }
        data = self._call(
            "POST",
            "/core/items",
            ok=(201,),
            params={"owningCollection": collection},
            json=body,
        ).json()
        files = []
        if item.files:
            bundle = self._create_bundle(data["uuid"])
            for position, file in enumerate(item.files):
                files.append(self._upload(bundle, file, position))
        return self._remote_item(data, files)

    def update_metadata(self, item_id: str, changes: Metadata) -> RemoteItem:
        """One PATCH; returns the item as the server left it (``files`` not listed)."""
        if not changes:
            return self.get(item_id)
        self.check_fields([name for name, values in changes.items() if values])
        operations: list[dict[str, Any]] = []
        for name, values in changes.items():
            path = f"/metadata/{_pointer(name)}"
            operations.append({"op": "remove", "path": path})
            operations.extend(
                {
                    "op": "add",
                    "path": f"{path}/-",
                    "value": {
                        "value": v.value,
                        "language": v.language,
                        "authority": None,
                        "confidence": -1,
                    },
                }
                for v in values
            )
        data = self._call(
            "PATCH",
            f"/core/items/{item_id}",
            data=json.dumps(operations),
            headers={"Content-Type": "application/json-patch+json"},
        ).json()
        return self._remote_item(data, [])

    def _patch_flag(self, item_id: str, flag: str, value: bool) -> None:
        self._call(
            "PATCH",
            f"/core/items/{item_id}",
            idempotent=True,  # setting a flag twice changes nothing
            data=json.dumps([{"op": "replace", "path": f"/{flag}", "value": value}]),
            headers={"Content-Type": "application/json-patch+json"},
        )

    def set_public(self, item_id: str, public: bool) -> None:
        self._patch_flag(item_id, "discoverable", public)

    def withdraw(self, item_id: str) -> None:
        self._patch_flag(item_id, "withdrawn", True)

    def changed_since(self, since: datetime) -> Iterator[RemoteItem]:
        """Items of the connector's collection modified at or after ``since``."""
        since = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
        stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")  # floored to the second: inclusive
        hits = self._search(
            {
                "query": f"lastModified:[{stamp} TO *]",
                "dsoType": "ITEM",
                "scope": self.collection_uuid(),
                "configuration": "administrativeView",
                "sort": "dc.date.accessioned,asc",  # lastModified is not a configured sort
            }
        )
        for hit in hits:
            modified = _parse_date(hit.get("lastModified"))
            if modified is None or modified >= since:
                yield self._remote_item(hit, self.list_files(hit["uuid"]))

    def iter_items(self) -> Iterator[RemoteItem]:
        hits = self._search(
            {
                "dsoType": "ITEM",
                "scope": self.collection_uuid(),
                "configuration": "administrativeView",
                "sort": "dc.date.accessioned,asc",
            }
        )
        for hit in hits:
            yield self._remote_item(hit, self.list_files(hit["uuid"]))

    # --- files ------------------------------------------------------------------------------

    def _original_bundle(self, item_id: str) -> str | None:
        if item_id in self._bundles:
            return self._bundles[item_id]
        for bundle in self._pages(f"/core/items/{item_id}/bundles", "bundles"):
            if bundle.get("name") == CONTENT_BUNDLE:
                self._bundles[item_id] = bundle["uuid"]
                return bundle["uuid"]
        return None

    def _create_bundle(self, item_id: str) -> str:
        data = self._call(
            "POST",
            f"/core/items/{item_id}/bundles",
            ok=(201,),
            json={"name": CONTENT_BUNDLE, "metadata": {}},
        ).json()
        self._bundles[item_id] = data["uuid"]
        return data["uuid"]

    def _bitstreams(self, bundle: str) -> list[RemoteFile]:
        found = self._pages(f"/core/bundles/{bundle}/bitstreams", "bitstreams")
        return [_remote_file(data, position) for position, data in enumerate(found)]

    def list_files(self, item_id: str) -> list[RemoteFile]:
        bundle = self._original_bundle(item_id)
        return self._bitstreams(bundle) if bundle else []

    def _upload(self, bundle: str, file: FileRef, position: int) -> RemoteFile:
        """Upload, compare the server's MD5 with the bytes sent; on a mismatch delete and send
        once more, then give up with IntegrityError."""
        for _ in range(2):
            sent, data = self._send_file(bundle, file)
            uploaded = _remote_file(data, position)
            if uploaded.checksum == sent:
                return uploaded
            self._delete_bitstream(uploaded.id)
        raise IntegrityError(
            f"{file.name} arrived with MD5 {uploaded.checksum or 'none'} instead of {sent}, "
            "twice; the copies on the server were deleted",
            method="POST",
            path=f"/core/bundles/{bundle}/bitstreams",
        )

    def _send_file(self, bundle: str, file: FileRef) -> tuple[str, dict[str, Any]]:
        readers: list[_HashingReader] = []
        properties: dict[str, Any] = {"name": file.name}
        if file.description:
            properties["metadata"] = {"dc.description": [{"value": file.description}]}

        def body() -> dict[str, Any]:
            reader = _HashingReader(file.path.open("rb"))
            readers.append(reader)
            encoder = MultipartEncoder(
                fields={
                    "file": (file.name, reader, file.mimetype),
                    "properties": json.dumps(properties),
                }
            )
            return {"data": encoder, "headers": {"Content-Type": encoder.content_type}}

        try:
            response = self._call(
                "POST",
                f"/core/bundles/{bundle}/bitstreams",
                ok=(201,),
                body_factory=body,
            )
        except Rejected as error:
            if error.status == 413:
                raise Rejected(
                    f"{file.path} ({file.size} bytes) is larger than this DSpace accepts; "
                    "raise spring.servlet.multipart.max-file-size or leave the file out",
                    status=413,
                    method=error.method,
                    path=error.path,
                ) from None
            raise
        finally:
            for reader in readers:
                reader.close()
        return readers[-1].md5.hexdigest(), response.json()

    def add_file(self, item_id: str, file: FileRef) -> RemoteFile:
        bundle = self._original_bundle(item_id) or self._create_bundle(item_id)
        position = len(self._bitstreams(bundle))
        return self._upload(bundle, file, position)

    def replace_file(self, item_id: str, old: RemoteFile, file: FileRef) -> RemoteFile:
        """Upload the new file, move it to the old one's place, then delete the old one.

        DSpace 7–9 has no in-place replace. The move is skipped when the new file already sits
        right after the old one; if the move fails, the new copy is deleted again so the item is
        left as it was."""
        bundle = self._original_bundle(item_id) or self._create_bundle(item_id)
        new = self._upload(bundle, file, 0)
        order = [f.id for f in self._bitstreams(bundle)]
        new.position = order.index(new.id)
        if old.id not in order:
            return new  # already gone: nothing to take the place of
        old_at = order.index(old.id)
        if new.position != old_at + 1:
            move = {
                "op": "move",
                "from": f"/_links/bitstreams/{new.position}/href",
                "path": f"/_links/bitstreams/{old_at}/href",
            }
            try:
                self._call(
                    "PATCH",
                    f"/core/bundles/{bundle}",
                    data=json.dumps([move]),
                    headers={"Content-Type": "application/json-patch+json"},
                )
            except Exception:
                self._delete_bitstream(new.id)
                raise
        self._delete_bitstream(old.id)
        new.position = old_at
        return new

    def remove_file(self, item_id: str, file_id: str) -> None:
        self._delete_bitstream(file_id)

    def _delete_bitstream(self, file_id: str) -> None:
        self._call("DELETE", f"/core/bitstreams/{file_id}", ok=(200, 204, 404))

    def close(self) -> None:
        """Close connections. Never logs out: that would kill every worker's token (§1)."""
        self.http.close()
