"""open_catalogue: one iterable over every record of a file or a folder of exports.

The format is chosen by content (an XML start, or ISO 2709's digits and terminators), never by
the file's extension. Records come out decoded to NFC Unicode as :class:`kitab.model.Record`;
everything that went wrong or was guessed is in ``problems`` and ``summary`` once the iteration
is over. For MARC 21 the decoded record's leader/09 is set to ``a`` (it is Unicode now); the
original bytes stay in ``Record.raw``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from kitab.catalogue.charsets import canonical_name
from kitab.catalogue.keys import parse_key_field
from kitab.catalogue.marcxml import read_marcxml
from kitab.catalogue.options import ReadOptions
from kitab.catalogue.read_iso import read_iso
from kitab.catalogue.report import Problem, ReadLog, ReadSummary
from kitab.model import Record, SourcePosition

_SNIFF = 4096


def _kind(head: bytes) -> str | None:
    """ "xml", "iso2709" or None, from a file's first bytes."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return "xml"
    if text[:5].isdigit() or b"\x1d" in head or b"\x1e" in head:
        return "iso2709"
    return None


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return [path]


class Catalogue:
    """Iterate for records; then read ``problems`` and ``summary``. Iterable once."""

    def __init__(self, path: Path, options: ReadOptions) -> None:
        self.path = path
        self.options = options
        self._log = ReadLog()

    @property
    def problems(self) -> list[Problem]:
        return self._log.problems

    @property
    def summary(self) -> ReadSummary:
        return self._log.summary

    def __iter__(self) -> Iterator[Record]:
        for file in _files(self.path):
            yield from self._read_file(file)

    def _read_file(self, path: Path) -> Iterator[Record]:
        name = str(path)
        self._log.summary.files += 1
        try:
            with path.open("rb") as stream:
                kind = _kind(stream.read(_SNIFF))
                stream.seek(0)
                if kind == "iso2709":
                    yield from read_iso(stream, name, self.options, self._log)
        except OSError as err:
            self._log.file_error(SourcePosition(name, 0, 0), f"cannot read: {err.strerror}")
            return
        if kind == "xml":
            yield from read_marcxml(path, name, self.options, self._log)
        elif kind is None:
            self._log.file_error(
                SourcePosition(name, 0, 0), "not a MARC file (neither ISO 2709 nor XML)"
            )


def open_catalogue(path: str | Path, options: ReadOptions | None = None) -> Catalogue:
    """A reader over a file or a folder of exports (every file in it, sorted, hidden skipped).

    Raises ValueError at once for options that cannot work (an unknown encoding name, a
    malformed key field) and FileNotFoundError for a missing path, so a typo fails before any
    record is read.
    """
    options = options or ReadOptions()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if options.encoding:
        options = replace(options, encoding=canonical_name(options.encoding))
    if options.key_field:
        parse_key_field(options.key_field)
    return Catalogue(path, options)
