"""`kitab check`: the validation a cataloguer can act on, record by record.

Errors are what would make a record useless or harmful downstream (no title, a key shared by two
records, text that could not be decoded, a missing required field); warnings are oddities worth a
look. Reading problems (skipped records, repairs, charset guesses) are part of the report too.
Duplicate detection keeps only the keys in a set, so memory grows with the number of records
but never with their size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from kitab.catalogue.reader import Catalogue
from kitab.catalogue.report import Problem, Severity
from kitab.model import Flavour, Record

_MARC21_STATUS = set("acdnp")
_UNIMARC_STATUS = set("cdnop")


@dataclass(slots=True)
class CheckReport:
    records: int = 0
    findings: list[Problem] = field(default_factory=list)  # check findings, then read problems

    @property
    def errors(self) -> int:
        return sum(1 for p in self.findings if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for p in self.findings if p.severity is Severity.WARNING)


def _title(record: Record) -> str:
    tag = "245" if record.flavour is Flavour.MARC21 else "200"
    for found in record.marc.get_fields(tag):
        for sub in found.subfields:
            if sub.code == "a" and sub.value.strip():
                return sub.value
    return ""


def _record_findings(record: Record) -> Iterator[tuple[Severity, str]]:
    marc = record.marc
    unimarc = record.flavour is Flavour.UNIMARC
    if not _title(record):
        yield Severity.ERROR, f"no title ({'200' if unimarc else '245'}$a)"
    for found in marc.fields:
        text = found.data if found.is_control_field() else found.value()
        if text and "\ufffd" in text:
            yield Severity.ERROR, f"undecodable text in field {found.tag} (U+FFFD)"
    if not marc.get_fields("001"):
        yield Severity.ERROR, "missing required field 001"
    required = "100" if unimarc else "008"
    fields = marc.get_fields(required)
    if not fields:
        yield Severity.ERROR, f"missing required field {required}"
    elif not unimarc and len(fields[0].data or "") != 40:
        yield Severity.WARNING, f"008 is {len(fields[0].data or '')} characters, not 40"
    elif unimarc and len(fields[0].get("a") or "") < 36:
        yield Severity.WARNING, "100$a is shorter than its 36 fixed positions"
    status = str(marc.leader)[5]
    if status not in (_UNIMARC_STATUS if unimarc else _MARC21_STATUS):
        yield Severity.WARNING, f"leader/05 record status {status!r} is not a valid code"


def check_catalogue(catalogue: Catalogue) -> CheckReport:
    """Read every record, check it, and return the findings followed by the read problems."""
    report = CheckReport()
    seen: set[str] = set()
    for record in catalogue:
        report.records += 1
        for severity, reason in _record_findings(record):
            report.findings.append(Problem(record.source, reason, severity, record.key))
        if record.key in seen:
            reason = f"duplicate key {record.key}: another record earlier has the same one"
            report.findings.append(Problem(record.source, reason, Severity.ERROR, record.key))
        seen.add(record.key)
    report.findings.extend(catalogue.problems)
    return report
