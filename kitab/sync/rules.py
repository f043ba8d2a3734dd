"""Routing and rights rules from kitab.toml, evaluated against a catalogue record."""

from __future__ import annotations

from collections.abc import Sequence

from kitab.config import Condition, RightsRule, Route
from kitab.model import Record


def holds(condition: Condition, record: Record) -> bool:
    """True when every part of the condition holds for the record."""
    marc = record.marc
    if condition.record_type is not None:
        leader = str(marc.leader)
        if not leader[6:8].startswith(condition.record_type):
            return False
    if condition.field is None:
        return True
    tag, _, code = condition.field.partition("$")
    if tag < "010":
        values = [f.data for f in marc.get_fields(tag)]
    else:
        values = [
            v
            for f in marc.get_fields(tag)
            for v in (f.get_subfields(code) if code else [f.value()])
        ]
    if condition.equals is not None:
        return any(v.strip() == condition.equals for v in values)
    if condition.matches is not None:
        return any(condition.matches.search(v) for v in values)
    return bool(values)


def route(routes: Sequence[Route], record: Record, default: str | None) -> str | None:
    """The collection / item set of the first route whose condition holds."""
    for rule in routes:
        if holds(rule.when, record):
            return rule.container
    return default


def rights(rules: Sequence[RightsRule], record: Record) -> tuple[bool, bool]:
    """(item public, files public) from the first rights rule whose condition holds."""
    for rule in rules:
        if holds(rule.when, record):
            return rule.item == "public", rule.files == "public" and rule.item == "public"
    return True, True
