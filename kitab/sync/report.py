"""Run reports: what a push (or relink) did, record by record, kept as JSON in the state folder.

A report names every record by control number and file, so that the person reading it at the
library can find the record in the library system without kitab's help.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitab.model import Value
from kitab.sync.merge import Conflict
from kitab.sync.state import utcnow


def _values(values: list[Value]) -> list[str]:
    return [v.value if not v.language else f"{v.value} @{v.language}" for v in values]


@dataclass
class RunReport:
    job: str
    target: str
    run_id: int | None = None
    started_at: str = field(default_factory=utcnow)
    finished_at: str | None = None
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    unclaimed_scans: list[str] = field(default_factory=list)
    missing_scans: list[dict[str, Any]] = field(default_factory=list)
    files_left: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    path: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def outcome(self) -> str:
        if self.counts["failed"] or self.problems:
            return "failed"
        if self.conflicts:
            return "conflicts"
        return "ok"

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def fail(self, key: str, label: str, message: str) -> None:
        with self._lock:
            self.counts["failed"] += 1
            self.failures.append({"key": key, "record": label, "error": message})

    def conflict(self, key: str, label: str, conflict: Conflict) -> None:
        with self._lock:
            self.conflicts.append(
                {
                    "key": key,
                    "record": label,
                    "field": conflict.field,
                    "base": _values(conflict.base),
                    "catalogue": _values(conflict.catalogue),
                    "repository": _values(conflict.repository),
                }
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "target": self.target,
            "run": self.run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "outcome": self.outcome,
            "counts": dict(sorted(self.counts.items())),
            "failures": self.failures,
            "conflicts": self.conflicts,
            "problems": self.problems,
            "unclaimed_scans": self.unclaimed_scans,
            "missing_scans": self.missing_scans,
            "files_left_in_repository": self.files_left,
            "notes": self.notes,
            "report": str(self.path) if self.path else None,
        }

    def save(self, folder: Path) -> Path:
        """Write the report atomically into ``folder`` and remember where."""
        self.finished_at = self.finished_at or utcnow()
        folder.mkdir(parents=True, exist_ok=True)
        stamp = self.started_at.replace(":", "").replace("-", "")[:15]
        self.path = folder / f"{self.job}-{self.target}-{stamp}-run{self.run_id or 0}.json"
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".report-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self.to_dict(), out, ensure_ascii=False, indent=2)
        os.replace(temp, self.path)
        return self.path
