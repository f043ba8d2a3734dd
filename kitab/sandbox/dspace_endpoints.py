"""What every group of DSpace endpoints shares: the request as controllers see it, lookups that
answer 404 the DSpace way, HAL pages, and the parsing of request bodies.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from kitab.sandbox.dspace_errors import ApiError
from kitab.sandbox.dspace_patch import metadata_value
from kitab.sandbox.dspace_store import Dso, EPerson, MetadataValue, Store
from kitab.sandbox.dspace_version import Flavour
from kitab.sandbox.dspace_views import (
    Renderer,
    json_response,
    page_args,
)

ITEM_PROPERTIES = frozenset(
    {
        "id",
        "uuid",
        "name",
        "handle",
        "metadata",
        "inArchive",
        "discoverable",
        "withdrawn",
        "lastModified",
        "entityType",
        "type",
    }
)
VALUE_PROPERTIES = frozenset({"value", "language", "authority", "confidence", "place"})


@dataclass
class Call:
    """One request as the controllers see it."""

    request: Request
    user: EPerson | None
    render: Renderer
    new_csrf: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def admin(self) -> bool:
        return bool(self.user and self.user.admin)

    def require_admin(self) -> None:
        if self.user is None:
            raise ApiError(401, "Authentication is required")
        if not self.user.admin:
            raise ApiError(403, "Access is denied")


class Endpoints:
    """Base of the endpoint groups; DSpaceApp provides ``store`` and ``flavour``."""

    store: Store
    flavour: Flavour

    def _archived_count(self, dso: Dso) -> int:
        collections = (
            [dso.uuid]
            if dso.type == "collection"
            else [c.uuid for c in self._collections_below(dso.uuid)]
        )
        return sum(
            1 for c in collections for item in self.store.children(c, "item") if item.in_archive
        )

    def _collections_below(self, community: str) -> list[Dso]:
        found = self.store.children(community, "collection")
        for sub in self.store.children(community, "community"):
            found += self._collections_below(sub.uuid)
        return found

    def render_container(self, call: Call, dso: Dso) -> dict[str, Any]:
        if dso.type == "collection":
            return call.render.collection(dso, self._archived_count(dso))
        return call.render.community(dso, self._archived_count(dso))

    def _page(self, call: Call, path: str, key: str, rows: list[Any], render) -> Response:
        page, size = page_args(call.request)
        params = {k: v for k, v in call.request.args.items() if k not in ("page", "size")}
        return json_response(call.render.page(path, params, key, rows, render, page, size))

    def _get(self, uid: str, type_: str) -> Dso:
        dso = self.store.get(uid, type_)
        if dso is None:
            raise ApiError(404, f"{type_} with id: {uid} not found")
        return dso

    def render_bitstream(self, call: Call, dso: Dso) -> dict[str, Any]:
        bundle = self.store.get(dso.parent or "")
        return call.render.bitstream(dso, bundle.name if bundle else None)

    # --- request bodies --------------------------------------------------------------------

    def _json_object(self, request: Request, properties: frozenset[str] | None) -> dict[str, Any]:
        body = parse_json(request)
        if not isinstance(body, dict):
            raise ApiError(422, "Error parsing request body")
        if properties is not None and not self.flavour.lenient_json:
            unknown = set(body) - properties
            values = body.get("metadata")
            if isinstance(values, dict):
                for entries in values.values():
                    for entry in entries if isinstance(entries, list) else []:
                        if isinstance(entry, dict):
                            unknown |= set(entry) - VALUE_PROPERTIES
            if unknown:
                raise ApiError(422, "Error parsing request body")
        return body

    def _body_metadata(self, body: dict[str, Any]) -> dict[str, list[MetadataValue]]:
        """Metadata of a create/PUT body; an unregistered field is a database error (500)."""
        raw = body.get("metadata") or {}
        if not isinstance(raw, dict):
            raise ApiError(422, "Error parsing request body")
        known = self.store.field_names()
        out: dict[str, list[MetadataValue]] = {}
        for name, entries in raw.items():
            if not isinstance(entries, list):
                raise ApiError(422, "Error parsing request body")
            if name not in known:
                raise ApiError(500, "An internal database error occurred")
            values = [v for v in (metadata_value(e) for e in entries) if v is not None]
            if values:
                out[name] = values
        return out


def bitstream_index(path: object) -> int:
    parts = str(path or "").strip("/").split("/")
    if len(parts) != 4 or parts[:2] != ["_links", "bitstreams"] or parts[3] != "href":
        raise ApiError(400, "This operation is not supported.")
    try:
        return int(parts[2])
    except ValueError:
        raise ApiError(400, "The index should be an integer") from None


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def require_json(request: Request, accepted: Iterable[str]) -> None:
    if request.mimetype not in accepted:
        raise ApiError(415, f"Content-Type '{request.content_type}' is not supported")


def parse_json(request: Request) -> Any:
    try:
        return json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "Error parsing request body") from None
