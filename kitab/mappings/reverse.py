"""Reverse crosswalks: a repository edit written into the original MARC record.

The crosswalk is read backwards, one DC field at a time. The record's current values of that
field are traced to the fields and subfields they came from (the n-th ``dc.subject`` to the
field that gave it), lined up with the wanted values, and then:

* an edited value rewrites the subfields its rule reads, keeping indicators, the subfields no
  rule maps ($6, $8, $2, local ones) and the punctuation around the text;
* a removed value removes its field when nothing else is in it, else only its subfields (noted);
* an added value goes where the value before it (or after it) lives: a new subfield of the same
  field for rules that read each subfield as a value (041 $a), otherwise a new field of the same
  rule beside it, shaped like it. With no neighbour, the field must have one writable rule.

Every field is then checked by mapping the record again: the field must map to exactly the
wanted values and no other field may have moved. Anything else is undone and reported, so an
edit is never placed by a silent guess. Values read from the leader, control-field positions
or code tables (008 dates and languages, the leader's type) are not written back.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher

import pymarc

from kitab.mappings.crosswalk import Crosswalk, Rule
from kitab.mappings.engine import IDENTITY_FIELD, map_record
from kitab.mappings.reverse_edit import anatomy, new_field, remove_subfields, rewrite
from kitab.mappings.reverse_sources import Source, Traced, pieces_of, trace
from kitab.model import Flavour, Metadata, Record, Value, identity_value


@dataclass(slots=True)
class ReverseResult:
    """The edited record (a copy) and what became of each changed field."""

    marc: pymarc.Record
    applied: list[str] = field(default_factory=list)  # fields written into the record
    problems: list[str] = field(default_factory=list)  # changes left out, and why
    unchanged: list[str] = field(default_factory=list)  # asked for, but already so
    notes: list[str] = field(default_factory=list)  # applied, with something worth knowing


class _Refused(Exception):
    """This field's change cannot be placed in MARC; the message says why."""


def owned_fields(crosswalk: Crosswalk) -> set[str]:
    """The neutral fields this crosswalk produces (the identity field always)."""
    return {rule.to for rule in crosswalk.rules} | {IDENTITY_FIELD}


def apply_changes(record: Record, crosswalk: Crosswalk, changes: Metadata) -> ReverseResult:
    """Write ``changes`` (field → its complete new values) into a copy of ``record.marc``.

    Guarantee: for every field in ``result.applied``, mapping the result with ``crosswalk``
    gives exactly ``changes[field]``, and every other mapped field is as it was.
    """
    work = copy.deepcopy(record.marc)
    result = ReverseResult(work)
    before = map_record(replace(record, marc=work), crosswalk)
    owned = owned_fields(crosswalk)
    for name, wanted in changes.items():
        if name not in owned:
            result.problems.append(f"{name}: {crosswalk.name} maps nothing to it")
            continue
        target = _own_values(name, wanted, record.key)
        current = _own_values(name, before.get(name, []), record.key)
        if target == current:
            result.unchanged.append(name)
            continue
        snapshot = copy.deepcopy(result.marc)
        try:
            notes = _apply_field(result.marc, record.flavour, crosswalk, name, current, target)
        except _Refused as why:
            result.marc = snapshot
            result.problems.append(f"{name}: {why}")
            continue
        after = map_record(replace(record, marc=result.marc), crosswalk)
        wrong = _check(after, before, name, target, record.key)
        if wrong:
            result.marc = snapshot
            result.problems.append(f"{name}: not written back, {wrong}")
            continue
        before = after
        result.applied.append(name)
        result.notes.extend(f"{name}: {note}" for note in notes)
    return result


def _own_values(name: str, values: list[Value], key: str) -> list[Value]:
    """The values that come from MARC: kitab's identity value is not in the record."""
    if name != IDENTITY_FIELD:
        return list(values)
    identity = identity_value(key)
    return [v for v in values if v.value != identity]


def _check(after: Metadata, before: Metadata, name: str, target: list[Value], key: str) -> str:
    got = _own_values(name, after.get(name, []), key)
    if got != target:
        shown = [(v.value, v.language) if v.language else v.value for v in got]
        return f"the record would map to {shown}"
    moved = sorted(
        other
        for other in set(before) | set(after)
        if other != name and before.get(other, []) != after.get(other, [])
    )
    return f"it would also change {', '.join(moved)}" if moved else ""


def _apply_field(
    marc: pymarc.Record,
    flavour: Flavour,
    crosswalk: Crosswalk,
    name: str,
    current: list[Value],
    target: list[Value],
) -> list[str]:
    traced = trace(marc, flavour, crosswalk, name)
    if [t.value for t in traced] != current:
        raise _Refused("its values cannot be traced to the fields they came from")
    notes: list[str] = []
    edits: list[tuple[Traced, str | None]] = []  # (value, new text) or (value, None): remove
    matcher = _matcher(current, target)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("replace", "delete"):
            pairs = min(i2 - i1, j2 - j1) if op == "replace" else 0
            edits.extend((traced[i1 + n], target[j1 + n].value) for n in range(pairs))
            edits.extend((traced[i], None) for i in range(i1 + pairs, i2))
    for item, _ in edits:
        if not item.writable:
            where = ", ".join(_place(s) for s in item.sources if not s.writable)
            raise _Refused(f"{item.value.value!r} comes from {where}, which kitab does not write")
    # One step per source, from the last subfield back, so positions not yet used stay valid.
    steps = [(source, item, text) for item, text in edits for source in item.sources]
    steps.sort(key=lambda step: max(step[0].subfields), reverse=True)
    emptied: dict[int, tuple[pymarc.Field, str]] = {}
    for source, item, text in steps:
        fld = source.fld
        assert fld is not None  # writable sources are data fields
        if text is None:
            what = f"{item.value.value!r} removed from {_place(source)}"
            pieces = {k: anatomy(source.rule, k, fld.subfields[k]) for k in _all_read(source)}
            remove_subfields(fld, list(pieces), pieces)
            emptied.setdefault(id(fld), (fld, what))
        elif not rewrite(fld, source, item.value.value, text):
            raise _Refused(f"{_place(source)} cannot be split into its subfields for {text!r}")
    for fld, what in emptied.values():
        if _only_links(fld.subfields):
            marc.remove_field(fld)
        else:
            kept = "".join("$" + s.code for s in fld.subfields)
            notes.append(f"{what}; the field stays for its other subfields ({kept})")
    traced = trace(marc, flavour, crosswalk, name)
    now = [t.value for t in traced]
    matcher = _matcher(now, target)
    blocks = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    if any(op[0] != "insert" for op in blocks):
        return notes  # the check after this reports what did not come out right
    for _, i1, _, j1, j2 in reversed(blocks):
        if i1 > 0:
            anchor, after = traced[i1 - 1], True
        else:
            anchor, after = (traced[0] if traced else None), False
        _insert(marc, flavour, crosswalk, name, anchor, after, [v.value for v in target[j1:j2]])
    return notes


def _matcher(old: list[Value], new: list[Value]) -> SequenceMatcher:
    return SequenceMatcher(None, [v.value for v in old], [v.value for v in new], autojunk=False)


def _all_read(source: Source) -> list[int]:
    """The subfields a removed value takes with it: those read, and those ``prefer`` passed
    over ($b when $g was read), which would otherwise come to be read in their place."""
    assert source.fld is not None
    rule = source.rule
    if rule.split:
        return list(source.subfields)
    codes = rule.subfields + "".join(rule.prefer.values())
    return [k for k, sub in enumerate(source.fld.subfields) if sub.code in codes]


def _only_links(subfields: list[pymarc.Subfield]) -> bool:
    """Only numeric subfields left ($6 linkage, $2 source, $4 relator...): nothing to say."""
    return all(s.code.isdigit() for s in subfields)


def _place(source: Source) -> str:
    if source.fld is None:
        return "the leader"
    rule = source.rule
    if rule.positions is not None:
        first, last = rule.positions
        return f"{source.fld.tag}/{first:02d}-{last:02d}" if last > first else f"{first:02d}"
    codes = "".join("$" + source.fld.subfields[k].code for k in source.subfields)
    return f"{source.fld.tag} {codes}".strip() + (" (coded)" if rule.values else "")


def _writable_rules(crosswalk: Crosswalk, name: str) -> list[Rule]:
    return [
        r
        for r in crosswalk.rules
        if r.to == name and not r.is_control and r.positions is None and r.values is None
    ]


def _insert(
    marc: pymarc.Record,
    flavour: Flavour,
    crosswalk: Crosswalk,
    name: str,
    anchor: Traced | None,
    after: bool,
    texts: list[str],
) -> None:
    """Add new values next to ``anchor``: in its field for one-value-per-subfield rules."""
    source = next((s for s in anchor.sources if s.writable), None) if anchor else None
    if source is not None and source.fld is not None and source.fld.tag != "880":
        rule, home = source.rule, source.fld
    else:
        rules = _writable_rules(crosswalk, name)
        if len(rules) != 1:
            tags = ", ".join(sorted({r.tag for r in rules})) or "none"
            raise _Refused(
                f"a new value could go to several fields ({tags}); add it in the catalogue"
            )
        rule = rules[0]
        home = next((f for f in marc.fields if f.tag == rule.tag and pieces_of(rule, f)), None)
    if rule.split and home is not None:
        if source is not None:
            at = source.subfields[0] + (1 if after else 0)
        else:
            at = pieces_of(rule, home)[-1] + 1
        for n, text in enumerate(texts):
            home.subfields.insert(at + n, pymarc.Subfield(rule.subfields[0], text))
        return
    if _non_repeatable(flavour, rule.tag) and any(f.tag == rule.tag for f in marc.fields):
        raise _Refused(f"{rule.tag} is not repeatable and the record has one")
    template = home if home is not None and home.tag == rule.tag else None
    fields = [new_field(rule, text, template, flavour) for text in texts]
    position = _position(marc, rule.tag, home if source is not None else None, after)
    marc.fields[position:position] = fields


#: Tags a record holds once; a second value for them cannot become a second field.
_NON_REPEATABLE = {
    Flavour.MARC21: {"100", "110", "111", "130", "240", "245", "250", "300"},
    Flavour.UNIMARC: {"100", "101", "200", "210", "215", "700", "710"},
}


def _non_repeatable(flavour: Flavour, tag: str) -> bool:
    return tag in _NON_REPEATABLE[flavour]


def _position(marc: pymarc.Record, tag: str, anchor: pymarc.Field | None, after: bool) -> int:
    """Beside the anchor field when it has the same tag, else in tag order."""
    fields = marc.fields
    if anchor is not None and anchor.tag == tag:
        index = next(i for i, f in enumerate(fields) if f is anchor)
        return index + 1 if after else index
    position = 0
    for i, fld in enumerate(fields):
        if fld.tag != "880" and fld.tag <= tag:
            position = i + 1
    return position
