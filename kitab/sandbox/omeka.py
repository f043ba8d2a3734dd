"""An Omeka-S-compatible REST API on 127.0.0.1, for tests and ``kitab demo``.

It behaves as the reference notes (``omeka-s.md``) say a real Omeka S 4.0.4 does, quirks first:
silent anonymous access, 200 on create, one id sequence for items/media/item sets, full-replace
PUT, all-values PATCH, HTML pages where Laminas answers HTML, and a DELETE that deletes and then
answers 500 (4.0/4.1) or 200 (4.2). It shares no code with kitab's connectors on purpose: a
misreading of the contract on one side then shows up as a failing test.

    sb = start(tmp_path)            # port 0 picks a free port
    sb.url + "/api/items"           # key_identity=kitab&key_credential=kitab
    sb.stop()
"""

from __future__ import annotations

import hmac
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import wrap_file

from kitab.sandbox.faults import WRITE_METHODS, FaultInjector
from kitab.sandbox.omeka_errors import ApiError, HtmlError, denied, html_page, not_found
from kitab.sandbox.omeka_files import FileStore
from kitab.sandbox.omeka_query import order_by, page_numbers, php_params, resource_filter
from kitab.sandbox.omeka_repr import Renderer
from kitab.sandbox.omeka_store import Store
from kitab.sandbox.omeka_vocab import (
    BASE_TEMPLATE_ID,
    BASE_TEMPLATE_LABEL,
    PROPERTIES,
    RESOURCE_CLASSES,
    VOCABULARIES,
    Term,
)
from kitab.sandbox.omeka_write import Writer
from kitab.sandbox.server import RunningServer, start_in_thread

API_RESOURCES = (
    "users", "vocabularies", "resource_classes", "resource_templates", "properties", "items",
    "media", "item_sets", "value_annotations", "modules", "sites", "site_pages", "jobs",
    "resources", "assets", "api_resources", "data_types",
)  # fmt: skip
RESOURCE_KINDS = ("items", "media", "item_sets")
VOCAB_KINDS = ("vocabularies", "properties", "resource_classes", "resource_templates")
SERVED = (*RESOURCE_KINDS, *VOCAB_KINDS, "sites", "users", "api_resources")
JSON_TYPES = ("application/json", "application/ld+json")
OPERATIONS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
ROUTE = re.compile(r"^/api/([^/]+)(?:/([^/]+))?/?$")
SUPPORTED_VERSIONS = ("4.0", "4.1", "4.2")
CONTEXT = {
    "o": "http://omeka.org/s/vocabs/o#",
    "dcterms": "http://purl.org/dc/terms/",
    "dctype": "http://purl.org/dc/dcmitype/",
    "bibo": "http://purl.org/ontology/bibo/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "o-cnt": "http://www.w3.org/2011/content#",
    "o-time": "http://www.w3.org/2006/time#",
}


def version_tuple(version: str) -> tuple[int, ...]:
    """``4.0.4`` → (4, 0, 4); only the versions whose behaviour the notes describe."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", version) or version.rsplit(".", 1)[0] not in (
        SUPPORTED_VERSIONS
    ):
        raise ValueError(f"unsupported Omeka S version {version!r} (4.0.x, 4.1.x or 4.2.x)")
    return tuple(int(part) for part in version.split("."))


class OmekaApp:
    """The WSGI application: routing, the API key, content types, errors and pagination."""

    def __init__(
        self, data_dir: Path, key_identity: str, key_credential: str, version: str
    ) -> None:
        self.version = version
        self.modern = version_tuple(version) >= (4, 1, 0)  # ld+json; DELETE answers 200 in 4.2
        self.delete_answers = version_tuple(version) >= (4, 2, 0)
        self.key = (key_identity, key_credential)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.files = FileStore(data_dir)
        self.store = Store(data_dir / "omeka.sqlite3")
        self.item_set_id = self.store.install()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        request = Request(environ)
        request.max_form_memory_size = 64 * 1024 * 1024
        try:
            response = self.dispatch(request)
        except ApiError as error:
            response = self.json_response(request, {"errors": error.errors}, error.status)
        except HtmlError as error:
            response = self.html_response(error.status, error.title)
        return response(environ, start_response)

    def close(self) -> None:
        self.store.close()

    # --- plumbing ----------------------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        return {"Omeka-S-Version": self.version}

    def json_response(self, request: Request, payload: Any, status: int = 200) -> Response:
        indent = 4 if "pretty_print" in request.args else None
        body = json.dumps(
            payload, ensure_ascii=False, indent=indent, separators=None if indent else (",", ":")
        )
        mimetype = "application/ld+json" if self.modern else "application/json"
        callback = request.args.get("callback")
        if callback and re.fullmatch(r"[A-Za-z_$][\w$.]*", callback):
            body, mimetype = f"{callback}({body})", "application/javascript"
        response = Response(body, status=status, headers=self.headers())
        response.content_type = f"{mimetype}; charset=utf-8"
        return response

    def html_response(self, status: int, title: str) -> Response:
        return Response(
            html_page(status, title),
            status=status,
            headers=self.headers(),
            content_type="text/html; charset=UTF-8",
        )

    def anonymous(self, request: Request) -> bool:
        """No key, a wrong key or half a key: silently anonymous, never a 401."""
        identity = request.args.get("key_identity", "")
        credential = request.args.get("key_credential", "")
        return not (
            hmac.compare_digest(identity.encode(), self.key[0].encode())
            and hmac.compare_digest(credential.encode(), self.key[1].encode())
        )

    @staticmethod
    def root(request: Request) -> str:
        return request.host_url.rstrip("/")

    # --- routing -----------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path == "/api-context":
            return self.json_response(request, {"@context": CONTEXT})
        if path.startswith("/files/original/"):
            return self.serve_file(request, path.rsplit("/", 1)[1])
        match = ROUTE.match(path)
        if match is None:
            raise HtmlError(404, "Page not found")
        resource, rid = match.groups()
        if resource not in SERVED:
            raise ApiError(500, {"error": f'The API does not support the "{resource}" resource.'})
        anonymous = self.anonymous(request)
        method = request.method
        if method in WRITE_METHODS:
            if rid is None and method in ("PUT", "PATCH", "DELETE"):
                raise HtmlError(405, "Method Not Allowed")
            if anonymous:
                raise denied(OPERATIONS[method], resource)
            return self.write(request, resource, rid)
        if method not in ("GET", "HEAD"):
            raise HtmlError(405, "Method Not Allowed")
        if resource == "users" and anonymous:
            raise denied("search" if rid is None else "read", resource)
        renderer = Renderer(self.store.db, self.root(request), anonymous)
        if rid is None:
            return self.search(request, resource, renderer)
        return self.json_response(request, self.read(resource, rid, renderer))

    def serve_file(self, request: Request, name: str) -> Response:
        path = self.files.path(name)
        if path is None:
            raise HtmlError(404, "Page not found")
        handle = path.open("rb")
        response = Response(wrap_file(request.environ, handle), direct_passthrough=True)
        response.content_length = path.stat().st_size
        response.content_type = "application/octet-stream"
        return response

    # --- reads -------------------------------------------------------------------------------

    def read(self, resource: str, rid: str, renderer: Renderer) -> dict[str, Any]:
        if resource in RESOURCE_KINDS:
            with self.store.read() as db:
                row = self._row(db, resource, rid, renderer.anonymous)
                return renderer.resource(row)
        found = [body for key, body in self._listing(resource, renderer, {}) if str(key) == rid]
        if not found:
            raise not_found(resource, rid)
        return found[0]

    @staticmethod
    def _row(db, resource: str, rid: str, anonymous: bool):
        row = None
        if rid.isdigit():
            row = db.execute(
                "SELECT * FROM resource WHERE id = ? AND resource_type = ?", (int(rid), resource)
            ).fetchone()
        if row is not None and anonymous:
            parent = row
            if resource == "media":
                parent = db.execute(
                    "SELECT is_public FROM resource WHERE id = ?", (row["item_id"],)
                ).fetchone()
            if not row["is_public"] or not parent["is_public"]:
                row = None
        if row is None:
            raise not_found(resource, rid)
        return row

    def search(self, request: Request, resource: str, renderer: Renderer) -> Response:
        pairs = parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True)
        query = php_params(pairs)
        page, per_page = page_numbers(query)
        if resource in RESOURCE_KINDS:
            where = resource_filter(resource, query, renderer.anonymous)
            order, order_params = order_by(query)
            with self.store.read() as db:
                total = db.execute(
                    f"SELECT COUNT(*) FROM resource r WHERE {where.sql}", where.params
                ).fetchone()[0]
                rows = db.execute(
                    f"SELECT r.* FROM resource r WHERE {where.sql} "
                    f"ORDER BY {order} LIMIT ? OFFSET ?",
                    [*where.params, *order_params, per_page, (page - 1) * per_page],
                ).fetchall()
                bodies = [renderer.resource(row) for row in rows]
        else:
            listing = [body for _, body in self._listing(resource, renderer, query)]
            total = len(listing)
            bodies = listing[(page - 1) * per_page : page * per_page]
        response = self.json_response(request, bodies)
        response.headers["Omeka-S-Total-Results"] = str(total)
        response.headers["Link"] = self.links(request, pairs, page, per_page, total)
        return response

    def links(
        self, request: Request, pairs: list[tuple[str, str]], page: int, per_page: int, total: int
    ) -> str:
        """first/prev/next/last URLs repeating every query key — the API key included."""
        base = [(k, v) for k, v in pairs if k != "page"]
        keys = {k for k, _ in pairs}
        where = next((i for i, (k, _) in enumerate(pairs) if k == "page"), None)
        tail = [("sort_by", "id")] * ("sort_by" not in keys) + [("sort_order", "asc")] * (
            "sort_order" not in keys
        )

        def url(number: int) -> str:
            query = list(base)
            position = len(query) if where is None else where
            query.insert(position, ("page", str(number)))
            return f"{self.root(request)}{request.path}?{urlencode(query + tail)}"

        links = [f'<{url(1)}>; rel="first"']
        if total:
            last = -(-total // per_page)
            if page > 1:
                links.append(f'<{url(page - 1)}>; rel="prev"')
            if page < last:
                links.append(f'<{url(page + 1)}>; rel="next"')
            links.append(f'<{url(last)}>; rel="last"')
        return ", ".join(links)

    def _listing(
        self, resource: str, renderer: Renderer, query: dict[str, Any]
    ) -> Iterable[tuple[Any, dict]]:
        """(id, representation) of the fixed and small resources, filtered as Omeka does."""
        if resource == "vocabularies":
            for vocab in VOCABULARIES:
                if (
                    query.get("prefix", vocab.prefix) == vocab.prefix
                    and query.get("namespace_uri", vocab.namespace_uri) == vocab.namespace_uri
                ):
                    yield vocab.id, renderer.vocabulary(vocab)
        elif resource in ("properties", "resource_classes"):
            terms = PROPERTIES if resource == "properties" else RESOURCE_CLASSES
            used = self._used(resource) if "used" in query else None
            for term in terms:
                if _term_matches(term, query) and (used is None or term.id in used):
                    yield term.id, renderer.term(term, resource)
        elif resource == "resource_templates":
            if query.get("label", BASE_TEMPLATE_LABEL) == BASE_TEMPLATE_LABEL:
                yield BASE_TEMPLATE_ID, renderer.template()
        elif resource == "users":
            with self.store.read() as db:
                created = db.execute("SELECT value FROM meta WHERE key = 'installed'").fetchone()[0]
            yield 1, renderer.user(created)
        elif resource == "sites":
            with self.store.read() as db:
                for row in db.execute("SELECT * FROM site ORDER BY id").fetchall():
                    if not renderer.anonymous or row["is_public"]:
                        yield row["id"], renderer.site(row)
        elif resource == "api_resources":
            for name in API_RESOURCES:
                yield name, {"o:id": name}

    def _used(self, resource: str) -> set[int]:
        sql = (
            "SELECT DISTINCT property_id FROM value"
            if resource == "properties"
            else "SELECT DISTINCT resource_class_id FROM resource "
            "WHERE resource_class_id IS NOT NULL"
        )
        with self.store.read() as db:
            return {row[0] for row in db.execute(sql)}

    # --- writes ------------------------------------------------------------------------------

    def write(self, request: Request, resource: str, rid: str | None) -> Response:
        if resource not in (*RESOURCE_KINDS, "sites") or (
            resource == "sites" and request.method in ("PUT", "PATCH")
        ):
            raise ApiError(
                500, {"error": f'The kitab sandbox does not model writes to "{resource}".'}
            )
        method = request.method
        data, uploads = ({}, {}) if method == "DELETE" else self.body(request)
        renderer = Renderer(self.store.db, self.root(request), anonymous=False)
        if method == "POST":
            with self.store.write(self.files.remove) as tx:
                writer = Writer(tx, self.files, uploads)
                new_id = {
                    "items": writer.create_item,
                    "media": writer.create_media,
                    "item_sets": writer.create_item_set,
                    "sites": writer.create_site,
                }[resource](data)
            return self.json_response(request, self.read(resource, str(new_id), renderer))
        assert rid is not None
        with self.store.write(self.files.remove) as tx:
            self._existing(tx.db, resource, rid)
            writer = Writer(tx, self.files, uploads)
            if method == "DELETE":
                before = self.read(resource, rid, renderer)
                writer.delete(resource, int(rid))
            else:
                partial = method == "PATCH"
                {
                    "items": writer.update_item,
                    "media": writer.update_media,
                    "item_sets": writer.update_item_set,
                }[resource](int(rid), data, partial)
        if method != "DELETE":
            return self.json_response(request, self.read(resource, rid, renderer))
        if not self.delete_answers:
            # 4.0/4.1: the @reverse lookup on an entity without id fails after the delete.
            raise HtmlError(500, "An error occurred")
        before.update({"o:id": None, "@id": f"{renderer.api}/{resource}"})
        return self.json_response(request, before)

    @staticmethod
    def _existing(db, resource: str, rid: str) -> None:
        if resource == "sites":
            row = (
                db.execute("SELECT id FROM site WHERE id = ?", (rid,)).fetchone()
                if rid.isdigit()
                else None
            )
        elif rid.isdigit():
            row = db.execute(
                "SELECT id FROM resource WHERE id = ? AND resource_type = ?", (int(rid), resource)
            ).fetchone()
        else:
            row = None
        if row is None:
            raise not_found(resource, rid)

    def body(self, request: Request) -> tuple[dict[str, Any], dict[int, Any]]:
        """JSON, or multipart (``data`` + ``file[N]``) on POST; a multipart PUT is an empty body."""
        mimetype = request.mimetype
        if mimetype == "multipart/form-data":
            if request.method != "POST":
                return {}, {}
            raw = request.form.get("data")
            if raw is None and "data" in request.files:
                raw = request.files["data"].read().decode("utf-8", "replace")
            uploads = {}
            for key, upload in request.files.items(multi=True):
                match = re.fullmatch(r"file\[(\d+)\]", key)
                if match:
                    uploads[int(match.group(1))] = upload
            return self._decode(raw or "{}"), uploads
        if mimetype not in JSON_TYPES:
            got = request.headers.get("Content-Type", "").split(";")[0].strip() or "none"
            raise ApiError(
                415,
                {
                    "error": "Invalid Content-Type header. "
                    f'Expecting "application/json", got "{got}".'
                },
            )
        return self._decode(request.get_data(as_text=True)), {}

    @staticmethod
    def _decode(text: str) -> dict[str, Any]:
        try:
            data = json.loads(text)
        except ValueError:
            raise ApiError(400, {"error": "JSON: Syntax error"}) from None
        if isinstance(data, list):
            return {str(i): v for i, v in enumerate(data)}
        if not isinstance(data, dict):
            raise ApiError(400, {"error": "JSON: Content must be an object or array."})
        return data


def _term_matches(term: Term, query: dict[str, Any]) -> bool:
    vocab = term.vocabulary
    checks = {
        "term": term.term,
        "local_name": term.local_name,
        "vocabulary_prefix": vocab.prefix,
        "vocabulary_id": str(vocab.id),
        "vocabulary_namespace_uri": vocab.namespace_uri,
    }
    return all(
        query[name] == value for name, value in checks.items() if isinstance(query.get(name), str)
    )


@dataclass
class OmekaSandbox:
    """A running sandbox: its URL, the item set made on first start, and its fault injector."""

    app: OmekaApp
    running: RunningServer

    @property
    def url(self) -> str:
        return self.running.root

    @property
    def item_set_id(self) -> int:
        return self.app.item_set_id

    @property
    def injector(self) -> FaultInjector:
        return self.running.injector

    def stats(self) -> dict[str, int]:
        """Requests by method (logins apart), plus "writes" and "total": /_sandbox/stats."""
        return self.injector.stats()

    def reset_stats(self) -> None:
        self.injector.reset_stats()

    def stop(self) -> None:
        self.running.stop()
        self.app.close()

    def wait(self) -> None:
        """Block until interrupted (the CLI's foreground mode)."""
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()


def start(
    data_dir: Path,
    port: int = 0,
    *,
    key_identity: str = "kitab",
    key_credential: str = "kitab",
    version: str = "4.0.4",
    host: str = "127.0.0.1",
) -> OmekaSandbox:
    """Serve an Omeka S sandbox over ``data_dir`` (created if missing; reused across restarts)."""
    app = OmekaApp(Path(data_dir), key_identity, key_credential, version)
    try:
        running = start_in_thread(app, host=host, port=port)
    except OSError:
        app.close()
        raise
    return OmekaSandbox(app=app, running=running)
