"""Where each mapped value came from: the MARC field, the rule and the subfields behind it.

Writing a repository edit back needs to know, for the n-th value of ``dc.subject``, which field
and which of its subfields produced it. This walks the record exactly as the engine does (same
880 linkage, indicator filters, ``prefer``, duplicates folded into the first value, ``when-empty``
values last) and uses the engine's own value functions, so the texts are the engine's texts;
the caller still checks them against :func:`map_record` before trusting the trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pymarc

from kitab.mappings.crosswalk import Crosswalk, Rule
from kitab.mappings.engine import _apply_fixed, _joined, _record_language, _transform
from kitab.mappings.languages import language_tag
from kitab.model import Flavour, Value


@dataclass(frozen=True, slots=True)
class Source:
    """One place a value was read from: a field of the record and the subfields used.

    ``subfields`` are positions in ``fld.subfields``; empty for the leader and control fields.
    """

    fld: pymarc.Field | None  # None: the leader
    rule: Rule
    subfields: tuple[int, ...] = ()

    @property
    def writable(self) -> bool:
        """Text that can be written back: subfields taken whole, no positions or code table."""
        return bool(self.subfields) and self.rule.positions is None and self.rule.values is None


@dataclass(slots=True)
class Traced:
    """A mapped value and every source that gave it (a duplicate adds a source, not a value)."""

    value: Value
    sources: list[Source] = field(default_factory=list)

    @property
    def writable(self) -> bool:
        return all(source.writable for source in self.sources)


class _Collector:
    """Stands in for the engine's per-record context to catch what a fixed rule emits."""

    __slots__ = ("deferred", "emitted")

    def __init__(self) -> None:
        self.emitted: list[tuple[str, str | None]] = []
        self.deferred: list[tuple[str, list[Value]]] = []

    def add(self, target: str, value: str, language: str | None) -> None:
        self.emitted.append((value, language))


class _Language:
    """The record's language tag, worked out once and only when a rule needs it."""

    def __init__(self, marc: pymarc.Record, flavour: Flavour) -> None:
        self.marc, self.flavour, self.done, self.tag = marc, flavour, False, None

    def __call__(self) -> str | None:
        if not self.done:
            self.tag, self.done = _record_language(self.marc, self.flavour), True
        return self.tag


def trace(marc: pymarc.Record, flavour: Flavour, crosswalk: Crosswalk, name: str) -> list[Traced]:
    """The values ``name`` maps to in this record, in order, each with its sources."""
    out: list[Traced] = []
    by_text: dict[str, Traced] = {}
    deferred: list[tuple[Value, Source]] = []
    record_language = _Language(marc, flavour)

    def add(value: Value, source: Source, later: bool) -> None:
        if later:
            deferred.append((value, source))
        elif value.value in by_text:
            by_text[value.value].sources.append(source)
        else:
            by_text[value.value] = traced = Traced(value, [source])
            out.append(traced)

    for rule in crosswalk.by_tag.get("LDR", ()):
        if rule.to == name:
            for text, language in _fixed(rule, str(marc.leader), None):
                add(Value(text, language), Source(None, rule), rule.when_empty)
    linked = crosswalk.linked_880 and flavour is Flavour.MARC21
    for fld in marc.fields:
        tag, language = fld.tag, None
        if tag == "880" and linked:
            link = fld.get("6")
            if not link:
                continue
            tag, language = link[:3], record_language()
        for rule in crosswalk.by_tag.get(tag, ()):
            if rule.to != name:
                continue
            if rule.is_control:
                data = getattr(fld, "data", None)
                for text, lang in _fixed(rule, data, language) if data is not None else ():
                    add(Value(text, lang), Source(fld, rule), rule.when_empty)
                continue
            for text, lang, positions in _data_values(rule, fld, language, record_language):
                add(Value(text, lang), Source(fld, rule, positions), rule.when_empty)
    if not out:
        for value, source in deferred:
            add(value, source, later=False)
    return out


def _fixed(rule: Rule, data: str, language: str | None) -> list[tuple[str, str | None]]:
    collector = _Collector()
    _apply_fixed(rule, data, collector, language)  # type: ignore[arg-type]
    return collector.emitted + [(v.value, v.language) for _, vs in collector.deferred for v in vs]


def pieces_of(rule: Rule, fld: pymarc.Field) -> list[int]:
    """Positions of the subfields a data-field rule reads, ``prefer`` applied as the engine does."""
    codes = rule.subfields
    if rule.prefer:
        present = {sub.code for sub in fld.subfields}
        for instead, better in rule.prefer.items():
            if better in present:
                codes = codes.replace(instead, "") + better
    return [k for k, sub in enumerate(fld.subfields) if sub.code in codes]


def _data_values(
    rule: Rule, fld: pymarc.Field, language: str | None, record_language: _Language
) -> list[tuple[str, str | None, tuple[int, ...]]]:
    """What :func:`kitab.mappings.engine._apply_data` emits, with the subfields behind each."""
    if rule.ind1 is not None and fld.indicator1 not in rule.ind1:
        return []
    if rule.ind2 is not None and fld.indicator2 not in rule.ind2:
        return []
    chosen = pieces_of(rule, fld)
    if not chosen:
        return []
    pieces = [(fld.subfields[k].code, fld.subfields[k].value) for k in chosen]
    if rule.positions is not None:
        first, last = rule.positions
        pieces = [(code, text[first : last + 1]) for code, text in pieces]
    if rule.values is not None:
        pieces = [(code, rule.values.get(text, "")) for code, text in pieces]
    if rule.language == "record":
        language = record_language()
    tags: list[str] = []
    if rule.language_subfield is not None:
        tags = [sub.value for sub in fld.subfields if sub.code == rule.language_subfield]
    out: list[tuple[str, str | None, tuple[int, ...]]] = []
    if rule.split:
        for n, ((_, text), k) in enumerate(zip(pieces, chosen, strict=True)):
            tag = language_tag(tags[n]) if n < len(tags) else language
            value = _transform(rule, text)
            if value:
                out.append((value, tag, (k,)))
        return out
    if tags:
        language = language_tag(tags[0])
    value = _joined(rule, pieces)
    return [(value, language, tuple(chosen))] if value else []
