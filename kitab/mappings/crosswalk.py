"""Crosswalk files: declarative MARC → DC rules, loaded, checked and compiled once.

A crosswalk is a TOML file of ``[[map]]`` rules. Each rule names where a value comes from (tag,
indicator filter, subfields or character positions) and where it goes (a qualified DC field),
plus how the pieces are joined and cleaned. Nothing in a rule is code, so that a library can
override a built-in crosswalk with its own file, and so that every rule can later be read
backwards to write a repository edit into the MARC field and subfields it came from.

Mistakes in a file are reported with the file and line, because the person fixing them is a
cataloguer with a text editor, not a programmer with a traceback.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from kitab.mappings.naming import dcterms_name
from kitab.mappings.transforms import TRANSFORMS, Transform
from kitab.model import Flavour

BUILTIN_PACKAGE = "kitab.mappings"
BUILTIN_DIR = "crosswalks"
DEFAULT_FOR_FLAVOUR = {Flavour.MARC21: "marc21-dc", Flavour.UNIMARC: "unimarc-dc"}

_TOP_KEYS = {"name", "flavour", "description", "extends", "drop", "linked-880", "map"}
_RULE_KEYS = {
    "id",
    "tag",
    "ind1",
    "ind2",
    "subfields",
    "positions",
    "to",
    "join",
    "separators",
    "per-subfield",
    "split",
    "transforms",
    "values",
    "language",
    "language-subfield",
    "prefer",
    "when-empty",
}
_TARGET = re.compile(r"dc\.[a-z]+(\.[a-zA-Z]+)?")
_CODE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789")
_INDICATOR_CHARS = set(" #|0123456789abcdefghijklmnopqrstuvwxyz")


class CrosswalkError(ValueError):
    """A crosswalk file that cannot be used; ``str()`` reads ``file:line: what is wrong``."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source, self.line, self.message = source, line, message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class Rule:
    """One mapping from a MARC field to a DC field. Every part is reversible data."""

    tag: str
    to: str
    id: str | None = None
    subfields: str = ""
    ind1: str | None = None  # allowed indicator characters; None accepts any
    ind2: str | None = None
    positions: tuple[int, int] | None = None  # inclusive, 0-based, as MARC documentation counts
    join: str = " "
    separators: dict[str, str] = field(default_factory=dict)  # code → text put before it
    per_subfield: bool = False  # transforms apply to each subfield before joining
    split: bool = False  # each subfield is a value of its own
    transforms: tuple[str, ...] = ()
    values: dict[str, str] | None = None  # coded value → text; codes not listed give nothing
    language: str | None = None  # "record": tag values with the record's language
    language_subfield: str | None = None  # tag values with the language code in this subfield
    prefer: dict[str, str] = field(default_factory=dict)  # use $value instead of $key if present
    when_empty: bool = False  # only when no other rule filled the target field
    line: int | None = None  # where the rule was written, for messages about it
    functions: tuple[Transform, ...] = field(init=False, repr=False, compare=False)
    is_control: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Resolved once here so that mapping a record never looks a transform up by name.
        object.__setattr__(self, "functions", tuple(TRANSFORMS[n] for n in self.transforms))
        object.__setattr__(self, "is_control", self.tag == "LDR" or self.tag < "010")


@dataclass(frozen=True, slots=True)
class Crosswalk:
    """A checked crosswalk: its rules in file order, and the same rules indexed by tag."""

    name: str
    flavour: Flavour
    rules: tuple[Rule, ...]
    source: str
    linked_880: bool = True  # MARC 21: an 880 follows the rules of the field its $6 links to
    by_tag: dict[str, tuple[Rule, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compiled once: mapping a record looks each of its fields up here and nowhere else.
        index: dict[str, list[Rule]] = {}
        for rule in self.rules:
            index.setdefault(rule.tag, []).append(rule)
        object.__setattr__(self, "by_tag", {tag: tuple(r) for tag, r in index.items()})


def builtin_names() -> list[str]:
    """The crosswalks shipped with kitab, by the names ``--crosswalk`` accepts."""
    folder = resources.files(BUILTIN_PACKAGE).joinpath(BUILTIN_DIR)
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_crosswalk(spec: str | Path) -> Crosswalk:
    """A built-in crosswalk by name (``marc21-dc``) or a library's own file by path."""
    if isinstance(spec, str) and spec in builtin_names():
        return _load_builtin(spec)
    path = Path(spec)
    if not path.is_file():
        known = ", ".join(builtin_names())
        raise CrosswalkError(str(spec), None, f"no such crosswalk file or name (built-in: {known})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CrosswalkError(str(path), None, f"cannot read: {exc}") from exc
    return parse_crosswalk(text, str(path), base_dir=path.parent)


def default_crosswalk(flavour: Flavour) -> Crosswalk:
    """The built-in crosswalk for records of this flavour."""
    return _load_builtin(DEFAULT_FOR_FLAVOUR[flavour])


@lru_cache(maxsize=8)
def _load_builtin(name: str) -> Crosswalk:
    text = resources.files(BUILTIN_PACKAGE).joinpath(BUILTIN_DIR, f"{name}.toml").read_text("utf-8")
    return parse_crosswalk(text, f"{name}.toml (built-in)", base_dir=None)


def parse_crosswalk(text: str, source: str, base_dir: Path | None = None) -> Crosswalk:
    """Check a crosswalk file's text and compile it, resolving ``extends`` first."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        raise CrosswalkError(source, line, f"not valid TOML: {_toml_reason(exc)}") from exc
    lines = _Lines(text, source)
    for key in data:
        if key not in _TOP_KEYS:
            raise lines.error(
                None, key, f"unknown key {key!r} (expected one of: {', '.join(sorted(_TOP_KEYS))})"
            )
    base: Crosswalk | None = None
    if "extends" in data:
        parent = data["extends"]
        if not isinstance(parent, str):
            raise lines.error(None, "extends", "extends must be a crosswalk name or path")
        try:
            base = _load_parent(parent, base_dir)
        except CrosswalkError as exc:
            raise lines.error(None, "extends", f"cannot extend {parent!r}: {exc}") from exc
    flavour = _flavour(data, base, lines)
    rules = [_rule(raw, i, lines) for i, raw in enumerate(_rule_tables(data, lines))]
    dropped = data.get("drop", [])
    if not isinstance(dropped, list) or not all(isinstance(d, str) for d in dropped):
        raise lines.error(None, "drop", "drop must be a list of rule ids")
    merged = _merge(base.rules if base else (), rules, dropped, lines)
    linked = data.get("linked-880", base.linked_880 if base else True)
    if not isinstance(linked, bool):
        raise lines.error(None, "linked-880", "linked-880 must be true or false")
    name = data.get("name", Path(source).stem if base is None else f"{base.name}+local")
    if not isinstance(name, str):
        raise lines.error(None, "name", "name must be text")
    return Crosswalk(name, flavour, tuple(merged), source, linked)


def _load_parent(parent: str, base_dir: Path | None) -> Crosswalk:
    if parent in builtin_names():
        return _load_builtin(parent)
    path = Path(parent)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return load_crosswalk(path)


def _flavour(data: dict[str, Any], base: Crosswalk | None, lines: _Lines) -> Flavour:
    raw = data.get("flavour")
    if raw is None:
        if base is None:
            raise lines.error(None, None, 'missing flavour = "marc21" or "unimarc"')
        return base.flavour
    try:
        flavour = Flavour(raw)
    except ValueError:
        message = f'flavour must be "marc21" or "unimarc", not {raw!r}'
        raise lines.error(None, "flavour", message) from None
    if base is not None and flavour is not base.flavour:
        raise lines.error(None, "flavour", f"flavour {raw!r} differs from {base.name!r}")
    return flavour


def _rule_tables(data: dict[str, Any], lines: _Lines) -> list[dict[str, Any]]:
    tables = data.get("map", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise lines.error(None, "map", "map must be written as [[map]] tables")
    return tables


def _merge(
    base: tuple[Rule, ...], own: list[Rule], dropped: list[str], lines: _Lines
) -> list[Rule]:
    """Base rules minus dropped ids, own rules replacing same-id base rules in place."""
    known = {rule.id for rule in base if rule.id}
    for rule_id in dropped:
        if rule_id not in known:
            raise lines.error(None, "drop", f"drop names rule {rule_id!r}, which the base lacks")
    replacing = {rule.id: rule for rule in own if rule.id in known}
    merged = [replacing.get(rule.id, rule) for rule in base if rule.id not in dropped]
    merged.extend(rule for rule in own if rule.id not in known)
    seen: set[str] = set()
    for rule in own:
        if rule.id and rule.id in seen:
            raise CrosswalkError(lines.source, rule.line, f"rule id {rule.id!r} used twice")
        if rule.id:
            seen.add(rule.id)
    return merged


def _rule(raw: dict[str, Any], index: int, lines: _Lines) -> Rule:
    def fail(key: str | None, message: str) -> CrosswalkError:
        return lines.error(index, key, f"rule {index + 1}: {message}")

    for key in raw:
        if key not in _RULE_KEYS:
            raise fail(key, f"unknown key {key!r}")
    tag = raw.get("tag")
    if not isinstance(tag, str) or not (tag == "LDR" or (len(tag) == 3 and tag.isdigit())):
        raise fail("tag", f'tag must be three digits or "LDR", not {tag!r}')
    target = raw.get("to")
    if not isinstance(target, str) or not _TARGET.fullmatch(target):
        raise fail("to", f'to must be a DC field name like "dc.title", not {target!r}')
    try:
        dcterms_name(target)
    except ValueError:
        raise fail("to", f"{target!r} is not a Dublin Core element") from None
    control = tag == "LDR" or tag < "010"
    subfields = _text(raw, "subfields", "", fail)
    bad = sorted(set(subfields) - _CODE_CHARS)
    if bad:
        raise fail("subfields", f"not subfield codes: {''.join(bad)!r}")
    if control and subfields:
        raise fail("subfields", f"{tag} is a control field and has no subfields; use positions")
    if not control and not subfields:
        raise fail("subfields", f"data field {tag} needs subfields")
    if control and ("ind1" in raw or "ind2" in raw):
        raise fail("ind1" if "ind1" in raw else "ind2", f"{tag} is a control field")
    transforms = raw.get("transforms", [])
    if not isinstance(transforms, list) or not all(isinstance(t, str) for t in transforms):
        raise fail("transforms", "transforms must be a list of names")
    for name in transforms:
        if name not in TRANSFORMS:
            raise fail(
                "transforms", f"unknown transform {name!r} (known: {', '.join(sorted(TRANSFORMS))})"
            )
    language = raw.get("language")
    if language not in (None, "record"):
        raise fail("language", f'language can only be "record", not {language!r}')
    language_subfield = raw.get("language-subfield")
    if language_subfield is not None and (
        not isinstance(language_subfield, str) or language_subfield not in _CODE_CHARS
    ):
        raise fail("language-subfield", "language-subfield must be one subfield code")
    rule_id = raw.get("id")
    if rule_id is not None and not isinstance(rule_id, str):
        raise fail("id", "id must be text")
    return Rule(
        tag=tag,
        to=target,
        id=rule_id,
        subfields=subfields,
        ind1=_indicator(raw, "ind1", fail),
        ind2=_indicator(raw, "ind2", fail),
        positions=_positions(raw, fail),
        join=_text(raw, "join", " ", fail),
        separators=_code_table(raw, "separators", fail, codes_as_values=False),
        per_subfield=_flag(raw, "per-subfield", fail),
        split=_flag(raw, "split", fail),
        transforms=tuple(transforms),
        values=_values(raw, fail),
        language=language,
        language_subfield=language_subfield,
        prefer=_code_table(raw, "prefer", fail, codes_as_values=True),
        when_empty=_flag(raw, "when-empty", fail),
        line=lines.rule_line(index),
    )


def _text(raw: dict[str, Any], key: str, default: str, fail: Any) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise fail(key, f"{key} must be text")
    return value


def _flag(raw: dict[str, Any], key: str, fail: Any) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise fail(key, f"{key} must be true or false")
    return value


def _indicator(raw: dict[str, Any], key: str, fail: Any) -> str | None:
    if key not in raw:
        return None
    value = raw[key]
    if not isinstance(value, str) or not value or set(value) - _INDICATOR_CHARS:
        raise fail(key, f'{key} lists the allowed indicator characters ("#" or " " for blank)')
    return value.replace("#", " ")


def _positions(raw: dict[str, Any], fail: Any) -> tuple[int, int] | None:
    if "positions" not in raw:
        return None
    value = raw["positions"]
    start, _, end = str(value).partition("-")
    if not start.isdigit() or (end and not end.isdigit()):
        raise fail("positions", f'positions must look like "35-37" or "6", not {value!r}')
    first, last = int(start), int(end or start)
    if last < first:
        raise fail("positions", f"positions {value!r} end before they start")
    return first, last


def _code_table(raw: dict[str, Any], key: str, fail: Any, codes_as_values: bool) -> dict[str, str]:
    table = raw.get(key, {})
    if not isinstance(table, dict):
        raise fail(key, f"{key} must be a table of subfield codes")
    for code, value in table.items():
        if code not in _CODE_CHARS or not isinstance(value, str):
            raise fail(key, f"{key}: {code!r} = {value!r} is not a subfield code and text")
        if codes_as_values and value not in _CODE_CHARS:
            raise fail(key, f"{key}: {value!r} is not a subfield code")
    return dict(table)


def _values(raw: dict[str, Any], fail: Any) -> dict[str, str] | None:
    if "values" not in raw:
        return None
    table = raw["values"]
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise fail("values", "values must be a table of code = text")
    return dict(table)


_HEADER = re.compile(r"\s*\[\[\s*map\s*\]\]")
_ANY_HEADER = re.compile(r"\s*\[")


class _Lines:
    """Finds the line a rule or key was written on; tomllib keeps no positions for values."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.lines = text.splitlines()
        self.headers = [n for n, line in enumerate(self.lines) if _HEADER.match(line)]

    def rule_line(self, index: int) -> int | None:
        return self.headers[index] + 1 if index < len(self.headers) else None

    def error(self, index: int | None, key: str | None, message: str) -> CrosswalkError:
        """An error placed on the key's line inside rule ``index`` (None: the top of the file)."""
        if index is not None and index < len(self.headers):
            first, line = self.headers[index] + 1, self.headers[index] + 1
        else:
            first, line = 0, None
        if key is not None:
            pattern = re.compile(rf"\s*\"?{re.escape(key)}\"?\s*=")
            for n in range(first, len(self.lines)):
                if _ANY_HEADER.match(self.lines[n]):
                    break
                if pattern.match(self.lines[n]):
                    line = n + 1
                    break
        return CrosswalkError(self.source, line, message)


def _line_from_message(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None


def _toml_reason(exc: tomllib.TOMLDecodeError) -> str:
    reason = getattr(exc, "msg", None) or str(exc)
    return re.sub(r"\s*\(at line \d+, column \d+\)", "", reason)
