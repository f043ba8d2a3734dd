"""Bitstream upload and download for the DSpace sandbox, streamed both ways.

An upload goes from the socket to a file in the data directory in chunks while its MD5 is
computed (DSpace computes the checksum the same way, and ignores any client-supplied one), so a
scan of any size costs the server a fixed amount of memory. Downloads are sent in chunks too,
with DSpace's headers: the bare MD5 as ETag, byte ranges, and ``Content-Disposition``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.wrappers import Response

from kitab.sandbox.dspace_errors import ApiError
from kitab.sandbox.dspace_patch import metadata_value
from kitab.sandbox.dspace_store import MetadataValue
from kitab.sandbox.dspace_views import Renderer, http_date, json_response

if TYPE_CHECKING:
    from kitab.sandbox.dspace_app import DSpaceApp
    from kitab.sandbox.dspace_endpoints import Call

CHUNK = 64 * 1024
TOO_LARGE_7 = "Request entity is too large"
TOO_LARGE_SPRING = "Maximum upload size exceeded"


@dataclass(frozen=True)
class BitstreamFormat:
    id: int
    short: str
    mimetype: str
    support: str
    extensions: tuple[str, ...]


FORMATS = (
    BitstreamFormat(1, "Unknown", "application/octet-stream", "UNKNOWN", ()),
    BitstreamFormat(2, "License", "text/plain; charset=utf-8", "KNOWN", ()),
    BitstreamFormat(3, "Adobe PDF", "application/pdf", "SUPPORTED", ("pdf",)),
    BitstreamFormat(4, "XML", "text/xml", "SUPPORTED", ("xml",)),
    BitstreamFormat(5, "Text", "text/plain", "SUPPORTED", ("txt", "asc")),
    BitstreamFormat(6, "HTML", "text/html", "SUPPORTED", ("htm", "html")),
    BitstreamFormat(7, "JPEG", "image/jpeg", "SUPPORTED", ("jpeg", "jpg")),
    BitstreamFormat(8, "PNG", "image/png", "SUPPORTED", ("png",)),
    BitstreamFormat(9, "TIFF", "image/tiff", "SUPPORTED", ("tiff", "tif")),
    BitstreamFormat(10, "GIF", "image/gif", "SUPPORTED", ("gif",)),
    BitstreamFormat(11, "JPEG 2000", "image/jp2", "SUPPORTED", ("jp2",)),
    BitstreamFormat(12, "MARC", "application/marc", "KNOWN", ("mrc", "marc")),
)


def format_for(mimetype: str | None) -> BitstreamFormat:
    return next((f for f in FORMATS if f.mimetype == mimetype), FORMATS[0])


def guess_format(filename: str) -> BitstreamFormat:
    """By extension, as DSpace's format identifier does; "Unknown" when nothing fits."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    for fmt in FORMATS:
        if extension in fmt.extensions:
            return fmt
    return FORMATS[0]


def render_format(render: Renderer, fmt: BitstreamFormat) -> dict[str, Any]:
    return {
        "id": fmt.id,
        "shortDescription": fmt.short,
        "description": fmt.short,
        "mimetype": fmt.mimetype,
        "supportLevel": fmt.support,
        "internal": fmt.id == 2,
        "extensions": list(fmt.extensions),
        "type": "bitstreamformat",
        "_links": {"self": render.href(f"core/bitstreamformats/{fmt.id}")},
    }


class HashingFile:
    """Where the form parser writes a file part: to disk, hashing and counting as it goes."""

    def __init__(self, directory: Path, limit: int) -> None:
        fd, name = tempfile.mkstemp(dir=directory, suffix=".part")
        self.path = Path(name)
        self.file = os.fdopen(fd, "w+b")
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0
        self.limit = limit

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise RequestEntityTooLarge()
        self.md5.update(data)
        return self.file.write(data)

    def read(self, size: int = -1) -> bytes:
        return self.file.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()

    def close(self) -> None:
        self.file.close()

    def discard(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def upload(app: DSpaceApp, call: Call, bundle_uid: str) -> Response:
    store = app.store
    with store.lock:
        call.require_admin()
        if store.get(bundle_uid, "bundle") is None:
            raise ApiError(404, f"bundle with id: {bundle_uid} not found")
    request = call.request
    if request.content_length is not None and request.content_length > app.max_upload:
        raise ApiError(413, _too_large(app))
    if request.mimetype != "multipart/form-data":
        raise ApiError(400, "Current request is not a multipart request")
    parts: list[HashingFile] = []

    def stream_factory(*_args: Any, **_kwargs: Any) -> HashingFile:
        part = HashingFile(store.incoming, app.max_upload)
        parts.append(part)
        return part

    try:
        parser = FormDataParser(stream_factory=stream_factory, max_form_memory_size=1024 * 1024)
        try:
            _, form, files = parser.parse(
                request.stream,
                request.mimetype,
                request.content_length,
                request.mimetype_params,
            )
        except RequestEntityTooLarge:
            raise ApiError(413, _too_large(app)) from None
        storage = files.get("file")
        if storage is None:
            raise ApiError(400, "Required request part 'file' is not present")
        data: HashingFile = storage.stream  # type: ignore[assignment]
        properties = _properties(form.get("properties"), files.get("properties"))
        with store.transaction():
            body = _store_bitstream(app, call, bundle_uid, data, storage.filename or "", properties)
        return body
    finally:
        for part in parts:
            part.discard()


def _too_large(app: DSpaceApp) -> str:
    return TOO_LARGE_SPRING if app.flavour.spring_413 else TOO_LARGE_7


def _properties(field: str | None, storage: Any) -> dict[str, Any]:
    if field is None and storage is not None:
        field = storage.stream.read().decode("utf-8", "replace")
    if not field:
        return {}
    try:
        properties = json.loads(field)
    except ValueError:
        raise ApiError(422, "Error parsing request body") from None
    if not isinstance(properties, dict):
        raise ApiError(422, "Error parsing request body")
    return properties


def _store_bitstream(
    app: DSpaceApp,
    call: Call,
    bundle_uid: str,
    data: HashingFile,
    filename: str,
    properties: dict[str, Any],
) -> Response:
    store = app.store
    bundle = store.get(bundle_uid, "bundle")
    if bundle is None:
        raise ApiError(404, f"bundle with id: {bundle_uid} not found")
    raw = properties.get("metadata") or {}
    if not isinstance(raw, dict):
        raise ApiError(422, "Error parsing request body")
    known = store.field_names()
    metadata: dict[str, list[MetadataValue]] = {}
    for name, entries in raw.items():
        if name not in known:
            raise ApiError(500, "An internal database error occurred")
        values = [v for v in (metadata_value(e) for e in entries or []) if v is not None]
        if values:
            metadata[name] = values
    title = properties.get("name") or filename
    if title:
        metadata["dc.title"] = [MetadataValue(str(title))]
    bitstream = store.new(
        "bitstream",
        bundle.uuid,
        seq=store.next_sequence(bundle.parent or ""),
        size=data.size,
        md5=data.md5.hexdigest(),
        mimetype=guess_format(filename).mimetype,
    )
    bitstream.metadata = metadata
    data.close()
    target = store.asset_path(bitstream.uuid)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(data.path, target)
    store.save(bitstream)
    store.touch(bundle.parent or "")
    return json_response(app.render_bitstream(call, bitstream), 201)


RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def download(app: DSpaceApp, call: Call, uid: str) -> Response:
    store = app.store
    with store.lock:
        bitstream = store.get(uid, "bitstream")
        if bitstream is None:
            raise ApiError(404, f"bitstream with id: {uid} not found")
        bundle = store.get(bitstream.parent or "")
        item = store.get(bundle.parent or "") if bundle else None
        if item is not None and item.withdrawn and not call.admin:
            raise ApiError(
                401 if call.user is None else 403,
                "Authentication is required" if call.user is None else "Access is denied",
            )
        path = store.asset_path(uid)
    size, md5 = bitstream.size or 0, bitstream.md5 or ""
    name = bitstream.name or uid
    headers = {
        "ETag": md5,
        "Accept-Ranges": "bytes",
        "Last-Modified": http_date(bitstream.last_modified),
        "Content-Disposition": f'attachment;filename="{quote(name, safe=" ()[]-_.,;")}"',
    }
    tags = [
        t.strip().strip('"').removeprefix("W/").strip('"')
        for t in call.request.headers.get("If-None-Match", "").split(",")
        if t.strip()
    ]
    if md5 in tags or "*" in tags:
        return Response(status=304, headers=headers)
    start, end, status = 0, size - 1, 200
    match = RANGE.match(call.request.headers.get("Range", ""))
    if match and (match.group(1) or match.group(2)):
        first, last = match.group(1), match.group(2)
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:
            start, end = max(size - int(last), 0), size - 1
        if start >= size or start > end:
            headers["Content-Range"] = f"bytes */{size}"
            return Response(status=416, headers=headers)
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        status = 206
    length = max(end - start + 1, 0)
    headers["Content-Length"] = str(length)
    body: Iterator[bytes] | list[bytes] = (
        [] if call.request.method == "HEAD" else _chunks(path, start, length)
    )
    mimetype = bitstream.mimetype or "application/octet-stream"
    return Response(
        body, status=status, headers=headers, content_type=mimetype, direct_passthrough=True
    )


def _chunks(path: Path, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        while length > 0:
            block = handle.read(min(CHUNK, length))
            if not block:
                return
            length -= len(block)
            yield block
