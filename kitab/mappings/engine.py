"""Applying a compiled crosswalk to a record: MARC fields in, repository-neutral metadata out.

The record is walked once, field by field, and each field is looked up in the crosswalk's
per-tag rule index; nothing is searched per rule. This keeps mapping cheap next to parsing,
which matters when a catalogue of a million records is converted or re-hashed on every sync.
"""

from __future__ import annotations

import hashlib
import json

import pymarc

from kitab.mappings.crosswalk import Crosswalk, Rule
from kitab.mappings.languages import language_tag
from kitab.model import Flavour, Item, Metadata, Record, Value, identity_value

IDENTITY_FIELD = "dc.identifier.other"

#: Non-filing markers (NSB/NSE, ISO 6630 and MARC 21 alike: "\x98Lo \x9cStato") tell a catalogue
#: which leading article to skip when sorting. In DC they are invisible noise that breaks search
#: and display, so they are removed from every value.
_NON_FILING_MARKS = ("\x88", "\x89", "\x98", "\x9c")
_NON_FILING = str.maketrans("", "", "".join(_NON_FILING_MARKS))


class _Context:
    """Per-record state: the output so far and the record's language (worked out once)."""

    __slots__ = ("_language", "_language_done", "deferred", "flavour", "marc", "metadata")

    def __init__(self, marc: pymarc.Record, flavour: Flavour) -> None:
        self.marc = marc
        self.flavour = flavour
        self.metadata: Metadata = {}
        self.deferred: list[tuple[str, list[Value]]] = []
        self._language: str | None = None
        self._language_done = False

    @property
    def language(self) -> str | None:
        if not self._language_done:
            self._language = _record_language(self.marc, self.flavour)
            self._language_done = True
        return self._language

    def add(self, target: str, value: str, language: str | None) -> None:
        # The same text twice in one field (a 490 and its 830, 260 and its 880 date) says nothing
        # new; the first occurrence, in record order, is kept with its language. Fields hold a
        # handful of values, so a scan is cheaper than keeping a set beside each.
        values = self.metadata.get(target)
        if values is None:
            self.metadata[target] = [Value(value, language)]
            return
        for existing in values:
            if existing.value == value:
                return
        values.append(Value(value, language))


def map_record(record: Record, crosswalk: Crosswalk) -> Metadata:
    """The record's metadata under ``crosswalk``, always carrying its identity value first.

    Field names are DSpace qualified DC names; :func:`kitab.mappings.naming.render` turns them
    into another repository's names.
    """
    marc = record.marc
    context = _Context(marc, record.flavour)
    by_tag = crosswalk.by_tag
    context.add(IDENTITY_FIELD, identity_value(record.key), None)
    leader_rules = by_tag.get("LDR")
    if leader_rules:
        leader = str(marc.leader)
        for rule in leader_rules:
            _apply_fixed(rule, leader, context, None)
    linked = crosswalk.linked_880 and record.flavour is Flavour.MARC21
    for fld in marc.fields:
        tag = fld.tag
        language = None
        if tag == "880" and linked:
            link = fld.get("6")
            if not link:
                continue
            tag = link[:3]
            language = context.language
        rules = by_tag.get(tag)
        if not rules:
            continue
        for rule in rules:
            if rule.is_control:
                data = getattr(fld, "data", None)
                if data is not None:
                    _apply_fixed(rule, data, context, language)
            else:
                _apply_data(rule, fld, context, language)
    for target, values in context.deferred:
        if target not in context.metadata:
            for value in values:
                context.add(target, value.value, value.language)
    return context.metadata


def _emit(
    rule: Rule, text: str | None, context: _Context, language: str | None, deferred: bool
) -> None:
    if not text:
        return
    if deferred:
        context.deferred.append((rule.to, [Value(text, language)]))
    else:
        context.add(rule.to, text, language)


def _transform(rule: Rule, text: str | None) -> str | None:
    for function in rule.functions:
        if text is None:
            return None
        text = function(text)
    if not text:
        return None
    if not text.isascii() and any(mark in text for mark in _NON_FILING_MARKS):
        text = text.translate(_NON_FILING)
    return text.strip() or None


def _apply_fixed(rule: Rule, data: str, context: _Context, language: str | None) -> None:
    """A rule on the leader or a 00X field: character positions, then a code table."""
    if rule.positions is not None:
        first, last = rule.positions
        data = data[first : last + 1]
    if rule.values is not None:
        data = rule.values.get(data, "")
    _emit(rule, _transform(rule, data), context, language, rule.when_empty)


def _apply_data(rule: Rule, fld: pymarc.Field, context: _Context, language: str | None) -> None:
    if rule.ind1 is not None and fld.indicator1 not in rule.ind1:
        return
    if rule.ind2 is not None and fld.indicator2 not in rule.ind2:
        return
    codes = rule.subfields
    if rule.prefer:
        present = {sub.code for sub in fld.subfields}
        for instead, better in rule.prefer.items():
            if better in present:
                codes = codes.replace(instead, "") + better
    pieces = [(sub.code, sub.value) for sub in fld.subfields if sub.code in codes]
    if not pieces:
        return
    if rule.positions is not None:
        first, last = rule.positions
        pieces = [(code, text[first : last + 1]) for code, text in pieces]
    if rule.values is not None:
        pieces = [(code, rule.values.get(text, "")) for code, text in pieces]
    if rule.language == "record":
        language = context.language
    tags: list[str] = []
    if rule.language_subfield is not None:
        tags = [sub.value for sub in fld.subfields if sub.code == rule.language_subfield]
    if rule.split:
        for n, (_, text) in enumerate(pieces):
            tag = language_tag(tags[n]) if n < len(tags) else language
            _emit(rule, _transform(rule, text), context, tag, rule.when_empty)
        return
    if tags:
        language = language_tag(tags[0])
    _emit(rule, _joined(rule, pieces), context, language, rule.when_empty)


def _joined(rule: Rule, pieces: list[tuple[str, str]]) -> str | None:
    """One value from several subfields, with the rule's separators between them."""
    if not rule.per_subfield and not rule.separators:
        return _transform(rule, rule.join.join(text for _, text in pieces))
    parts: list[str] = []
    for code, text in pieces:
        clean = _transform(rule, text) if rule.per_subfield else text
        if not clean:
            continue
        if parts:
            parts.append(rule.separators.get(code, rule.join))
        parts.append(clean)
    joined = "".join(parts)
    return joined if rule.per_subfield else _transform(rule, joined)


def _record_language(marc: pymarc.Record, flavour: Flavour) -> str | None:
    """The language tag the record gives for its text, used on 880 values and titles.

    MARC 21: 008/35-37, else the first 041 $a. UNIMARC: 101 $g (language of the title proper),
    else 101 $a when the record names a single language: with several, which one the title is
    in is a guess, and an untagged value is better than a wrongly tagged one.
    """
    if flavour is Flavour.MARC21:
        for fld in marc.get_fields("008"):
            tag = language_tag(fld.data[35:38])
            if tag:
                return tag
        for fld in marc.get_fields("041"):
            tag = language_tag(fld.get("a"))
            if tag:
                return tag
        return None
    for fld in marc.get_fields("101"):
        title = fld.get_subfields("g")
        if title:
            return language_tag(title[0])
        text = fld.get_subfields("a")
        if len(text) == 1:
            return language_tag(text[0])
    return None


def record_to_item(record: Record, crosswalk: Crosswalk) -> Item:
    """The repository item for a record; files are matched to it later, by the sync engine."""
    return Item(key=record.key, metadata=map_record(record, crosswalk))


def metadata_hash(metadata: Metadata) -> str:
    """A stable fingerprint of mapped metadata, for change detection between syncs.

    Fields are sorted by name (their order in a dict carries no meaning) while the values within
    a field keep their order (the first author is the first author). Canonical JSON, sha256.
    """
    canonical = [
        [name, [[v.value, v.language] for v in metadata[name]]]
        for name in sorted(metadata)
        if metadata[name]
    ]
    text = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
