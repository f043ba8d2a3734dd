"""How DSpace's Server API renders its objects: HAL documents with ``_links``, ``_embedded`` and
``page``, timestamps in the release's own format, and Spring Boot error bodies.

Every shape here follows the reference notes; the connector parses these, so a key spelled the
way DSpace spells it (``prev``, ``searchResult``) matters more than completeness.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from kitab.sandbox.dspace_errors import ApiError
from kitab.sandbox.dspace_store import Dso, EPerson, MetadataField
from kitab.sandbox.dspace_version import Flavour

HAL = "application/hal+json;charset=UTF-8"
UI_URL = "http://localhost:4000"  # dspace.ui.url; handles resolve under it
MAX_PAGE_SIZE = 2000  # Spring Data's ceiling; larger sizes are clamped silently
PLURALS = {
    "item": "items",
    "collection": "collections",
    "community": "communities",
    "bundle": "bundles",
    "bitstream": "bitstreams",
}


def json_response(data: Any, status: int = 200, content_type: str = HAL) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status=status, content_type=content_type)


def iso_now() -> str:
    """DCDate as DSpace writes dc.date.accessioned: seconds precision, "Z"."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def last_modified(ts: float, flavour: Flavour) -> str:
    """``+00:00`` with milliseconds (java.util.Date, 7.x-8.x) or Instant.toString (9.x)."""
    when = datetime.fromtimestamp(ts, UTC)
    millis = when.microsecond // 1000
    base = when.strftime("%Y-%m-%dT%H:%M:%S")
    if flavour.instant_dates:
        return f"{base}.{millis:03d}Z" if millis else f"{base}Z"
    return f"{base}.{millis:03d}+00:00"


def http_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def error_body(status: int, message: str, path: str) -> dict[str, Any]:
    return {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00",
        "status": status,
        "error": HTTPStatus(status).phrase,
        "message": message,
        "path": path,
    }


def problem_body(status: int, detail: str, path: str) -> dict[str, Any]:
    """RFC 7807 body, which Spring 6 (DSpace 8+) renders for errors it handles itself."""
    return {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": path,
    }


def page_args(request: Request) -> tuple[int, int]:
    try:
        page = int(request.args.get("page", 0))
        size = int(request.args.get("size", 20))
    except ValueError:
        raise ApiError(400, "page and size must be integers") from None
    if page < 0 or size < 0:
        raise ApiError(400, "Page index must not be less than zero")
    return page, min(size or 20, MAX_PAGE_SIZE)


class Renderer:
    """Renders objects for one request (its base URL) as the configured release would."""

    def __init__(self, api: str, flavour: Flavour, *, admin: bool) -> None:
        self.api = api  # http://host:port/server/api
        self.flavour = flavour
        self.admin = admin

    def href(self, path: str) -> dict[str, str]:
        return {"href": f"{self.api}/{path}"}

    def links(self, base: str, names: list[str]) -> dict[str, Any]:
        out = {name: self.href(f"{base}/{name}") for name in names}
        out["self"] = self.href(base)
        return out

    def metadata(self, dso: Dso) -> dict[str, list[dict[str, Any]]]:
        return {
            name: [
                {
                    "value": v.value,
                    "language": v.language,
                    "authority": v.authority,
                    "confidence": v.confidence,
                    "place": place,
                }
                for place, v in enumerate(values)
            ]
            for name, values in sorted(dso.metadata.items())
        }

    def _common(self, dso: Dso) -> dict[str, Any]:
        return {
            "id": dso.uuid,
            "uuid": dso.uuid,
            "name": dso.name,
            "handle": dso.handle,
            "metadata": self.metadata(dso),
        }

    def item(self, dso: Dso) -> dict[str, Any]:
        body = self._common(dso)
        if dso.withdrawn and not self.admin:
            body["metadata"] = {}
        names = [
            "accessStatus",
            "bundles",
            "identifiers",
            "mappedCollections",
            "owningCollection",
            "relationships",
            "version",
            "templateItemOf",
            "thumbnail",
        ]
        if self.flavour.version[0] >= 9:
            names.append("submitter")
        body.update(
            inArchive=dso.in_archive,
            discoverable=dso.discoverable,
            withdrawn=dso.withdrawn,
            lastModified=last_modified(dso.last_modified, self.flavour),
            entityType=None,
            type="item",
            _links=self.links(f"core/items/{dso.uuid}", names),
        )
        return body

    def collection(self, dso: Dso, archived: int) -> dict[str, Any]:
        body = self._common(dso)
        names = [
            "harvester",
            "itemtemplate",
            "license",
            "logo",
            "mappedItems",
            "parentCommunity",
            "adminGroup",
            "submittersGroup",
        ]
        body.update(
            archivedItemsCount=archived,
            type="collection",
            _links=self.links(f"core/collections/{dso.uuid}", names),
        )
        return body

    def community(self, dso: Dso, archived: int) -> dict[str, Any]:
        body = self._common(dso)
        names = ["collections", "logo", "subcommunities", "parentCommunity", "adminGroup"]
        body.update(
            archivedItemsCount=archived,
            type="community",
            _links=self.links(f"core/communities/{dso.uuid}", names),
        )
        return body

    def bundle(self, dso: Dso) -> dict[str, Any]:
        body = self._common(dso)
        body.update(
            handle=None,
            type="bundle",
            _links=self.links(
                f"core/bundles/{dso.uuid}", ["item", "bitstreams", "primaryBitstream"]
            ),
        )
        return body

    def bitstream(self, dso: Dso, bundle_name: str | None) -> dict[str, Any]:
        body = self._common(dso)
        names = ["bundle", "format", "thumbnail", "content"]
        if self.flavour.version[0] >= 9:
            names.append("accessStatus")
        body.update(
            handle=None,
            bundleName=bundle_name,
            sizeBytes=dso.size,
            checkSum={"checkSumAlgorithm": "MD5", "value": dso.md5},
            sequenceId=dso.seq,
            type="bitstream",
            _links=self.links(f"core/bitstreams/{dso.uuid}", names),
        )
        return body

    def eperson(self, person: EPerson) -> dict[str, Any]:
        return {
            "id": person.uuid,
            "uuid": person.uuid,
            "name": person.email,
            "handle": None,
            "metadata": {},
            "netid": None,
            "lastActive": None,
            "canLogIn": True,
            "email": person.email,
            "requireCertificate": False,
            "selfRegistered": False,
            "type": "eperson",
            "_links": self.links(f"eperson/epersons/{person.uuid}", ["groups"]),
        }

    def field(self, f: MetadataField, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f.id,
            "element": f.element,
            "qualifier": f.qualifier,
            "scopeNote": f.scope_note,
            "type": "metadatafield",
            "_embedded": {"schema": schema},
            "_links": self.links(f"core/metadatafields/{f.id}", ["schema"]),
        }

    def page(
        self,
        path: str,
        params: dict[str, str],
        key: str,
        rows: list[Any],
        render: Callable[[Any], dict[str, Any]],
        page: int,
        size: int,
    ) -> dict[str, Any]:
        """One page of ``rows`` (all of them, already filtered) as a HAL collection."""
        total = len(rows)
        pages = math.ceil(total / size) if size else 0
        chunk = rows[page * size : (page + 1) * size]
        return {
            "_embedded": {key: [render(r) for r in chunk]},
            "_links": self.page_links(path, params, page, size, pages),
            "page": {"size": size, "totalElements": total, "totalPages": pages, "number": page},
        }

    def page_links(
        self, path: str, params: dict[str, str], page: int, size: int, pages: int
    ) -> dict[str, Any]:
        def at(number: int) -> dict[str, str]:
            query = {**params, "page": str(number), "size": str(size)}
            return {"href": f"{self.api}/{path}?{urlencode(query)}"}

        links: dict[str, Any] = {}
        if pages:
            links["first"] = at(0)
        if page > 0:
            links["prev"] = at(page - 1)
        links["self"] = {"href": f"{self.api}/{path}" + (f"?{urlencode(params)}" if params else "")}
        if page + 1 < pages:
            links["next"] = at(page + 1)
        if pages:
            links["last"] = at(pages - 1)
        return links
