"""The Omeka S 4 connector: kitab's Repository protocol over the Omeka S REST API.

The traps it exists to avoid (see the reference notes):

* A wrong key is silently anonymous: reads succeed with public data only and writes fail late.
  So the key is checked once per run, before anything else (``GET /api/users`` answers 403 to
  anonymous callers and 200 to every logged-in role).
* Keys travel in the query string: they are added per request and scrubbed from logs, errors
  and the ``Link`` header (:mod:`kitab.connectors.omeka_keys`, :mod:`kitab.connectors.omeka_api`).
* PATCH replaces *all* property values and drops every media left out of ``o:media``; PUT
  without ``o:media`` deletes every file. So every write that touches values or media first
  reads the item and sends back everything it did not mean to change.
* Media added later sort *before* the item's first media, and identical files are stored twice:
  the connector re-orders and de-duplicates (by SHA-256) itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import requests

from kitab.connectors.base import (
    AuthError,
    Conflict,
    IntegrityError,
    NotFound,
    Rejected,
    RemoteFile,
    RemoteItem,
)
from kitab.connectors.http import HttpClient, RetryPolicy
from kitab.connectors.omeka_api import OmekaApi
from kitab.connectors.omeka_json import (
    ALGORITHM,
    IDENTITY_TERM,
    JsonObject,
    ValueSet,
    files_in_order,
    literal,
    media_refs,
    remote_file,
    remote_item,
    value_set,
    with_changes,
)
from kitab.connectors.omeka_keys import install_scrubber, read_key
from kitab.connectors.omeka_vocab import Ref, Vocabulary
from kitab.connectors.secrets import SecretSource
from kitab.model import FileRef, Item, Metadata, Value, identity_value, key_from_identity

#: Media ids fetched per ``GET /api/media?id[]=…`` request (keeps URLs short).
MEDIA_BATCH = 50


@dataclass(frozen=True)
class OmekaSettings:
    """Where the Omeka S is and where kitab's items go; built by the sync engine from
    kitab.toml. Keys are kept out of ``repr`` so a logged settings object leaks nothing."""

    url: str
    key_identity: SecretSource | str = field(repr=False)
    key_credential: SecretSource | str = field(repr=False)
    item_set: Ref | None = None  # id, or exact title
    resource_template: Ref | None = None  # id, or exact label
    resource_class: str | None = "dctype:Text"  # a class term
    site: Ref | None = None  # id, slug or title; None lets Omeka assign its default sites
    per_page: int = 100


class OmekaConnector:
    """Repository protocol for Omeka S 4. Safe to share between worker threads."""

    identity_field = IDENTITY_TERM
    checksum_algorithm = ALGORITHM

    def __init__(
        self,
        settings: OmekaSettings,
        policy: RetryPolicy | None = None,
        *,
        http: HttpClient | None = None,
    ) -> None:
        self.settings = settings
        key = read_key(settings.key_identity, settings.key_credential)
        scrubber = install_scrubber()
        scrubber.add(key.identity, key.credential)
        self._key_origin = key.origin
        self._api = OmekaApi(settings.url, key, http or HttpClient(policy=policy), scrubber)
        self._vocab = Vocabulary(self._api)
        self._root = settings.url.rstrip("/")
        self._key_lock = threading.Lock()
        self._key_checked = False

    # --- the key check ---------------------------------------------------------------------

    def check_key(self) -> None:
        """Make sure Omeka S knows the key (once per run; every other method calls this).

        Without this, a mistyped key would read as an empty or public-only repository, and
        kitab would plan to create every item again.
        """
        if self._key_checked:
            return
        with self._key_lock:
            if self._key_checked:
                return
            response = self._api.send("GET", "users", params=[("per_page", 1)])
            if response.status_code == 403:
                raise AuthError(
                    f"Omeka S did not accept the API key ({self._key_origin}): its requests "
                    "would be anonymous, so nothing was read or written. Check key_identity "
                    "and key_credential.",
                    status=403,
                    method="GET",
                    path="/api/users",
                )
            self._api.check(response)
            self._key_checked = True

    # --- reads -------------------------------------------------------------------------------

    def find(self, key: str) -> RemoteItem | None:
        """Property search on dcterms:identifier, then an exact comparison here: Omeka's
        ``eq`` ignores case, and ``kitab:ab1`` must not find ``kitab:AB1``."""
        self.check_key()
        wanted = identity_value(key)
        params = [
            ("property[0][property]", self._vocab.property_id(IDENTITY_TERM)),
            ("property[0][type]", "eq"),
            ("property[0][text]", wanted),
        ]
        found = [
            rep
            for page in self._api.pages("items", params, self.settings.per_page)
            for rep in page
            if wanted in _identifiers(rep)
        ]
        if not found:
            return None
        if len(found) > 1:
            ids = ", ".join(str(rep["o:id"]) for rep in found)
            raise Conflict(
                f"several Omeka S items carry {wanted} (items {ids}); merge or delete the "
                "extra ones so kitab knows which one is the record's",
                method="GET",
                path="/api/items",
            )
        return self._remote_items(found)[0]

    def get(self, item_id: str) -> RemoteItem:
        self.check_key()
        return self._remote_items([self._read(item_id)])[0]

    def list_files(self, item_id: str) -> list[RemoteFile]:
        return self.get(item_id).files

    def changed_since(self, since: datetime) -> Iterator[RemoteItem]:
        """Items modified at or after ``since``.

        Omeka compares ``modified_after`` strictly and to the second, so the query starts one
        second earlier and the surplus is filtered here. Results come sorted by id, so an item
        is never yielded twice even if pages shift while they are read.
        """
        self.check_key()
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        floor = since.astimezone(UTC).replace(microsecond=0)
        after = (floor - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        params = [("modified_after", after), ("sort_by", "id"), ("sort_order", "asc")]
        last_id = 0
        for item in self._iterate(params):
            if int(item.id) <= last_id:
                continue
            last_id = int(item.id)
            if item.modified is None or item.modified >= floor:
                yield item

    def iter_items(self) -> Iterator[RemoteItem]:
        """The configured item set's items (every item when no set is configured)."""
        self.check_key()
        params: list[tuple[str, str | int]] = [("sort_by", "id"), ("sort_order", "asc")]
        if self.settings.item_set is not None:
            params.append(("item_set_id", self._vocab.item_set_id(self.settings.item_set)))
        yield from self._iterate(params)

    # --- writes ------------------------------------------------------------------------------

    def create(self, item: Item, container: str | None = None) -> RemoteItem:
        """One multipart POST carrying the values and every file.

        The returned files carry kitab's own SHA-256 and size: Omeka's answer lists the new
        media by id only, and reading them back would double the requests per new item.
        ``list_files`` gives the checksums Omeka computed.
        """
        self.check_key()
        files = _distinct(item.files)
        payload = self._item_payload(item, container)
        if files:
            payload["o:media"] = [self._media_payload(i, f) for i, f in enumerate(files)]
            rep = self._api.upload("items", payload, files)
        else:
            rep = self._api.call("POST", "items", json_body=payload)
        refs = media_refs(rep)
        if len(refs) != len(files):
            raise IntegrityError(
                f"Omeka S created item {rep.get('o:id')} with {len(refs)} of {len(files)} files",
                method="POST",
                path="/api/items",
            )
        remote = remote_item(rep, [], self._root)
        remote.files = [
            RemoteFile(str(ref["o:id"]), f.name, f.size, f.sha256, ALGORITHM, i, f.public)
            for i, (ref, f) in enumerate(zip(refs, files, strict=True))
        ]
        return remote

    def update_metadata(self, item_id: str, changes: Metadata) -> RemoteItem:
        """Replace the values of the terms in ``changes``; keep everything else.

        Sent as a PATCH with the item's whole value set and its ``o:media`` in current order,
        not a PUT: a PATCH leaves the keys it does not carry (item sets, sites, class,
        template, visibility, owner, thumbnail) exactly as they are on the server, so a change
        a cataloguer makes to them meanwhile is not reverted, and nothing can be reset by a
        key kitab forgot. Values and media cannot be left out (Omeka replaces all values when
        any is sent, and deletes media missing from ``o:media``), so both go back as read.
        The kitab identity value is never removed, whatever ``changes`` says.
        """
        self.check_key()
        rep = self._read(item_id)
        current = value_set(rep)
        values = with_changes(current, changes, self._vocab.property_id)
        _keep_identity(current, values)
        return self._remote_items([self._patch(item_id, values, media_refs(rep))])[0]

    def add_file(self, item_id: str, file: FileRef) -> RemoteFile:
        """Upload after the existing files, unless the same bytes are already there.

        Omeka gives a late media no position, which sorts it first and makes it the item's
        primary media; the item's ``o:media`` is then re-sent with the new one last.
        """
        self.check_key()
        digest = _sha256(file)
        rep = self._read(item_id)
        files = files_in_order(rep, self._media(_ids(media_refs(rep))))
        for existing in files:
            if existing.checksum == digest:
                return existing
        media = self._upload_media(item_id, file, digest)
        order = [*media_refs(rep), {"o:id": int(media["o:id"])}]
        self._patch(item_id, value_set(rep), order)
        return remote_file(media, len(files))

    def replace_file(self, item_id: str, old: RemoteFile, file: FileRef) -> RemoteFile:
        """Put ``file`` in ``old``'s place. Leaving ``old`` out of the re-sent ``o:media`` makes
        Omeka delete it; if a server kept it anyway, it is deleted explicitly."""
        self.check_key()
        digest = _sha256(file)
        rep = self._read(item_id)
        refs = _ids(media_refs(rep))
        known = self._media(refs)
        old_id = int(old.id)
        same = [m for m in known.values() if m.get("o:sha256") == digest]
        if any(int(m["o:id"]) == old_id for m in same):
            return next(f for f in files_in_order(rep, known) if f.id == old.id)
        new = same[0] if same else self._upload_media(item_id, file, digest)
        new_id = int(new["o:id"])
        order = [new_id if i == old_id else i for i in refs if i != new_id]
        if old_id not in refs:
            order.append(new_id)
        patched = self._patch(item_id, value_set(rep), [{"o:id": i} for i in order])
        if old_id in _ids(media_refs(patched)):
            self._delete(f"media/{old_id}")
        before = order[: order.index(new_id)]
        return remote_file(new, sum(1 for i in before if known.get(i, {}).get("o:sha256")))

    def remove_file(self, item_id: str, file_id: str) -> None:
        """Delete one media, after checking it belongs to this item (media ids are global, so
        a stale id could otherwise name another item's file)."""
        self.check_key()
        path = f"media/{_numeric(file_id, 'media')}"
        response = self._api.send("GET", path)
        if response.status_code == 404:
            return
        media = self._api.decode(response)
        owner = (media.get("o:item") or {}).get("o:id")
        if str(owner) != str(item_id):
            raise NotFound(
                f"media {file_id} is not a file of item {item_id}",
                status=404,
                method="DELETE",
                path=f"/api/{path}",
            )
        self._delete(path)

    def set_public(self, item_id: str, public: bool) -> None:
        """A PATCH carrying only ``o:is_public``: Omeka leaves values, sets and media alone
        when no property and no ``o:media`` is sent."""
        self.check_key()
        path = f"items/{_numeric(item_id, 'item')}"
        self._api.call("PATCH", path, json_body={"o:is_public": public}, idempotent=True)

    def withdraw(self, item_id: str) -> None:
        """Omeka S has no withdrawn state: a private item is hidden from the public and from
        anonymous harvesters, and stays whole for staff. ``RemoteItem.withdrawn`` therefore
        stays False and ``public`` tells."""
        self.set_public(item_id, False)

    def close(self) -> None:
        self._api.http.close()

    # --- helpers -----------------------------------------------------------------------------

    def _read(self, item_id: str) -> JsonObject:
        return self._api.call("GET", f"items/{_numeric(item_id, 'item')}")

    def _patch(self, item_id: str, values: ValueSet, media: list[JsonObject]) -> JsonObject:
        """PATCH values and media together (never one without the other). Idempotent: the body
        states the whole result, so a retry cannot double anything."""
        body: JsonObject = {**values, "o:media": media}
        path = f"items/{_numeric(item_id, 'item')}"
        return self._api.call("PATCH", path, json_body=body, idempotent=True)

    def _delete(self, path: str) -> None:
        """DELETE, tolerating Omeka 4.0/4.1's HTML 500 after a successful delete.

        The first DELETE is sent without status retries, so that 500 comes straight back
        instead of being repeated after a back-off; the resource is then read again and a 404
        means it is gone. Only if it is still there is the DELETE repeated with the usual
        retries (the 500 was then a real failure).
        """
        response = self._api.send("DELETE", path, idempotent=False)
        if not self._gone(path, response):
            response = self._api.send("DELETE", path)
            if not self._gone(path, response):
                self._api.check(response)

    def _gone(self, path: str, response: requests.Response) -> bool:
        """Whether a DELETE's answer means the resource no longer exists; a refusal (4xx)
        is raised as its typed error."""
        status = response.status_code
        if status < 400 or status == 404:
            return True
        if status < 500:
            self._api.check(response)
        return self._api.send("GET", path).status_code == 404

    def _upload_media(self, item_id: str, file: FileRef, digest: str) -> JsonObject:
        data = {
            "o:ingester": "upload",
            "file_index": 0,
            "o:item": {"o:id": int(_numeric(item_id, "item"))},
            "o:is_public": file.public,
            **self._description(file),
        }
        media = self._api.upload("media", data, [file])
        if media.get("o:sha256") != digest:
            self._delete(f"media/{media['o:id']}")
            raise IntegrityError(
                f"{file.path}: Omeka S stored SHA-256 {media.get('o:sha256')}, kitab sent "
                f"{digest}; the damaged copy was deleted",
                method="POST",
                path="/api/media",
            )
        return media

    def _item_payload(self, item: Item, container: str | None) -> JsonObject:
        settings = self.settings
        payload: JsonObject = {"o:is_public": item.public}
        if settings.resource_class:
            class_id = self._vocab.resource_class_id(settings.resource_class)
            payload["o:resource_class"] = {"o:id": class_id}
        if settings.resource_template is not None:
            template_id = self._vocab.resource_template_id(settings.resource_template)
            payload["o:resource_template"] = {"o:id": template_id}
        item_set = container if container is not None else settings.item_set
        if item_set is not None:
            payload["o:item_set"] = [{"o:id": self._vocab.item_set_id(item_set)}]
        if settings.site is not None:
            payload["o:site"] = [{"o:id": self._vocab.site_id(settings.site)}]
        for term, values in _with_identity(item).items():
            if values:
                payload[term] = [literal(self._vocab.property_id(term), v) for v in values]
        return payload

    def _media_payload(self, index: int, file: FileRef) -> JsonObject:
        return {
            "o:ingester": "upload",
            "file_index": index,
            "o:is_public": file.public,
            **self._description(file),
        }

    def _description(self, file: FileRef) -> JsonObject:
        if not file.description:
            return {}
        term = "dcterms:description"
        return {term: [literal(self._vocab.property_id(term), Value(file.description))]}

    def _media(self, ids: list[int]) -> dict[int, JsonObject]:
        """Media representations by id, a batch per request (a page of items costs one)."""
        found: dict[int, JsonObject] = {}
        for start in range(0, len(ids), MEDIA_BATCH):
            batch = ids[start : start + MEDIA_BATCH]
            params = [("id[]", i) for i in batch]
            for page in self._api.pages("media", params, MEDIA_BATCH):
                found.update((int(m["o:id"]), m) for m in page)
        return found

    def _remote_items(self, reps: list[JsonObject]) -> list[RemoteItem]:
        media = self._media([i for rep in reps for i in _ids(media_refs(rep))])
        return [remote_item(rep, files_in_order(rep, media), self._root) for rep in reps]

    def _iterate(self, params: list[tuple[str, str | int]]) -> Iterator[RemoteItem]:
        for page in self._api.pages("items", params, self.settings.per_page):
            yield from self._remote_items(page)


def _identifiers(rep: JsonObject) -> list[str]:
    return [str(v.get("@value")) for v in rep.get(IDENTITY_TERM) or [] if isinstance(v, dict)]


def _ids(refs: Iterable[JsonObject]) -> list[int]:
    return [int(r["o:id"]) for r in refs]


def _numeric(item_id: str, what: str) -> str:
    """Omeka ids are integers; anything else would build a URL to some other endpoint."""
    text = str(item_id).strip()
    if not text.isdigit():
        raise NotFound(f"{item_id!r} is not an Omeka S {what} id")
    return text


def _with_identity(item: Item) -> Metadata:
    """The item's metadata with its kitab identity among the identifiers (added if missing)."""
    wanted = identity_value(item.key)
    metadata = dict(item.metadata)
    identifiers = metadata.get(IDENTITY_TERM, [])
    if all(v.value != wanted for v in identifiers):
        metadata[IDENTITY_TERM] = [*identifiers, Value(wanted)]
    return metadata


def _keep_identity(current: ValueSet, values: ValueSet) -> None:
    """Put back any kitab identity value a change to dcterms:identifier would drop."""
    kept = values.get(IDENTITY_TERM, [])
    present = {v.get("@value") for v in kept}
    lost = [
        v
        for v in current.get(IDENTITY_TERM, [])
        if key_from_identity(str(v.get("@value", ""))) and v.get("@value") not in present
    ]
    if lost:
        values[IDENTITY_TERM] = [*kept, *lost]


def _sha256(file: FileRef) -> str:
    try:
        return file.sha256
    except OSError as error:
        raise Rejected(f"cannot read {file.path}: {error.strerror}") from None


def _distinct(files: Iterable[FileRef]) -> list[FileRef]:
    """The files minus repeats of the same bytes: Omeka would store each copy."""
    seen: set[str] = set()
    out = []
    for file in files:
        digest = _sha256(file)
        if digest not in seen:
            seen.add(digest)
            out.append(file)
    return out
