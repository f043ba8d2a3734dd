"""Matching the digitisation desk's scans to catalogue records.

Scans arrive as files named after something in the record (the control number, the ISBN, an
inventory number) and as folders of page images. A folder is one publication whose pages sort in
natural order (page2 before page10); loose files that share a name before a page number
(``000123_001.tif``, ``000123_002.tif``) are one publication too. Names are compared after
dropping everything but letters and digits, so ``RU\\NLR\\bibl\\1234`` in 001 finds
``RU_NLR_bibl_1234.pdf`` and ``978-5-9916-1234-5`` finds ``9785991612345.pdf``.

A record can also declare its files in 856 $u (a relative path or ``file:`` URL); a declared file
that is not there is reported, as is every scan that no record claimed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pymarc

from kitab.model import Flavour, Record

SCAN_SUFFIXES = frozenset(
    {".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png", ".jp2", ".gif", ".djvu", ".webp"}
)
_PAGE_SUFFIX = re.compile(r"^(?P<base>.+?)[ _.\-](?:p|pg|page|s|l|f)?0*(?P<page>\d{1,5})$", re.I)
_DIGITS = re.compile(r"(\d+)")
_STRATEGY_FIELD = re.compile(r"^field:(\d{3})\$([0-9a-z])$")


def normalise_name(text: str) -> str:
    """Letters and digits only, case-folded: the form in which names are compared."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def natural_key(path: Path) -> list[object]:
    """Sort key putting page2 before page10."""
    return [int(part) if part.isdigit() else part.casefold() for part in _DIGITS.split(path.name)]


def isbn_forms(raw: str) -> set[str]:
    """An ISBN as it may appear in a file name: ISBN-13 and, where one exists, ISBN-10."""
    digits = "".join(ch for ch in raw.split("(")[0].upper() if ch.isdigit() or ch == "X")
    forms = set()
    if len(digits) == 10:
        forms.add(digits)
        core = "978" + digits[:9]
        check = (10 - sum((1, 3)[i % 2] * int(d) for i, d in enumerate(core)) % 10) % 10
        forms.add(core + str(check))
    elif len(digits) == 13 and digits[:12].isdigit():
        forms.add(digits)
        if digits.startswith("978"):
            core = digits[3:12]
            total = sum((10 - i) * int(d) for i, d in enumerate(core))
            check = (11 - total % 11) % 11
            forms.add(core + ("X" if check == 10 else str(check)))
    return {normalise_name(f) for f in forms}


@dataclass
class ScanUnit:
    """One publication's scans: a single file, a group of page files, or a folder of pages."""

    name: str  # as found on disk (file stem, shared base name, folder name)
    files: list[Path]
    claimed: bool = False


@dataclass
class ScanMatch:
    """What the scans folder holds for one record."""

    files: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # declared in 856 but not on disk


class ScanIndex:
    """An index of a scans folder, built once per run (file names only, no file is opened)."""

    def __init__(self, root: Path, strategies: Iterable[str] = ("control-number",)) -> None:
        self.root = root.resolve()
        self.strategies = tuple(strategies)
        self._exact: dict[str, ScanUnit] = {}
        self._groups: dict[str, ScanUnit] = {}
        self._by_path: dict[Path, ScanUnit] = {}
        if self.root.is_dir():
            self._build()

    def _build(self) -> None:
        loose: list[Path] = []
        for path in sorted(self.root.rglob("*"), key=natural_key):
            if path.name.startswith(".") or not path.is_file():
                continue
            if path.suffix.lower() not in SCAN_SUFFIXES:
                continue
            if path.parent == self.root:
                loose.append(path)
                continue
            folder = path.parent
            unit = self._exact.get(normalise_name(folder.name))
            if unit is None or unit.files[0].parent != folder:
                unit = ScanUnit(folder.name, [])
                self._exact.setdefault(normalise_name(folder.name), unit)
            unit.files.append(path)
            self._by_path[path] = unit
        groups: dict[str, list[Path]] = {}
        for path in loose:
            page = _PAGE_SUFFIX.match(path.stem)
            if page:
                groups.setdefault(page["base"], []).append(path)
            unit = ScanUnit(path.stem, [path])
            self._exact.setdefault(normalise_name(path.stem), unit)
            self._by_path[path] = unit
        for base, files in groups.items():
            if len(files) > 1 or normalise_name(base) not in self._exact:
                self._groups.setdefault(normalise_name(base), ScanUnit(base, files))
        for unit in (*self._exact.values(), *self._groups.values()):
            unit.files.sort(key=natural_key)

    def _values(self, record: Record) -> list[str]:
        marc = record.marc
        values: list[str] = []
        for strategy in self.strategies:
            if strategy == "control-number":
                if record.control_number:
                    values.append(normalise_name(record.control_number))
                values.append(normalise_name(record.key))
            elif strategy == "isbn":
                tag = "010" if record.flavour is Flavour.UNIMARC else "020"
                for isbn in _subfields(marc, tag, "a"):
                    values.extend(sorted(isbn_forms(isbn)))
            elif match := _STRATEGY_FIELD.match(strategy):
                values.extend(normalise_name(v) for v in _subfields(marc, match[1], match[2]))
        return [v for v in dict.fromkeys(values) if v]

    def match(self, record: Record) -> ScanMatch:
        """The scans of one record (claiming them), and the files it declares but lacks."""
        result = ScanMatch()
        for value in self._values(record):
            unit = self._exact.get(value) or self._groups.get(value)
            if unit is not None:
                result.files.extend(p for p in unit.files if p not in result.files)
                self._claim(unit)
        if "856" in self.strategies:
            for link in _subfields(record.marc, "856", "u"):
                path = self._local_path(link)
                if path is None:
                    continue
                if path.is_file():
                    if path not in result.files:
                        result.files.append(path)
                    if path in self._by_path:
                        self._claim(self._by_path[path])
                else:
                    result.missing.append(link)
        return result

    def _claim(self, unit: ScanUnit) -> None:
        unit.claimed = True
        for path in unit.files:
            owner = self._by_path.get(path)
            if owner is not None:
                owner.claimed = True

    def _local_path(self, link: str) -> Path | None:
        """A declared scan inside the scans folder, or None for a web link."""
        parts = urlsplit(link)
        if parts.scheme in ("http", "https", "ftp", "mailto", "urn", "doi", "hdl"):
            return None
        relative = unquote(parts.path if parts.scheme == "file" else link).lstrip("/")
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root):
            return None
        return candidate

    def unclaimed(self) -> list[Path]:
        """Scans no record matched, in natural order: listed in the run report."""
        return sorted(
            (path for path, unit in self._by_path.items() if not unit.claimed), key=natural_key
        )


def _subfields(marc: pymarc.Record, tag: str, code: str) -> list[str]:
    return [value for f in marc.get_fields(tag) for value in f.get_subfields(code)]
