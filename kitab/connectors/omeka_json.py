"""Omeka S JSON-LD shapes: kitab's Values to Omeka value objects and Omeka answers back.

Kept apart from the HTTP code so the rules about what survives an update (values are sent back
exactly as read, with their visibility, language, type and annotations) live in one place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from kitab.connectors.base import RemoteFile, RemoteItem
from kitab.model import Metadata, Value, key_from_identity

JsonObject = dict[str, Any]
#: Term → Omeka value objects, as in an item representation (``"dcterms:title": [{…}]``).
ValueSet = dict[str, list[JsonObject]]

IDENTITY_TERM = "dcterms:identifier"
ALGORITHM = "SHA-256"


def literal(property_id: int, value: Value, *, public: bool = True) -> JsonObject:
    """One literal value object; the language tag is sent only when the metadata has one."""
    obj: JsonObject = {"type": "literal", "property_id": property_id, "@value": value.value}
    if value.language:
        obj["@language"] = value.language
    if not public:
        obj["is_public"] = False
    return obj


def value_set(representation: Mapping[str, Any]) -> ValueSet:
    """The property values of a resource, by term, exactly as the server sent them.

    A key is a term when it holds value objects (dicts with ``property_id``); module keys such
    as ``o-module-mapping:marker`` also contain a colon but are not values.
    """
    return {
        key: list(values)
        for key, values in representation.items()
        if not key.startswith(("o:", "@"))
        and isinstance(values, list)
        and values
        and all(isinstance(v, dict) and "property_id" in v for v in values)
    }


def with_changes(
    current: ValueSet, changes: Metadata, property_id: Callable[[str], int]
) -> ValueSet:
    """The value set after replacing only the changed terms.

    Terms not named in ``changes`` keep their value objects untouched. Inside a changed term, a
    value equal to one already there (same text and language) keeps its original object, so its
    visibility and annotation survive; the others become new literals. An empty list removes
    the term.
    """
    result = {term: values for term, values in current.items() if term not in changes}
    for term, values in changes.items():
        if not values:
            continue
        existing = current.get(term, [])
        result[term] = [_reuse(existing, v) or literal(property_id(term), v) for v in values]
    return result


def _reuse(existing: Iterable[JsonObject], value: Value) -> JsonObject | None:
    for obj in existing:
        if (
            obj.get("type") == "literal"
            and obj.get("@value") == value.value
            and (obj.get("@language") or None) == value.language
        ):
            return obj
    return None


def metadata_of(values: ValueSet) -> Metadata:
    """Values as kitab metadata: literals by text, URIs by URI, links to resources left out
    (kitab cannot map them to a catalogue field)."""
    metadata: Metadata = {}
    for term, objects in values.items():
        out = []
        for obj in objects:
            if "@value" in obj and obj["@value"] is not None:
                out.append(Value(str(obj["@value"]), obj.get("@language") or None))
            elif obj.get("type") == "uri" and obj.get("@id"):
                out.append(Value(str(obj["@id"]), obj.get("@language") or None))
        if out:
            metadata[term] = out
    return metadata


def media_refs(representation: Mapping[str, Any]) -> list[JsonObject]:
    """The item's media as ``[{"o:id": …}]`` in their current order (all of them, files or not:
    a media left out of an update's ``o:media`` is deleted by Omeka)."""
    return [{"o:id": int(m["o:id"])} for m in representation.get("o:media") or []]


def remote_file(media: Mapping[str, Any], position: int) -> RemoteFile:
    return RemoteFile(
        id=str(media["o:id"]),
        name=str(media.get("o:source") or media.get("o:filename") or ""),
        size=int(media.get("o:size") or 0),
        checksum=str(media.get("o:sha256") or ""),
        algorithm=ALGORITHM,
        position=position,
        public=bool(media.get("o:is_public", True)),
    )


def files_in_order(
    item: Mapping[str, Any], media: Mapping[int, Mapping[str, Any]]
) -> list[RemoteFile]:
    """The item's file media as RemoteFiles in display order; media without a stored file
    (HTML, oEmbed, IIIF) are not files and are skipped, though they keep their place."""
    files: list[RemoteFile] = []
    for ref in media_refs(item):
        found = media.get(ref["o:id"])
        if found is not None and found.get("o:sha256"):
            files.append(remote_file(found, len(files)))
    return files


def remote_item(
    representation: Mapping[str, Any], files: list[RemoteFile], admin_root: str
) -> RemoteItem:
    """An Omeka item as kitab sees it. ``url`` is the item's admin page
    (``{root}/admin/item/{id}``): it exists whatever sites the item is in, and staff are the
    people who follow the link from a report."""
    values = value_set(representation)
    metadata = metadata_of(values)
    key = next(
        (
            k
            for v in metadata.get(IDENTITY_TERM, [])
            if (k := key_from_identity(v.value)) is not None
        ),
        None,
    )
    item_id = str(representation["o:id"])
    return RemoteItem(
        id=item_id,
        key=key,
        metadata=metadata,
        files=files,
        modified=_timestamp(representation.get("o:modified")),
        url=f"{admin_root}/admin/item/{item_id}",
        public=bool(representation.get("o:is_public", True)),
    )


def _timestamp(obj: Any) -> datetime | None:
    text = obj.get("@value") if isinstance(obj, dict) else obj
    if not text:
        return None
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # Omeka runs in UTC


def error_text(response: requests.Response) -> str:
    """The server's own words from ``{"errors": {…}}``, flattened; HTML pages (DELETE on 4.0,
    PATCH on a list URL) are summarised rather than quoted."""
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        kind = response.headers.get("Content-Type", "").split(";")[0] or "no content type"
        return f"{response.reason or 'error'} (the answer was {kind}, not JSON)"
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors is None:
        return str(body)[:500]
    return "; ".join(_flatten(errors))[:2000]


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    if isinstance(errors, dict):
        out: list[str] = []
        for key, value in errors.items():
            name = "" if key == "error" else f"{prefix}{key}"
            out.extend(_flatten(value, f"{name}: " if name else prefix))
        return out
    if isinstance(errors, list):
        return [line for entry in errors for line in _flatten(entry, prefix)]
    return [f"{prefix}{errors}"]
