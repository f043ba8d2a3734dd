"""Communities, collections, handle resolution and the metadata field registry."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from kitab.sandbox.dspace_endpoints import (
    Call,
    Endpoints,
    is_uuid,
)
from kitab.sandbox.dspace_errors import ApiError
from kitab.sandbox.dspace_registry import SCHEMA_IDS, SCHEMA_NAMESPACES
from kitab.sandbox.dspace_store import MetadataValue
from kitab.sandbox.dspace_views import (
    PLURALS,
    UI_URL,
    json_response,
)


class ContainerEndpoints(Endpoints):
    """Endpoints for containers, handles and the field registry."""

    def on_pid_find(self, call: Call) -> Response:
        ident = call.request.args.get("id")
        if ident is None:
            raise ApiError(400, "Required request parameter 'id' is not present")
        handle = ident
        for prefix in (
            "hdl:",
            "info:hdl/",
            "http://hdl.handle.net/",
            "https://hdl.handle.net/",
            f"{UI_URL}/handle/",
        ):
            handle = handle.removeprefix(prefix)
        dso = self.store.by_handle(handle)
        if dso is None:
            return Response(status=404)
        target = f"{call.render.api}/core/{PLURALS[dso.type]}/{dso.uuid}"
        return Response(status=302, headers={"Location": target})

    def on_communities_get(self, call: Call) -> Response:
        rows = self.store.get_many(self.store.uuids_of_type(("community",)))
        return self._page(
            call, "core/communities", "communities", rows, lambda d: self.render_container(call, d)
        )

    def on_top_communities(self, call: Call) -> Response:
        rows = [
            d
            for d in self.store.get_many(self.store.uuids_of_type(("community",)))
            if d.parent is None
        ]
        return self._page(
            call,
            "core/communities/search/top",
            "communities",
            rows,
            lambda d: self.render_container(call, d),
        )

    def on_community(self, call: Call, uid: str) -> Response:
        return json_response(self.render_container(call, self._get(uid, "community")))

    def on_community_collections(self, call: Call, uid: str) -> Response:
        self._get(uid, "community")
        rows = self.store.children(uid, "collection")
        return self._page(
            call,
            f"core/communities/{uid}/collections",
            "collections",
            rows,
            lambda d: self.render_container(call, d),
        )

    def on_subcommunities(self, call: Call, uid: str) -> Response:
        self._get(uid, "community")
        rows = self.store.children(uid, "community")
        return self._page(
            call,
            f"core/communities/{uid}/subcommunities",
            "subcommunities",
            rows,
            lambda d: self.render_container(call, d),
        )

    def on_collections_get(self, call: Call) -> Response:
        rows = self.store.get_many(self.store.uuids_of_type(("collection",)))
        return self._page(
            call, "core/collections", "collections", rows, lambda d: self.render_container(call, d)
        )

    def on_collection(self, call: Call, uid: str) -> Response:
        return json_response(self.render_container(call, self._get(uid, "collection")))

    def on_communities_post(self, call: Call) -> Response:
        call.require_admin()
        parent = call.request.args.get("parent")
        if parent is not None and self.store.get(parent, "community") is None:
            raise ApiError(422, f"Parent community for id: {parent} not found")
        return self._create_container(call, "community", parent)

    def on_collections_post(self, call: Call) -> Response:
        call.require_admin()
        parent = call.request.args.get("parent")
        if parent is None:
            raise ApiError(400, "Cannot create a Collection without providing a parent Community.")
        if not is_uuid(parent) or self.store.get(parent, "community") is None:
            raise ApiError(422, f"Parent community for id: {parent} not found")
        return self._create_container(call, "collection", parent)

    def _create_container(self, call: Call, type_: str, parent: str | None) -> Response:
        body = self._json_object(call.request, properties=None)
        dso = self.store.new(type_, parent, handle=self.store.next_handle())
        dso.metadata = self._body_metadata(body)
        dso.metadata["dc.identifier.uri"] = [MetadataValue(f"{UI_URL}/handle/{dso.handle}")]
        self.store.save(dso)
        return json_response(self.render_container(call, dso), 201)

    # --- registry ------------------------------------------------------------------------

    # --- registry and discovery ------------------------------------------------------------

    def _schema(self, call: Call, prefix: str) -> dict[str, Any]:
        sid = SCHEMA_IDS[prefix]
        return {
            "id": sid,
            "prefix": prefix,
            "namespace": SCHEMA_NAMESPACES[prefix],
            "type": "metadataschema",
            "_links": {"self": call.render.href(f"core/metadataschemas/{sid}")},
        }

    def on_fields(self, call: Call) -> Response:
        rows = list(self.store.fields())
        return self._page(
            call,
            "core/metadatafields",
            "metadatafields",
            rows,
            lambda f: call.render.field(f, self._schema(call, f.schema)),
        )

    def on_fields_by_name(self, call: Call) -> Response:
        args = call.request.args
        rows = []
        for f in self.store.fields():
            if "schema" in args and args["schema"] != f.schema:
                continue
            if "element" in args and args["element"] != f.element:
                continue
            if "qualifier" in args and args["qualifier"] != (f.qualifier or ""):
                continue
            if "exactName" in args and args["exactName"] != f.name:
                continue
            if "query" in args and not any(
                part.startswith(args["query"])
                for part in (f.name, f"{f.element}.{f.qualifier}", f.element, f.qualifier or "")
            ):
                continue
            rows.append(f)
        return self._page(
            call,
            "core/metadatafields/search/byFieldName",
            "metadatafields",
            rows,
            lambda f: call.render.field(f, self._schema(call, f.schema)),
        )

    def on_fields_post(self, call: Call) -> Response:
        """Register a field, as an administrator does for ``dc.subject.udc`` (DSpace's
        MetadataFieldRestRepository.createAndReturn: its checks and messages, in its order)."""
        call.require_admin()
        body = self._json_object(call.request, properties=None)
        schema_id = call.request.args.get("schemaId", "").strip()
        if not schema_id:
            raise ApiError(422, "metadata schema ID cannot be blank")
        prefix = next((p for p, i in SCHEMA_IDS.items() if str(i) == schema_id), None)
        if prefix is None:
            raise ApiError(422, f"metadata schema with ID {schema_id} not found")
        element = str(body.get("element") or "").strip()
        if not element:
            raise ApiError(422, "metadata element (in request body) cannot be blank")
        qualifier = str(body.get("qualifier") or "").strip() or None
        name = ".".join(p for p in (prefix, element, qualifier) if p)
        if name in self.store.field_names():
            raise ApiError(422, f"metadata field {name} already exists")
        created = self.store.add_field(prefix, element, qualifier, body.get("scopeNote"))
        return json_response(call.render.field(created, self._schema(call, prefix)), 201)

    def on_field(self, call: Call, fid: int) -> Response:
        for f in self.store.fields():
            if f.id == fid:
                return json_response(call.render.field(f, self._schema(call, f.schema)))
        raise ApiError(404, f"metadatafield with id: {fid} not found")
