"""The DSpace sandbox's WSGI application: security filters, routing and the core endpoints.

Order of checks follows Spring Security's filter chain in DSpace: CSRF first (a POST without a
valid token is 403 even for anonymous callers), then the JWT (a bad or expired one is silently
ignored), then the controller.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from kitab.sandbox import dspace_discovery, dspace_files
from kitab.sandbox.dspace_auth import (
    CSRF_COOKIE,
    CSRF_REQUEST_HEADER,
    CSRF_RESPONSE_HEADER,
    SAFE_METHODS,
    TokenSigner,
    csrf_ok,
    new_csrf_token,
    new_session_salt,
)
from kitab.sandbox.dspace_errors import ApiError
from kitab.sandbox.dspace_patch import PatchContext, apply_patch, metadata_value
from kitab.sandbox.dspace_registry import SCHEMA_IDS, SCHEMA_NAMESPACES
from kitab.sandbox.dspace_store import Dso, EPerson, MetadataValue, Store
from kitab.sandbox.dspace_version import Flavour
from kitab.sandbox.dspace_views import (
    PLURALS,
    UI_URL,
    Renderer,
    error_body,
    iso_now,
    json_response,
    page_args,
    problem_body,
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
STREAMING = frozenset({("bundle_bitstreams", "POST"), ("content", "GET"), ("content", "HEAD")})


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


def _rules() -> list[Rule]:
    api = "/server/api"
    uid = "<uid>"
    spec = [
        ("", "root", ["GET"]),
        ("/security/csrf", "csrf", ["GET"]),
        ("/authn/login", "login", ["POST"]),
        ("/authn/logout", "logout", ["POST", "GET"]),
        ("/authn/status", "status", ["GET"]),
        ("/pid/find", "pid_find", ["GET"]),
        ("/core/communities", "communities", ["GET", "POST"]),
        ("/core/communities/search/top", "top_communities", ["GET"]),
        (f"/core/communities/{uid}", "community", ["GET"]),
        (f"/core/communities/{uid}/collections", "community_collections", ["GET"]),
        (f"/core/communities/{uid}/subcommunities", "subcommunities", ["GET"]),
        ("/core/collections", "collections", ["GET", "POST"]),
        (f"/core/collections/{uid}", "collection", ["GET"]),
        ("/core/items", "items", ["GET", "POST"]),
        (f"/core/items/{uid}", "item", ["GET", "PATCH", "PUT", "DELETE"]),
        (f"/core/items/{uid}/bundles", "item_bundles", ["GET", "POST"]),
        (f"/core/items/{uid}/owningCollection", "owning_collection", ["GET"]),
        (f"/core/bundles/{uid}", "bundle", ["GET", "PATCH", "DELETE"]),
        (f"/core/bundles/{uid}/item", "bundle_item", ["GET"]),
        (f"/core/bundles/{uid}/bitstreams", "bundle_bitstreams", ["GET", "POST"]),
        (f"/core/bitstreams/{uid}", "bitstream", ["GET", "PATCH", "DELETE"]),
        (f"/core/bitstreams/{uid}/content", "content", ["GET", "HEAD"]),
        (f"/core/bitstreams/{uid}/format", "bitstream_format", ["GET"]),
        (f"/core/bitstreams/{uid}/bundle", "bitstream_bundle", ["GET"]),
        ("/core/bitstreamformats", "formats", ["GET"]),
        ("/core/metadatafields", "fields", ["GET"]),
        ("/core/metadatafields/search/byFieldName", "fields_by_name", ["GET"]),
        ("/core/metadatafields/<int:fid>", "field", ["GET"]),
        ("/discover/search/objects", "search", ["GET"]),
    ]
    return [Rule(api + path, endpoint=name, methods=methods) for path, name, methods in spec]


class DSpaceApp:
    """WSGI app. ``jwt_ttl``, ``jwt_skew`` and ``max_upload`` may be changed while it runs."""

    def __init__(
        self,
        store: Store,
        flavour: Flavour,
        *,
        jwt_ttl: float = 1800,
        jwt_skew: float = 0,
        max_upload: int = 512 * 1024 * 1024,
    ) -> None:
        self.store = store
        self.flavour = flavour
        self.jwt_ttl = jwt_ttl
        self.jwt_skew = jwt_skew  # DSpace allows 60 s; 0 keeps expiry tests quick
        self.max_upload = max_upload
        self.signer = TokenSigner()
        self.urls = Map(_rules(), strict_slashes=False)

    # --- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        call = Call(request, None, Renderer(self._api(request), self.flavour, admin=False))
        try:
            response = self._run(call)
        except ApiError as error:
            response = self._error(call, error)
        except HTTPException as error:
            response = self._error(call, ApiError(error.code or 500, error.description or ""))
        for name, value in call.extra_headers.items():
            response.headers[name] = value
        if call.new_csrf:
            response.headers[CSRF_RESPONSE_HEADER] = call.new_csrf
            response.set_cookie(
                CSRF_COOKIE, call.new_csrf, path="/server", httponly=True, samesite="Lax"
            )
        response.headers["Access-Control-Expose-Headers"] = (
            f"Authorization, {CSRF_RESPONSE_HEADER}, Location, WWW-Authenticate"
        )
        return response

    def _api(self, request: Request) -> str:
        return request.host_url.rstrip("/") + "/server/api"

    def _error(self, call: Call, error: ApiError) -> Response:
        path = call.request.path
        if error.status == 413 and self.flavour.spring_413:
            response = json_response(
                problem_body(413, error.message, path), 413, "application/problem+json"
            )
        else:
            response = json_response(
                error_body(error.status, error.message, path), error.status, "application/json"
            )
        for name, value in error.headers.items():
            response.headers[name] = value
        return response

    def _run(self, call: Call) -> Response:
        request = call.request
        cookie = request.cookies.get(CSRF_COOKIE)
        if request.method not in SAFE_METHODS and not csrf_ok(
            cookie, request.headers.get(CSRF_REQUEST_HEADER)
        ):
            call.new_csrf = new_csrf_token()
            raise ApiError(403, "Access is denied. Invalid CSRF token.")
        if cookie is None and self.flavour.csrf_on_get:
            call.new_csrf = new_csrf_token()
        adapter = self.urls.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed as error:
            raise ApiError(405, f"Request method '{request.method}' is not supported") from error
        except NotFound as error:
            raise ApiError(404, "") from error
        if "uid" in args and not _is_uuid(args["uid"]):
            raise ApiError(404, "")
        handler = getattr(self, f"on_{endpoint}_{request.method.lower()}", None) or getattr(
            self, f"on_{endpoint}"
        )
        if (endpoint, request.method) in STREAMING:
            # uploads and downloads stream outside the lock and take it only for the database
            with self.store.lock:
                call.user = self._user(request)
            call.render.admin = call.admin
            return handler(call, **args)
        with self.store.transaction():
            call.user = self._user(request)
            call.render.admin = call.admin
            return handler(call, **args)

    def _user(self, request: Request) -> EPerson | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        claims = self.signer.verify(auth[7:].strip(), self.jwt_skew)
        if claims is None:
            return None
        person = self.store.eperson(claims.eperson)
        if person is None or not person.session_salt or person.session_salt != claims.salt:
            return None
        return person

    # --- root, security --------------------------------------------------------------------

    def on_root(self, call: Call) -> Response:
        api = call.render.api
        return json_response(
            {
                "dspaceUI": UI_URL,
                "dspaceName": "kitab DSpace sandbox",
                "dspaceServer": api.removesuffix("/api"),
                "dspaceVersion": f"DSpace {self.flavour.label}",
                "type": "root",
                "_links": {
                    name: {"href": f"{api}/{path}"}
                    for name, path in (
                        ("authn", "authn"),
                        ("communities", "core/communities"),
                        ("collections", "core/collections"),
                        ("items", "core/items"),
                        ("bundles", "core/bundles"),
                        ("bitstreams", "core/bitstreams"),
                        ("metadatafields", "core/metadatafields"),
                        ("discover", "discover"),
                        ("pid", "pid"),
                        ("self", ""),
                    )
                },
            }
        )

    def on_csrf(self, call: Call) -> Response:
        if not self.flavour.has_csrf_endpoint:
            raise ApiError(404, "")
        call.new_csrf = call.request.cookies.get(CSRF_COOKIE) or new_csrf_token()
        return Response(status=204)

    def on_login(self, call: Call) -> Response:
        values = call.request.values
        user, password = values.get("user"), values.get("password")
        now = time.time()
        if user is None and password is None and call.user is not None:
            person = call.user  # refresh: same session salt, new expiry
        else:
            person = self.store.check_password(user or "", password or "")
            if person is None:
                raise ApiError(
                    401,
                    "Authentication failed!",
                    {"WWW-Authenticate": 'password realm="DSpace REST API"'},
                )
            salt = person.session_salt
            if not salt or person.last_login is None or now - person.last_login > self.jwt_ttl:
                salt = new_session_salt()
            self.store.set_session(person.uuid, salt, now)
            person = EPerson(person.uuid, person.email, salt, now, person.admin)
        token = self.signer.sign(person.uuid, person.session_salt or "", self.jwt_ttl)
        call.extra_headers["Authorization"] = f"Bearer {token}"
        call.new_csrf = new_csrf_token()
        return Response(status=200)

    def on_logout(self, call: Call) -> Response:
        if call.user is None:
            raise ApiError(401, "Authentication is required")
        self.store.set_session(call.user.uuid, None, None)
        call.new_csrf = new_csrf_token()
        return Response(status=204)

    def on_status(self, call: Call) -> Response:
        render, person = call.render, call.user
        body: dict[str, Any] = {
            "id": None,
            "okay": True,
            "authenticated": person is not None,
            "authenticationMethod": "password" if person else None,
            "type": "status",
            "_links": {"self": render.href("authn/status")},
        }
        if person is not None:
            body["_links"]["eperson"] = render.href(f"eperson/epersons/{person.uuid}")
            body["_embedded"] = {"eperson": render.eperson(person)}
        return json_response(body)

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

    # --- communities and collections -------------------------------------------------------

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
        if not _is_uuid(parent) or self.store.get(parent, "community") is None:
            raise ApiError(422, f"Parent community for id: {parent} not found")
        return self._create_container(call, "collection", parent)

    def _create_container(self, call: Call, type_: str, parent: str | None) -> Response:
        body = self._json_object(call.request, properties=None)
        dso = self.store.new(type_, parent, handle=self.store.next_handle())
        dso.metadata = self._body_metadata(body)
        dso.metadata["dc.identifier.uri"] = [MetadataValue(f"{UI_URL}/handle/{dso.handle}")]
        self.store.save(dso)
        return json_response(self.render_container(call, dso), 201)

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
        _require_json(call.request, ("application/json", "application/hal+json"))
        body = self._json_object(call.request, properties=ITEM_PROPERTIES)
        owner = call.request.args.get("owningCollection")
        if not owner or not _is_uuid(owner) or self.store.get(owner, "collection") is None:
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
        _require_json(call.request, ("application/json", "application/hal+json"))
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
        _require_json(call.request, ("application/json-patch+json", "application/json"))
        operations = _parse_json(call.request)
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
        _require_json(call.request, ("application/json-patch+json", "application/json"))
        operations = _parse_json(call.request)
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
            start, end = _bitstream_index(op.get("from")), _bitstream_index(op.get("path"))
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

    def render_bitstream(self, call: Call, dso: Dso) -> dict[str, Any]:
        bundle = self.store.get(dso.parent or "")
        return call.render.bitstream(dso, bundle.name if bundle else None)

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

    def on_field(self, call: Call, fid: int) -> Response:
        for f in self.store.fields():
            if f.id == fid:
                return json_response(call.render.field(f, self._schema(call, f.schema)))
        raise ApiError(404, f"metadatafield with id: {fid} not found")

    def on_search(self, call: Call) -> Response:
        return dspace_discovery.search(self, call)

    # --- request bodies --------------------------------------------------------------------

    def _json_object(self, request: Request, properties: frozenset[str] | None) -> dict[str, Any]:
        body = _parse_json(request)
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


def _bitstream_index(path: object) -> int:
    parts = str(path or "").strip("/").split("/")
    if len(parts) != 4 or parts[:2] != ["_links", "bitstreams"] or parts[3] != "href":
        raise ApiError(400, "This operation is not supported.")
    try:
        return int(parts[2])
    except ValueError:
        raise ApiError(400, "The index should be an integer") from None


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _require_json(request: Request, accepted: Iterable[str]) -> None:
    if request.mimetype not in accepted:
        raise ApiError(415, f"Content-Type '{request.content_type}' is not supported")


def _parse_json(request: Request) -> Any:
    try:
        return json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "Error parsing request body") from None
