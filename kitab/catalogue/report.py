"""What a read found besides records: problems and a summary a cataloguer can act on.

Problems are data, not log lines: the library never prints, and the command line decides how to
show them (text or ``--json``). Each one names the file, the record's ordinal and byte offset (or
XML line) and, when it could be read, the record's control number, so the cataloguer can go
straight to the record in the library system.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from kitab.model import SourcePosition


class Severity(StrEnum):
    ERROR = "error"  # the record was skipped (or, for `check`, must be fixed)
    WARNING = "warning"  # the record came through, but something was repaired or guessed


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one record (or with a whole file, then ordinal is 0)."""

    position: SourcePosition
    reason: str
    severity: Severity = Severity.ERROR
    key: str | None = None  # control number / record key, when it could be read

    def __str__(self) -> str:
        who = f" [{self.key}]" if self.key else ""
        return f"{self.position}{who}: {self.severity}: {self.reason}"

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["severity"] = str(self.severity)
        return data


@dataclass(slots=True)
class ReadSummary:
    """Counts over a whole read. Sizes stay bounded: counters keyed by name, not by record."""

    files: int = 0
    records: int = 0  # records delivered
    skipped: int = 0  # records reported as errors and not delivered
    warnings: int = 0
    flavours: Counter[str] = field(default_factory=Counter)  # label → records
    encodings: Counter[str] = field(default_factory=Counter)  # usual name → records
    notes: list[str] = field(default_factory=list)  # detection decisions, one per file and kind

    def as_dict(self) -> dict[str, object]:
        return {
            "files": self.files,
            "records": self.records,
            "skipped": self.skipped,
            "warnings": self.warnings,
            "flavours": dict(self.flavours),
            "encodings": dict(self.encodings),
            "notes": list(self.notes),
        }


@dataclass(slots=True)
class ReadLog:
    """Where the file readers put what they find; the reader exposes it to its caller."""

    problems: list[Problem] = field(default_factory=list)
    summary: ReadSummary = field(default_factory=ReadSummary)

    def error(self, position: SourcePosition, reason: str, key: str | None = None) -> None:
        """A record that could not be read: reported and skipped."""
        self.problems.append(Problem(position, reason, Severity.ERROR, key))
        self.summary.skipped += 1

    def file_error(self, position: SourcePosition, reason: str) -> None:
        """A whole file (or the rest of one) that could not be read."""
        self.problems.append(Problem(position, reason, Severity.ERROR))

    def warn(self, position: SourcePosition, reason: str, key: str | None = None) -> None:
        self.problems.append(Problem(position, reason, Severity.WARNING, key))
        self.summary.warnings += 1

    def note(self, text: str) -> None:
        self.summary.notes.append(text)
