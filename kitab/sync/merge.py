"""Field-level comparison of three versions of an item's metadata: base, catalogue, repository.

The base is what kitab last wrote (kept in the state store). A field the catalogue changed and
the repository did not is the catalogue's to write; a field the repository changed and the
catalogue did not is the repository's (it comes back on pull); a field both changed, to
different values, is a conflict that nobody overwrites silently.

When kitab writes a field it replaces only the values it owns (those it wrote last time): a
value a cataloguer added to the same field in the repository (a second subject, the handle in
``dc.identifier.uri``) stays.
"""

from __future__ import annotations

from dataclasses import dataclass

from kitab.model import Metadata, Value


def same(a: list[Value], b: list[Value]) -> bool:
    """Equal as a repository stores them: trimmed, language-insensitive to case."""
    return _norm(a) == _norm(b)


def _norm(values: list[Value]) -> list[tuple[str, str | None]]:
    return [(v.value.strip(), v.language.lower() if v.language else None) for v in values]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field as it was last synced and as it is now, on the side that changed it."""

    field: str
    old: list[Value]
    new: list[Value]


@dataclass(frozen=True, slots=True)
class Conflict:
    """The same field changed on both sides since the last sync."""

    field: str
    base: list[Value]
    catalogue: list[Value]
    repository: list[Value]


def changed_fields(base: Metadata, current: Metadata) -> list[FieldChange]:
    """Fields whose values differ between base and current, in a stable order."""
    names = list(dict.fromkeys([*current, *base]))
    return [
        FieldChange(name, base.get(name, []), current.get(name, []))
        for name in names
        if not same(base.get(name, []), current.get(name, []))
    ]


def values_to_write(base: list[Value], new: list[Value], remote: list[Value]) -> list[Value]:
    """The field's final values: kitab's new values, then the repository's own extra values.

    A remote value kitab never wrote (not in ``base``) and does not write now is kept, after
    kitab's values, in the repository's order.
    """
    owned = set(_norm(base)) | set(_norm(new))
    extras = [v for v, n in zip(remote, _norm(remote), strict=True) if n not in owned]
    return [*new, *extras]


def repository_edited(base: list[Value], remote: list[Value]) -> bool:
    """True when a value kitab wrote is no longer in the repository (edited or removed there).

    Values a cataloguer *added* beside kitab's are not an edit of kitab's values: they merge.
    """
    remote_norm = set(_norm(remote))
    return any(n not in remote_norm for n in _norm(base))
