"""The DSpace sandbox's WSGI application: security filters, routing, login and status.

Order of checks follows Spring Security's filter chain in DSpace: CSRF first (a POST without a
valid token is 403 even for anonymous callers), then the JWT (a bad or expired one is silently
ignored), then the controller.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from kitab.sandbox import dspace_discovery
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
from kitab.sandbox.dspace_containers import ContainerEndpoints
from kitab.sandbox.dspace_endpoints import Call, is_uuid
from kitab.sandbox.dspace_errors import ApiError
from kitab.sandbox.dspace_items import ItemEndpoints
from kitab.sandbox.dspace_store import EPerson, Store
from kitab.sandbox.dspace_version import Flavour
from kitab.sandbox.dspace_views import (
    UI_URL,
    Renderer,
    error_body,
    json_response,
    problem_body,
)

STREAMING = frozenset({("bundle_bitstreams", "POST"), ("content", "GET"), ("content", "HEAD")})


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
        ("/core/metadatafields", "fields", ["GET", "POST"]),
        ("/core/metadatafields/search/byFieldName", "fields_by_name", ["GET"]),
        ("/core/metadatafields/<int:fid>", "field", ["GET"]),
        ("/discover/search/objects", "search", ["GET"]),
    ]
    return [Rule(api + path, endpoint=name, methods=methods) for path, name, methods in spec]


class DSpaceApp(ContainerEndpoints, ItemEndpoints):
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
        if "uid" in args and not is_uuid(args["uid"]):
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

    def on_search(self, call: Call) -> Response:
        return dspace_discovery.search(self, call)
