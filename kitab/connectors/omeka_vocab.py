"""Names to ids: property and class terms, templates, item sets and sites, asked once per run.

Ids differ between installations (a vocabulary imported in another order shifts them all), so
none is written into kitab; each name is looked up the first time it is needed and remembered
for the rest of the run. Lookups happen under one lock because the connector is shared by the
sync engine's worker threads and a name should cost one request, not one per thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from kitab.connectors.base import Conflict, NotFound
from kitab.connectors.omeka_api import OmekaApi
from kitab.connectors.omeka_json import JsonObject

#: An item set, template or site: an id (int, or a string of digits) or a label/slug.
Ref = int | str


class Vocabulary:
    """The run's cache of Omeka ids."""

    def __init__(self, api: OmekaApi) -> None:
        self._api = api
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], int] = {}

    def _cached(self, kind: str, name: str, lookup: Callable[[], int]) -> int:
        with self._lock:
            if (kind, name) not in self._cache:
                self._cache[(kind, name)] = lookup()
            return self._cache[(kind, name)]

    def property_id(self, term: str) -> int:
        """Id of a property term such as ``dcterms:title``. An unknown term is refused here,
        because Omeka answers an unknown property id with a raw SQL error."""
        return self._cached("property", term, lambda: self._by_term("properties", term))

    def resource_class_id(self, term: str) -> int:
        return self._cached("class", term, lambda: self._by_term("resource_classes", term))

    def _by_term(self, resource: str, term: str) -> int:
        found = [
            r for r in self._api.call("GET", resource, params=[("term", term)]) if _is(r, term)
        ]
        if not found:
            what = "property" if resource == "properties" else "resource class"
            raise NotFound(
                f"Omeka S has no {what} {term!r} (is its vocabulary imported?)",
                method="GET",
                path=f"/api/{resource}",
            )
        return int(found[0]["o:id"])

    def resource_template_id(self, ref: Ref) -> int:
        if (number := _as_id(ref)) is not None:
            return number
        label = str(ref)
        return self._cached(
            "template",
            label,
            lambda: self._unique(
                "resource_templates",
                [("label", label)],
                lambda r: r.get("o:label") == label,
                f"resource template labelled {label!r}",
            ),
        )

    def item_set_id(self, ref: Ref) -> int:
        """An item set by id or by its exact title (Omeka's title search ignores case)."""
        if (number := _as_id(ref)) is not None:
            return number
        title = str(ref)

        def lookup() -> int:
            params = [
                ("property[0][property]", self._title_id()),
                ("property[0][type]", "eq"),
                ("property[0][text]", title),
            ]
            return self._unique(
                "item_sets", params, lambda r: r.get("o:title") == title, f"item set {title!r}"
            )

        return self._cached("item_set", title, lookup)

    def _title_id(self) -> int:
        # Called inside another lookup, already under the lock: fill the cache directly.
        key = ("property", "dcterms:title")
        if key not in self._cache:
            self._cache[key] = self._by_term("properties", "dcterms:title")
        return self._cache[key]

    def site_id(self, ref: Ref) -> int:
        """A site by id, slug or title (sites are few: the list is read whole)."""
        if (number := _as_id(ref)) is not None:
            return number
        name = str(ref)
        return self._cached(
            "site",
            name,
            lambda: self._unique(
                "sites",
                [],
                lambda r: name in (r.get("o:slug"), r.get("o:title")),
                f"site {name!r}",
            ),
        )

    def _unique(
        self,
        resource: str,
        params: list[tuple[str, str | int]],
        match: Callable[[JsonObject], bool],
        what: str,
    ) -> int:
        found = [r for page in self._api.pages(resource, params, 100) for r in page if match(r)]
        if not found:
            raise NotFound(f"Omeka S has no {what}", method="GET", path=f"/api/{resource}")
        if len(found) > 1:
            ids = ", ".join(str(r["o:id"]) for r in found)
            raise Conflict(
                f"Omeka S has several {what}s (ids {ids}); name one by id",
                method="GET",
                path=f"/api/{resource}",
            )
        return int(found[0]["o:id"])


def _is(resource: JsonObject, term: str) -> bool:
    return resource.get("o:term") == term


def _as_id(ref: Ref) -> int | None:
    if isinstance(ref, int):
        return ref
    return int(ref) if ref.strip().isdigit() else None
