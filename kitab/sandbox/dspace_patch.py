"""JSON Patch on a DSpace object, with DSpace's own semantics rather than RFC 6902's.

DSpace's metadata operations differ from the RFC in ways that lose data if a client trusts the
RFC (``add`` of an array inserts only its first value, at position 0; ``replace /metadata``
wipes everything). The sandbox reproduces them so the connector is tested against the real
behaviour, not against what the contract promises.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kitab.sandbox.dspace_errors import ApiError
from kitab.sandbox.dspace_store import Dso, MetadataValue
from kitab.sandbox.dspace_version import Flavour

UNSUPPORTED = "This operation is not supported."
PROPERTIES = ("value", "language", "authority", "confidence")


def clean_value(text: str) -> str:
    """DSpace replaces control characters (except tab, LF, CR) by spaces and trims like Java."""
    text = "".join(" " if ord(c) < 32 and c not in "\t\n\r" else c for c in text)
    return text.strip("".join(chr(i) for i in range(33)))


def metadata_value(raw: Any, *, keep_authority: bool = False) -> MetadataValue | None:
    """One value object of a request body; None for a null value (DSpace skips those)."""
    if not isinstance(raw, dict):
        raise ApiError(422, "Error parsing request body")
    value = raw.get("value")
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    if keep_authority:
        confidence = raw.get("confidence")
        return MetadataValue(
            clean_value(value),
            raw.get("language"),
            raw.get("authority"),
            int(confidence) if confidence is not None else 0,
        )
    return MetadataValue(clean_value(value), raw.get("language"))


@dataclass
class PatchContext:
    known_fields: set[str]
    flavour: Flavour
    on_withdraw: Callable[[Dso, bool], None]  # adds provenance; called once per state change


def apply_patch(dso: Dso, operations: Any, ctx: PatchContext) -> Dso:
    """Run ``operations`` in order on a copy of ``dso``; any error leaves ``dso`` untouched."""
    if not isinstance(operations, list):
        raise ApiError(422, "Error parsing request body")
    work = copy.deepcopy(dso)
    for op in operations:
        if not isinstance(op, dict) or not isinstance(op.get("path"), str) or "op" not in op:
            raise ApiError(422, "Error parsing request body")
        _apply_one(work, op, ctx)
    work.metadata = {f: vs for f, vs in work.metadata.items() if vs}
    return work


def _apply_one(dso: Dso, op: dict[str, Any], ctx: PatchContext) -> None:
    name, path = op["op"], op["path"].strip("/").split("/")
    if path[0] == "metadata" and name in ("add", "replace", "remove", "move"):
        _metadata_op(dso, name, path[1:], op, ctx)
    elif name == "replace" and path == ["withdrawn"] and dso.type == "item":
        _withdraw(dso, _boolean(op.get("value")), ctx)
    elif name == "replace" and path == ["discoverable"] and dso.type == "item":
        dso.discoverable = _boolean(op.get("value"))
    else:
        raise ApiError(400, UNSUPPORTED)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError(400, "Boolean value expected")


def _withdraw(dso: Dso, withdraw: bool, ctx: PatchContext) -> None:
    if withdraw == dso.withdrawn:
        return
    if withdraw and not dso.in_archive:
        raise ApiError(422, "Cannot withdraw item when it is not in archive")
    dso.withdrawn, dso.in_archive = withdraw, not withdraw
    ctx.on_withdraw(dso, withdraw)


def _metadata_op(
    dso: Dso, name: str, rest: list[str], op: dict[str, Any], ctx: PatchContext
) -> None:
    if not rest or rest == [""]:
        if name == "replace":  # replace /metadata: everything goes, the value is ignored
            dso.metadata.clear()
            return
        raise ApiError(400, UNSUPPORTED)
    field_name = rest[0]
    if field_name not in ctx.known_fields:
        if ctx.flavour.unknown_field_422:
            raise ApiError(422, "Metadata field does not exist")
        if name == "replace":  # the null field takes the replace-all branch (#9781 era)
            dso.metadata.clear()
            return
        raise ApiError(400, "There was no metadataField found in path of operation")
    values = dso.metadata.setdefault(field_name, [])
    index = rest[1] if len(rest) > 1 else None
    prop = rest[2] if len(rest) > 2 else None
    if name == "add":
        _add(values, index, prop, op.get("value"))
    elif name == "replace":
        _replace(values, index, prop, op.get("value"))
    elif name == "remove":
        _remove(values, index, prop)
    else:
        _move(dso, field_name, op)


def _first_value(raw: Any) -> MetadataValue | None:
    if isinstance(raw, list):
        if not raw:
            raise ApiError(422, "Error parsing request body")
        raw = raw[0]
    return metadata_value(raw)


def _add(values: list[MetadataValue], index: str | None, prop: str | None, raw: Any) -> None:
    if prop is not None:
        raise ApiError(400, UNSUPPORTED)
    value = _first_value(raw)
    if value is None:
        raise ApiError(422, "Error parsing request body")
    if index == "-":
        values.append(value)
        return
    if index is not None:
        _integer(index)
    values.insert(0, value)  # whatever N is, and only value[0] (#12419)


def _replace(values: list[MetadataValue], index: str | None, prop: str | None, raw: Any) -> None:
    if index is None:
        value = _first_value(raw)
        values.clear()
        if value is not None:
            values.append(value)
        return
    position = _integer(index)
    if not 0 <= position < len(values):
        raise ApiError(422, "There is no metadata of this type at that index")
    if prop is None:
        if isinstance(raw, list):
            raw = raw[0] if raw else None
        value = metadata_value(raw, keep_authority=True)
        if value is None:
            raise ApiError(422, "Error parsing request body")
        values[position] = value
        return
    if prop not in PROPERTIES:
        raise ApiError(400, UNSUPPORTED)
    if not isinstance(raw, str):
        raise ApiError(422, "Error parsing request body")
    target = values[position]
    if prop == "confidence":
        try:
            target.confidence = int(raw)
        except ValueError:
            raise ApiError(422, "Error parsing request body") from None
    elif prop == "value":
        target.value = clean_value(raw)
    else:
        setattr(target, prop, raw)


def _remove(values: list[MetadataValue], index: str | None, prop: str | None) -> None:
    if index is None:
        values.clear()
        return
    if prop is not None:
        raise ApiError(400, UNSUPPORTED)
    position = _integer(index)
    if not 0 <= position < len(values):
        raise ApiError(422, "There is no metadata of this type at that index")
    del values[position]


def _move(dso: Dso, field_name: str, op: dict[str, Any]) -> None:
    source = str(op.get("from", "")).strip("/").split("/")
    target = op["path"].strip("/").split("/")
    if len(source) != 3 or len(target) != 3 or source[:2] != target[:2]:
        raise ApiError(400, UNSUPPORTED)
    values = dso.metadata[field_name]
    start, end = _integer(source[2]), _integer(target[2])
    if not (0 <= start < len(values) and 0 <= end < len(values)):
        raise ApiError(422, "There is no metadata of this type at that index")
    values.insert(end, values.pop(start))


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, "The index should be an integer") from None
