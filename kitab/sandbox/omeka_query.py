"""Reading Omeka S search parameters the way PHP and Omeka S read them.

Why a PHP-style parser: Omeka S gets ``property[0][type]=eq`` and ``id[]=2`` as nested arrays
from PHP, and a raw ``+`` in ``modified_after=…+00:00`` arrives as a space. The quirks clients
trip over (a date that fails to parse gives an *empty result*, not an error) live in these rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kitab.sandbox.omeka_vocab import PROPERTY_BY_TERM

KEY = re.compile(r"^([^\[]+)((?:\[[^\]]*\])*)$")
SEGMENT = re.compile(r"\[([^\]]*)\]")
DEFAULT_PER_PAGE = 25

# DateTime::ISO8601 first, then the "!Y-m-d\TH:i:s" … "!Y" granularities, as Omeka S tries them.
DATE = re.compile(
    r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2})(?:T(\d{1,2})(?::(\d{1,2})"
    r"(?::(\d{1,2})(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?)?)?$"
)
DATE_FILTERS = {
    "created_before": ("created", "<"),
    "created_after": ("created", ">"),
    "modified_before": ("modified", "<"),
    "modified_after": ("modified", ">"),
}
POSITIVE_TYPES = ("eq", "in", "sw", "ew", "res", "ex")
NEGATIVE_TYPES = ("neq", "nin", "nsw", "new", "nres", "nex")


def php_params(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``a[0][b]=x&a[]=y`` → nested dicts, later scalars overwriting earlier ones, as PHP does."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        match = KEY.match(key)
        if not match:
            result[key] = value
            continue
        path = [match.group(1), *SEGMENT.findall(match.group(2))]
        target = result
        for depth, name in enumerate(path):
            if name == "" and depth:
                name = str(len(target))
            if depth == len(path) - 1:
                target[name] = value
            else:
                child = target.get(name)
                if not isinstance(child, dict):
                    child = target[name] = {}
                target = child
    return result


def scalars(value: Any) -> list[Any]:
    """A parameter sent once or as an array, flattened to its scalar members."""
    if isinstance(value, dict):
        return [v for v in value.values() if not isinstance(v, dict)]
    return [] if value is None else [value]


def ints(value: Any) -> list[int]:
    return [int(v) for v in scalars(value) if isinstance(v, str) and v.strip().isdigit()]


def parse_date(text: Any) -> str | None:
    """A database stamp to compare with, or None when the text is no accepted format.

    The offset is parsed but not applied: Doctrine writes a DateTime's wall-clock time into the
    query, and the columns hold UTC, so every date is in effect taken as UTC.
    """
    if not isinstance(text, str):
        return None
    match = DATE.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    if offset is not None and second is None:
        return None
    try:
        moment = datetime(
            int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
            int(second or 0),
        )  # fmt: skip
    except ValueError:
        return None
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def page_numbers(query: dict[str, Any]) -> tuple[int, int]:
    """(page, per_page); ``limit``/``offset`` are overridden by the page in the REST API."""

    def number(name: str, default: int) -> int:
        raw = query.get(name)
        if isinstance(raw, str) and raw.strip().isdigit() and int(raw) > 0:
            return int(raw)
        return default

    return number("page", 1), number("per_page", DEFAULT_PER_PAGE)


@dataclass
class Filter:
    """WHERE clauses (ANDed) and their parameters for one search on the resource table."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses) or "1"


def resource_filter(kind: str, query: dict[str, Any], anonymous: bool) -> Filter:
    """Everything Omeka S filters items, media and item sets on (section 1.3 of the notes)."""
    where = Filter()
    where.add("r.resource_type = ?", kind)
    if anonymous:
        where.add("r.is_public = 1")
        if kind == "media":
            where.add(
                "EXISTS (SELECT 1 FROM resource i WHERE i.id = r.item_id AND i.is_public = 1)"
            )
    if "id" in query:
        ids = ints(query["id"])
        where.add(f"r.id IN ({','.join('?' * len(ids)) or 'NULL'})", *ids)
    for name, column in (
        ("owner_id", "owner_id"),
        ("resource_class_id", "resource_class_id"),
        ("resource_template_id", "resource_template_id"),
    ):
        if scalars(query.get(name)):
            values = ints(query[name])
            where.add(f"r.{column} IN ({','.join('?' * len(values)) or 'NULL'})", *values)
    if query.get("is_public") in ("0", "1"):
        where.add("r.is_public = ?", int(query["is_public"]))
    for name, (column, operator) in DATE_FILTERS.items():
        if name in query:
            stamp = parse_date(query[name])
            if stamp is None:
                where.add("0")  # Omeka binds NULL: no row compares true, no error either
            else:
                where.add(f"r.{column} {operator} ?", stamp)
    rows = list(scalars_of_rows(query.get("property")))
    for name in ("search", "fulltext_search"):
        text = query.get(name)
        if isinstance(text, str) and text.strip():
            rows.append({"property": "", "type": "in", "text": text})
    if rows:
        _property_filter(where, rows, anonymous)
    _kind_filters(where, kind, query)
    return where


def scalars_of_rows(value: Any) -> Iterable[dict[str, Any]]:
    if isinstance(value, dict):
        yield from (row for row in value.values() if isinstance(row, dict))


def _kind_filters(where: Filter, kind: str, query: dict[str, Any]) -> None:
    if kind == "items":
        if scalars(query.get("item_set_id")):
            ids = ints(query["item_set_id"])
            where.add(
                "EXISTS (SELECT 1 FROM item_item_set s WHERE s.item_id = r.id AND "
                f"s.item_set_id IN ({','.join('?' * len(ids)) or 'NULL'}))",
                *ids,
            )
        if scalars(query.get("site_id")):
            ids = ints(query["site_id"])
            where.add(
                "EXISTS (SELECT 1 FROM item_site s WHERE s.item_id = r.id AND "
                f"s.site_id IN ({','.join('?' * len(ids)) or 'NULL'}))",
                *ids,
            )
    elif kind == "media":
        for name in ("item_id",):
            if scalars(query.get(name)):
                ids = ints(query[name])
                where.add(f"r.item_id IN ({','.join('?' * len(ids)) or 'NULL'})", *ids)
        for name in ("media_type", "ingester", "renderer"):
            if isinstance(query.get(name), str) and query[name]:
                where.add(f"r.{name} = ?", query[name])
    elif kind == "item_sets" and query.get("is_open") in ("0", "1"):
        where.add("r.is_open = ?", int(query["is_open"]))


def _property_ids(value: Any) -> list[int] | None:
    """None means any property (0 or ""); an unknown term matches no property at all."""
    wanted = scalars(value)
    if not wanted or all(v in ("", "0", 0) for v in wanted):
        return None
    ids = []
    for v in wanted:
        if isinstance(v, str) and v.isdigit():
            ids.append(int(v))
        elif isinstance(v, str) and v in PROPERTY_BY_TERM:
            ids.append(PROPERTY_BY_TERM[v].id)
    return ids or [-1]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


MATCHED = (
    "v.value",
    "v.uri",
    "(SELECT t.title FROM resource t WHERE t.id = v.value_resource_id)",
)


def _condition(kind: str, text: str) -> tuple[str, list[Any]]:
    if kind == "ex":
        return "1", []
    if kind == "res":
        return "v.value_resource_id = ?", [int(text) if text.strip().isdigit() else -1]
    if kind == "eq":
        return " OR ".join(f"fold({c}) = fold(?)" for c in MATCHED), [text] * len(MATCHED)
    pattern = {"in": "%{}%", "sw": "{}%", "ew": "%{}"}[kind].format(_escape_like(text))
    sql = " OR ".join(f"fold({c}) LIKE fold(?) ESCAPE '\\'" for c in MATCHED)
    return sql, [pattern] * len(MATCHED)


def _property_filter(where: Filter, rows: list[dict[str, Any]], anonymous: bool) -> None:
    """One EXISTS / NOT EXISTS per row, joined by each row's joiner, as Omeka 4 builds them."""
    parts: list[str] = []
    params: list[Any] = []
    for row in rows:
        kind = row.get("type", "eq")
        text = row.get("text", "")
        if kind not in POSITIVE_TYPES + NEGATIVE_TYPES or not isinstance(text, str):
            continue
        positive = kind in POSITIVE_TYPES
        base = kind if positive else kind[1:]
        if base != "ex" and text == "":
            continue
        condition, values = _condition(base, text)
        sub = f"SELECT 1 FROM value v WHERE v.resource_id = r.id AND ({condition})"
        ids = _property_ids(row.get("property"))
        if ids is not None:
            sub += f" AND v.property_id IN ({','.join('?' * len(ids))})"
            values = values + ids
        if anonymous:
            sub += " AND v.is_public = 1"
        predicate = f"{'' if positive else 'NOT '}EXISTS ({sub})"
        if parts:
            parts.append("OR" if row.get("joiner") == "or" else "AND")
        parts.append(predicate)
        params.extend(values)
    if parts:
        where.add(f"({' '.join(parts)})", *params)


def order_by(query: dict[str, Any]) -> tuple[str, list[Any]]:
    """ORDER BY for sort_by/sort_order; an unknown sort_by is silently ignored."""
    direction = "DESC" if str(query.get("sort_order", "")).lower() == "desc" else "ASC"
    sort_by = query.get("sort_by", "id")
    if sort_by in ("created", "modified", "title"):
        return f"r.{sort_by} {direction}, r.id ASC", []
    if isinstance(sort_by, str) and sort_by in PROPERTY_BY_TERM:
        column = (
            "(SELECT MIN(v.value) FROM value v WHERE v.resource_id = r.id AND v.property_id = ?)"
        )
        return f"{column} {direction}, r.id ASC", [PROPERTY_BY_TERM[sort_by].id]
    return f"r.id {direction if sort_by == 'id' else 'ASC'}", []
