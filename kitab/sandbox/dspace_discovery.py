"""``GET /discover/search/objects``: DSpace discovery without Solr.

Visibility follows DSpace's configurations and plugins: ``default`` hides withdrawn and private
items from everyone; ``administrativeView`` shows them to administrators only (the private- and
withdrawn-item plugins still hide them from everybody else). Sorting is limited to the fields
the stock configurations declare, so ``sort=lastModified`` fails as it does in DSpace.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from kitab.sandbox.dspace_errors import ApiError
from kitab.sandbox.dspace_query import Document, parse
from kitab.sandbox.dspace_store import Dso
from kitab.sandbox.dspace_views import json_response, page_args

if TYPE_CHECKING:
    from kitab.sandbox.dspace_app import DSpaceApp
    from kitab.sandbox.dspace_endpoints import Call

SORTS = ("score", "dc.title", "dc.date.issued", "dc.date.accessioned")
CONFIGURATIONS = ("default", "administrativeView")
DSO_TYPES = {"item": ("item",), "collection": ("collection",), "community": ("community",)}
INDEXED = ("community", "collection", "item")
RESOURCE_TYPES = {"item": "Item", "collection": "Collection", "community": "Community"}


def search(app: DSpaceApp, call: Call) -> Response:
    args = call.request.args
    page, size = page_args(call.request)
    configuration = args.get("configuration") or "default"
    if configuration not in CONFIGURATIONS:
        configuration = "default"
    sort_field, direction = _sort(args.get("sort"))
    dso_type = args.get("dsoType")
    if dso_type is not None and dso_type.lower() not in DSO_TYPES:
        raise ApiError(400, f"The given dsoType {dso_type} is not valid")
    types = DSO_TYPES[dso_type.lower()] if dso_type else INDEXED

    store = app.store
    query = parse(args.get("query"), store.uuids_with_token)
    index = _Index(app)
    scope = args.get("scope")
    scope_obj = store.get(scope) if scope else None
    uids = store.uuids_of_type(types)
    if query.candidates is not None:
        uids = [u for u in uids if u in query.candidates]
    hits: list[Dso] = []
    for dso in store.get_many(uids):
        if not _visible(dso, configuration, call.admin):
            continue
        if scope_obj is not None and scope_obj.uuid not in index.locations(dso):
            continue
        if query.matches(index.document(dso)):
            hits.append(dso)
    hits = _sorted(hits, sort_field, direction)

    def render(dso: Dso) -> dict[str, Any]:
        item = dso.type == "item"
        body = call.render.item(dso) if item else app.render_container(call, dso)
        return {
            "hitHighlights": None,
            "_links": {"indexableObject": body["_links"]["self"]},
            "_embedded": {"indexableObject": body},
            "type": "discover",
        }

    params = {k: v for k, v in args.items() if k not in ("page", "size")}
    result = call.render.page(
        "discover/search/objects", params, "objects", hits, render, page, size
    )
    return json_response(
        {
            "id": None,
            "scope": scope,
            "query": args.get("query"),
            "appliedFilters": [],
            "sort": {"by": sort_field, "order": direction.upper()},
            "configuration": configuration,
            "type": "discover",
            "_embedded": {"searchResult": result, "facets": []},
            "_links": {"self": result["_links"]["self"]},
        }
    )


def _sort(text: str | None) -> tuple[str, str]:
    if not text:
        return "score", "desc"
    field, _, direction = text.partition(",")
    if field not in SORTS:
        raise ApiError(422, f"The field: {field} is not configured for the configuration!")
    direction = direction or "desc"
    if direction.lower() not in ("asc", "desc"):
        raise ApiError(400, f"The given sort direction {direction} is not valid")
    return field, direction.lower()


def _visible(dso: Dso, configuration: str, admin: bool) -> bool:
    if dso.type != "item":
        return True
    hidden = dso.withdrawn or not dso.discoverable
    return not hidden or (configuration == "administrativeView" and admin)


def _sorted(hits: list[Dso], field: str, direction: str) -> list[Dso]:
    if field == "score":
        return hits  # all scores tie; Solr keeps index order
    present = [d for d in hits if d.metadata.get(field)]
    missing = [d for d in hits if not d.metadata.get(field)]
    present.sort(key=lambda d: d.metadata[field][0].value.lower(), reverse=direction == "desc")
    return present + missing  # Solr puts documents without the field last


class _Index:
    """Builds the Solr document of an object; caches container locations for one search."""

    def __init__(self, app: DSpaceApp) -> None:
        self.store = app.store
        self._parents: dict[str, str | None] = {}

    def _parent(self, uid: str) -> str | None:
        if uid not in self._parents:
            dso = self.store.get(uid)
            self._parents[uid] = dso.parent if dso else None
        return self._parents[uid]

    def locations(self, dso: Dso) -> set[str]:
        found, current = set(), dso.parent
        while current:
            found.add(current)
            current = self._parent(current)
        return found

    def document(self, dso: Dso) -> Document:
        locations = self.locations(dso)
        strings = {
            "search.resourceid": {dso.uuid},
            "search.resourcetype": {RESOURCE_TYPES[dso.type]},
            "search.uniqueid": {f"{RESOURCE_TYPES[dso.type]}-{dso.uuid}"},
            "withdrawn": {str(dso.withdrawn).lower()},
            "discoverable": {str(dso.discoverable).lower()},
            "archived": {str(dso.in_archive).lower()},
            "latestVersion": {"true"},
            "location": locations,
        }
        if dso.handle:
            strings["handle"] = {dso.handle}
        if dso.type == "item":
            strings["location.coll"] = {dso.parent or ""}
            strings["location.comm"] = locations - {dso.parent or ""}
        texts = {name: [v.value for v in values] for name, values in dso.metadata.items()}
        when = datetime.fromtimestamp(dso.last_modified, UTC)
        dates = {"lastModified": when.replace(microsecond=when.microsecond // 1000 * 1000)}
        return Document(strings, texts, dates)
