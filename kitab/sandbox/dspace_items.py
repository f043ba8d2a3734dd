"""Items, bundles and bitstreams: creation with installation, PUT, PATCH, deletion, files."""

from __future__ import annotations

from werkzeug.wrappers import Response

from kitab.sandbox import dspace_files
from kitab.sandbox.dspace_endpoints import (
    ITEM_PROPERTIES,
    Call,
    Endpoints,
    bitstream_index,
    is_uuid,
    parse_json,
    require_json,
)
from kitab.sandbox.dspace_errors import ApiError
from kitab.sandbox.dspace_patch import PatchContext, apply_patch
from kitab.sandbox.dspace_store import Dso, MetadataValue
from kitab.sandbox.dspace_views import (
    UI_URL,
    iso_now,
    json_response,
)


class ItemEndpoints(Endpoints):
    """Endpoints under /core/items, /core/bundles and /core/bitstreams."""

    # --- items -----------------------------------------------------------------------------

    def on_items_get(self, call: Call) -> Response:
        call.require_admin()
        rows = [
            d
            for d in self.store.get_many(self.store.uuids_of_type(("item",)))
            if d.in_archive and not d.withdrawn
        ]
        return self._page(call, "core/items", "items", rows, call.render.item)

    def on_items_post(self, call: Call) -> Response:
        call.require_admin()
        require_json(call.request, ("application/json", "application/hal+json"))
        body = self._json_object(call.request, properties=ITEM_PROPERTIES)
        owner = call.request.args.get("owningCollection")
        if not owner or not is_uuid(owner) or self.store.get(owner, "collection") is None:
            raise ApiError(400, f"The given owningCollection parameter is invalid: {owner}")
        if body.get("inArchive") is not True:
            raise ApiError(400, "InArchive attribute should not be set to false for the create")
        item = self.store.new("item", owner)
        item.metadata = self._body_metadata(body)
        item.discoverable = body.get("discoverable") is True
        self._install(item)
        self.store.save(item)
        return json_response(call.render.item(item), 201)

    def _install(self, item: Dso) -> None:
        """What InstallItemService adds when an item enters the archive."""
        now = iso_now()
        item.in_archive = True
        item.handle = self.store.next_handle()
        md = item.metadata
        md.setdefault("dc.identifier.uri", []).append(
            MetadataValue(f"{UI_URL}/handle/{item.handle}")
        )
        md.setdefault("dc.date.accessioned", []).append(MetadataValue(now))
        md.setdefault("dc.date.available", []).append(MetadataValue(now))
        for value in md.get("dc.date.issued", []):
            if value.value.lower() == "today":
                value.value = now[:10]
        md.setdefault("dc.description.provenance", []).append(
            MetadataValue(f"Made available in DSpace on {now} (GMT). No. of bitstreams: 0", "en")
        )

    def on_item_get(self, call: Call, uid: str) -> Response:
        return json_response(call.render.item(self._get(uid, "item")))

    def on_item_put(self, call: Call, uid: str) -> Response:
        call.require_admin()
        item = self._get(uid, "item")
        require_json(call.request, ("application/json", "application/hal+json"))
        body = self._json_object(call.request, properties=ITEM_PROPERTIES)
        if uid not in (body.get("uuid"), body.get("id")):
            raise ApiError(400, "The UUID in the Json and the UUID in the url do not match")
        item.metadata = self._body_metadata(body)
        self.store.save(item)
        return json_response(call.render.item(item))

    def on_item_patch(self, call: Call, uid: str) -> Response:
        call.require_admin()
        item = self._get(uid, "item")
        return json_response(call.render.item(self._patch(call, item)))

    def _patch(self, call: Call, dso: Dso) -> Dso:
        require_json(call.request, ("application/json-patch+json", "application/json"))
        operations = parse_json(call.request)
        actor = call.user.email if call.user else ""

        def provenance(item: Dso, withdrawn: bool) -> None:
            owner = self.store.get(item.parent or "")
            what = "withdrawn" if withdrawn else "reinstated"
            note = (
                f"Item {what} by {actor} ({actor}) on {iso_now()} (GMT)\n"
                f"Item was in collections:\n{owner.name if owner else ''} (ID: {item.parent})\n"
            )
            item.metadata.setdefault("dc.description.provenance", []).append(
                MetadataValue(note, "en")
            )

        ctx = PatchContext(self.store.field_names(), self.flavour, provenance)
        patched = apply_patch(dso, operations, ctx)
        self.store.save(patched)
        return patched

    def on_item_delete(self, call: Call, uid: str) -> Response:
        call.require_admin()
        self._get(uid, "item")
        self.store.delete(uid)
        return Response(status=204)

    def on_owning_collection(self, call: Call, uid: str) -> Response:
        item = self._get(uid, "item")
        return json_response(
            self.render_container(call, self._get(item.parent or "", "collection"))
        )

    # --- bundles ---------------------------------------------------------------------------

    def on_item_bundles_get(self, call: Call, uid: str) -> Response:
        self._get(uid, "item")
        rows = self.store.children(uid, "bundle")
        return self._page(call, f"core/items/{uid}/bundles", "bundles", rows, call.render.bundle)

    def on_item_bundles_post(self, call: Call, uid: str) -> Response:
        call.require_admin()
        item = self._get(uid, "item")
        body = self._json_object(call.request, properties=None)
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(422, "Error parsing request body")
        if any(b.name == name for b in self.store.children(uid, "bundle")):
            raise ApiError(400, "The bundle name already exists in the item")
        bundle = self.store.new("bundle", item.uuid)
        bundle.metadata = self._body_metadata(body)
        bundle.metadata["dc.title"] = [MetadataValue(name)]
        self.store.save(bundle)
        self.store.touch(item.uuid)
        return json_response(call.render.bundle(bundle), 201)

    def on_bundle_get(self, call: Call, uid: str) -> Response:
        return json_response(call.render.bundle(self._get(uid, "bundle")))

    def on_bundle_patch(self, call: Call, uid: str) -> Response:
        """``move /_links/bitstreams/i/href`` reorders files; other operations are metadata."""
        call.require_admin()
        bundle = self._get(uid, "bundle")
        require_json(call.request, ("application/json-patch+json", "application/json"))
        operations = parse_json(call.request)
        if not isinstance(operations, list):
            raise ApiError(422, "Error parsing request body")
        moves = [op for op in operations if isinstance(op, dict) and op.get("op") == "move"]
        if moves and len(moves) != len(operations):
            raise ApiError(400, "This operation is not supported.")
        if not moves:
            patched = apply_patch(
                bundle,
                operations,
                PatchContext(self.store.field_names(), self.flavour, lambda _dso, _w: None),
            )
            self.store.save(patched)
            return json_response(call.render.bundle(patched))
        files = self.store.children(uid, "bitstream")
        for op in moves:
            start, end = bitstream_index(op.get("from")), bitstream_index(op.get("path"))
            if not (0 <= start < len(files) and 0 <= end < len(files)):
                raise ApiError(400, "The move operation's index is out of bounds")
            files.insert(end, files.pop(start))
        for position, bitstream in enumerate(files):
            bitstream.position = position
            self.store.save(bitstream, touch=False)
        self.store.touch(bundle.parent or "")
        return json_response(call.render.bundle(bundle))

    def on_bundle_delete(self, call: Call, uid: str) -> Response:
        call.require_admin()
        bundle = self._get(uid, "bundle")
        self.store.delete(uid)
        self.store.touch(bundle.parent or "")
        return Response(status=204)

    def on_bundle_item(self, call: Call, uid: str) -> Response:
        bundle = self._get(uid, "bundle")
        return json_response(call.render.item(self._get(bundle.parent or "", "item")))

    def on_bundle_bitstreams_get(self, call: Call, uid: str) -> Response:
        bundle = self._get(uid, "bundle")
        rows = self.store.children(uid, "bitstream")
        return self._page(
            call,
            f"core/bundles/{uid}/bitstreams",
            "bitstreams",
            rows,
            lambda d: call.render.bitstream(d, bundle.name),
        )

    def on_bundle_bitstreams_post(self, call: Call, uid: str) -> Response:
        return dspace_files.upload(self, call, uid)

    # --- bitstreams ------------------------------------------------------------------------

    def on_bitstream_get(self, call: Call, uid: str) -> Response:
        return json_response(self.render_bitstream(call, self._get(uid, "bitstream")))

    def on_bitstream_patch(self, call: Call, uid: str) -> Response:
        call.require_admin()
        bitstream = self._get(uid, "bitstream")
        return json_response(self.render_bitstream(call, self._patch(call, bitstream)))

    def on_bitstream_delete(self, call: Call, uid: str) -> Response:
        call.require_admin()
        bitstream = self._get(uid, "bitstream")
        bundle = self.store.get(bitstream.parent or "")
        self.store.delete(uid)
        if bundle is not None:
            self.store.touch(bundle.parent or "")
        return Response(status=204)

    def on_bitstream_bundle(self, call: Call, uid: str) -> Response:
        bitstream = self._get(uid, "bitstream")
        return json_response(call.render.bundle(self._get(bitstream.parent or "", "bundle")))

    def on_content(self, call: Call, uid: str) -> Response:
        return dspace_files.download(self, call, uid)

    def on_bitstream_format(self, call: Call, uid: str) -> Response:
        bitstream = self._get(uid, "bitstream")
        fmt = dspace_files.format_for(bitstream.mimetype)
        return json_response(dspace_files.render_format(call.render, fmt))

    def on_formats(self, call: Call) -> Response:
        return self._page(
            call,
            "core/bitstreamformats",
            "bitstreamformats",
            list(dspace_files.FORMATS),
            lambda f: dspace_files.render_format(call.render, f),
        )
