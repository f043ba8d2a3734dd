"""Writing one value into the subfields a rule reads, keeping the record's own punctuation.

A MARC subfield holds the mapped text plus the ISBD punctuation around it ("Kitabi Dədə
Qorqud :" before $b, "dastanlar /" before $c). Each piece is taken apart into prefix, core
(what the rule maps) and suffix, the new text replaces the core, and the prefix and suffix the
cataloguer typed stay. When a piece disappears, the punctuation it carried moves to the piece
before it ("Title :$bsub /$c…" without its $b becomes "Title /$c…"), which is what AACR2/RDA
punctuation asks for and, in a record that has no punctuation, adds none. New fields copy the
punctuation and indicators of a field of the same rule in the record when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import pymarc
from pymarc import Subfield

from kitab.mappings.crosswalk import Rule
from kitab.mappings.engine import _transform
from kitab.mappings.reverse_sources import Source, pieces_of
from kitab.mappings.transforms import isbd_trim
from kitab.model import Flavour


@dataclass(frozen=True, slots=True)
class Piece:
    """One subfield read by a rule, taken apart around the text the rule maps.

    ``core`` is the text as mapped; ``raw`` is the same stretch of the subfield as written,
    which can also hold non-filing markers (NSB/NSE) that mapping removes.
    """

    position: int
    code: str
    prefix: str
    core: str
    suffix: str
    raw: str


def anatomy(rule: Rule, position: int, sub: Subfield) -> Piece:
    """Split a subfield into prefix, mapped core and suffix (punctuation, qualifiers)."""
    text = sub.value
    core = _transform(rule, text) or ""
    at = text.find(core) if core else -1
    if at >= 0:
        end = at + len(core)
        return Piece(position, sub.code, text[:at], core, text[end:], core)
    kept = [i for i, ch in enumerate(text) if ch not in _NON_FILING]
    plain = "".join(text[i] for i in kept)
    at = plain.find(core) if core else -1
    if at >= 0:  # "\x98Lo \x9cStato": the markers stay inside the raw stretch
        start, end = kept[at], kept[at + len(core) - 1] + 1
        return Piece(position, sub.code, text[:start], core, text[end:], text[start:end])
    if "isbn" in rule.transforms:  # "978-5-9916-1662-1 (pbk.)": the qualifier is the suffix
        end = next((i for i, ch in enumerate(text) if ch not in "0123456789Xx- "), len(text))
        number = text[:end].strip()
        return Piece(position, sub.code, "", number, text[end:], number)
    return Piece(position, sub.code, "", text, "", text)


#: Non-filing markers, which mapping removes (see kitab.mappings.engine).
_NON_FILING = frozenset("\x88\x89\x98\x9c")


def _splice(piece: Piece, core: str) -> str:
    """The raw stretch with only the edited part replaced, so markers outside it stay."""
    if piece.raw == piece.core:
        return core
    old = piece.core
    head = 0
    while head < min(len(old), len(core)) and old[head] == core[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(core)) - head and old[-1 - tail] == core[-1 - tail]:
        tail += 1
    kept = [i for i, ch in enumerate(piece.raw) if ch not in _NON_FILING]
    start = kept[head] if head < len(kept) else len(piece.raw)
    end = kept[len(old) - tail - 1] + 1 if len(old) - tail > 0 else 0
    return piece.raw[:start] + core[head : len(core) - tail] + piece.raw[max(start, end) :]


def _separator(rule: Rule, before: Piece, after: Piece) -> str:
    """The text between two cores in the mapped value, as the engine puts it there."""
    joint = rule.separators.get(after.code, rule.join)
    return joint if rule.per_subfield else before.suffix + joint + after.prefix


def _glue(core: str, suffix: str) -> str:
    if core.endswith(".") and suffix.startswith("."):
        return core + suffix[1:]  # "Smith, J." before a final "." keeps one stop
    return core + suffix


def rewrite(fld: pymarc.Field, source: Source, old: str, new: str) -> bool:
    """Put ``new`` where ``old`` was read from; False when the pieces cannot be told apart."""
    rule = source.rule
    pieces = [anatomy(rule, k, fld.subfields[k]) for k in source.subfields]
    pieces = [p for p in pieces if p.core] or pieces[:1]  # an empty $b adds nothing to the value
    if len(pieces) == 1:
        _set(fld, pieces[0], new)
        return True
    seps = [_separator(rule, a, b) for a, b in pairwise(pieces)]
    rebuilt = pieces[0].core + "".join(s + p.core for s, p in zip(seps, pieces[1:], strict=True))
    if rebuilt != old:
        return False
    cores = _minimal(pieces, seps, old, new) or _by_separators(seps, new)
    for piece, core in zip(pieces, cores, strict=False):
        _set(fld, piece, core)
    dropped = pieces[len(cores) :]
    if dropped:
        remove_subfields(fld, [p.position for p in dropped], {p.position: p for p in dropped})
    return True


def _set(fld: pymarc.Field, piece: Piece, core: str) -> None:
    text = piece.prefix + _glue(_splice(piece, core), piece.suffix)
    fld.subfields[piece.position] = Subfield(piece.code, text)


def _minimal(pieces: list[Piece], seps: list[str], old: str, new: str) -> list[str] | None:
    """New cores when the edit stays inside one piece: the other pieces are left untouched."""
    head = 0
    limit = min(len(old), len(new))
    while head < limit and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < limit - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    start = 0
    for n, piece in enumerate(pieces):
        end = start + len(piece.core)
        if start <= head and len(old) - tail <= end:
            core = new[start : len(new) - (len(old) - end)]
            if not core.strip():
                return None
            return [p.core if i != n else core for i, p in enumerate(pieces)]
        start = end + (len(seps[n]) if n < len(seps) else 0)
    return None


def _by_separators(seps: list[str], new: str) -> list[str]:
    """New cores cut at the same separators, in order; a missing one ends the cutting."""
    cores, at = [], 0
    for sep in seps:
        found = new.find(sep, at)
        if found < 0 or not new[at:found].strip():
            break
        cores.append(new[at:found])
        at = found + len(sep)
    cores.append(new[at:])
    return cores


def remove_subfields(fld: pymarc.Field, positions: list[int], pieces: dict[int, Piece]) -> None:
    """Remove subfields; the punctuation a removed run ended with passes to the one before it."""
    runs: list[list[int]] = []
    for k in sorted(positions):
        if runs and runs[-1][-1] == k - 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    for run in reversed(runs):
        suffix = pieces[run[-1]].suffix
        del fld.subfields[run[0] : run[-1] + 1]
        before = run[0] - 1
        if before < 0 or not fld.subfields[before].code.isalpha():
            continue
        sub = fld.subfields[before]
        core = isbd_trim(sub.value) or ""
        at = sub.value.rfind(core) if core else -1
        if at >= 0:
            fld.subfields[before] = Subfield(sub.code, sub.value[: at + len(core)] + suffix)


#: MARC 21 indicators for a subject field created from a repository value: the thesaurus is
#: not known (ind2 4, "source not specified"); names in inverted order have a comma.
_MARC21_SUBJECT_IND2 = {"600", "610", "611", "630", "650", "651", "655"}
#: MARC 21 fields that end with a full stop under AACR2/RDA punctuation.
_MARC21_FINAL_STOP = {"245", "250", "260", "264", "300", *_MARC21_SUBJECT_IND2}


def new_field(rule: Rule, text: str, template: pymarc.Field | None, flavour: Flavour):
    """A field of ``rule`` holding ``text``, shaped like ``template`` (same rule) if given."""
    shape = [template.subfields[k] for k in pieces_of(rule, template)] if template else []
    last = anatomy(rule, 0, shape[-1]) if shape else None
    cores = _cut(rule, text, [s.code for s in shape])
    subfields = [Subfield(code, core) for code, core in cores]
    if last is not None:
        code, core = cores[-1]
        subfields[-1] = Subfield(code, _glue(core, last.suffix))
    elif flavour is Flavour.MARC21 and rule.tag in _MARC21_FINAL_STOP:
        code, core = cores[-1]
        subfields[-1] = Subfield(code, _glue(core, "."))
    return pymarc.Field(rule.tag, _indicators(rule, template, flavour, text), subfields)


def _cut(rule: Rule, text: str, template_codes: list[str]) -> list[tuple[str, str]]:
    """Subfields for a new value: split at the rule's separators (per-subfield rules only)."""
    codes = rule.subfields
    if rule.split or not rule.per_subfield or len(codes) == 1:
        return [(codes[0], text)]
    marks = {sep: code for code, sep in rule.separators.items()}
    default = rule.join if rule.join.strip() else ""  # a bare space joins words, too
    subdivision = "x" if "x" in codes[1:] else codes[1]
    out: list[tuple[str, str]] = []
    code, at = codes[0], 0
    while True:
        found = [(text.find(s, at), s) for s in [*marks, default] if s and text.find(s, at) > at]
        if not found:
            out.append((code, text[at:]))
            return out
        where, sep = min(found, key=lambda f: (f[0], -len(f[1])))
        out.append((code, text[at:where]))
        n = len(out)
        same_shape = n < len(template_codes) and template_codes[0] == codes[0]
        code = marks.get(sep) or (template_codes[n] if same_shape else subdivision)
        at = where + len(sep)


def _indicators(
    rule: Rule, template: pymarc.Field | None, flavour: Flavour, text: str
) -> pymarc.Indicators:
    if template is not None:
        return pymarc.Indicators(template.indicator1, template.indicator2)
    ind = [
        allowed if allowed is not None and len(allowed) == 1 else " "
        for allowed in (rule.ind1, rule.ind2)
    ]
    if flavour is Flavour.MARC21 and rule.tag in _MARC21_SUBJECT_IND2:
        if rule.ind2 is None:
            ind[1] = "4"
        if rule.ind1 is None and rule.tag == "600":
            ind[0] = "1" if "," in text else "0"
        elif rule.ind1 is None and rule.tag in ("610", "611"):
            ind[0] = "2"
    return pymarc.Indicators(ind[0], ind[1])
